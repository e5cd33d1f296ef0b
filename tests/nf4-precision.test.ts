// Which base precision 'auto' picks and the base memory the UI shows, from config.json alone:
// stories260K (0.9 MB of linear weights) stays fp32; SmolLM2-135M-sized models go NF4, whose
// linear bytes are at most 0.15 of fp32 (the target) with or without double quantization.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../src/model/config';
import { baseMemory, defaultPrecision, NF4_AUTO_MIN_LINEAR_BYTES } from '../src/model/load';

const STORIES = JSON.parse(readFileSync(new URL('../../shared/models/stories260K/config.json', import.meta.url), 'utf8'));
const llama = (hidden: number, layers: number, inter: number, heads: number, kv: number, vocab: number, tied = true) => ({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: hidden, intermediate_size: inter, num_hidden_layers: layers,
  num_attention_heads: heads, num_key_value_heads: kv, vocab_size: vocab, max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: tied,
});

describe('base precision and memory', () => {
  it.each([
    // name, config, expected default, expected fp32 linear bytes
    ['stories260K', STORIES, 'fp32', 906_240],
    ['SmolLM2-135M shape', llama(576, 30, 1536, 9, 3, 49152), 'nf4', 30 * 4 * (576 * 576 * 2 + 2 * 192 * 576 + 3 * 576 * 1536)],
    ['just under the threshold', llama(128, 4, 448, 4, 4, 512), 'fp32', 4 * 4 * (4 * 128 * 128 + 3 * 128 * 448)],
    ['just over the threshold', llama(128, 5, 448, 4, 4, 512), 'nf4', 5 * 4 * (4 * 128 * 128 + 3 * 128 * 448)],
  ] as const)('%s: auto picks %s', (_name, json, precision, linearFp32) => {
    const cfg = parseConfig(json);
    const m = baseMemory(cfg);
    expect(m.linearFp32Bytes).toBe(linearFp32);
    expect(defaultPrecision(cfg)).toBe(precision);
    expect(m.linearFp32Bytes > NF4_AUTO_MIN_LINEAR_BYTES).toBe(precision === 'nf4');
    expect(m.linearNf4Bytes / m.linearFp32Bytes).toBeLessThanOrEqual(0.15);
    expect(baseMemory(cfg, { doubleQuant: true }).linearNf4Bytes).toBeLessThan(m.linearNf4Bytes);
  });

  it('counts the untied output head as other (fp32) memory', () => {
    const tied = baseMemory(parseConfig(llama(64, 2, 172, 8, 4, 512, true)));
    const untied = baseMemory(parseConfig(llama(64, 2, 172, 8, 4, 512, false)));
    expect(untied.otherBytes - tied.otherBytes).toBe(512 * 64 * 4);
    expect(untied.linearFp32Bytes).toBe(tied.linearFp32Bytes);
  });
});
