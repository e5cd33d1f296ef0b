// The GGUF writer against hand-worked bytes and its own reader: Q8_0 blocks as ggml-quants.c
// computes them, the llama q/k permutation (HF rotate-half -> GGML interleaved pairs), tensor
// types as the converter chooses them, and a header + data layout that parses back.
import { describe, it, expect } from 'vitest';
import { GgmlType } from './constants';
import { quantizeQ8_0 } from './quant';
import { permuteRows, tensorType, ggufTensorName } from './arch';
import { ggufHeader, kv, writeGguf, type GgufMetadata } from './writer';
import { parseGguf, readGgufTensor } from './reader';
import { MemorySink } from '../sink';
import { halfToFloat } from '../../model/safetensors';

describe('Q8_0', () => {
  it('stores d = max|x| / 127 as f16 and codes rounded half away from zero', () => {
    const x = new Float32Array(32);
    x[0] = 1.27; // amax: d = 0.01
    x[1] = -0.005; // exactly half a step: away from zero = -1 (before float32 rounding of x/d)
    x[2] = 0.634;
    x[3] = -1.27;
    const q = quantizeQ8_0(x);
    expect(q.byteLength).toBe(34);
    const view = new DataView(q.buffer);
    expect(halfToFloat(view.getUint16(0, true))).toBeCloseTo(0.01, 4);
    const d = Math.fround(Math.fround(1.27) / 127);
    const id = Math.fround(1 / d);
    const expected = [1.27, -0.005, 0.634, -1.27].map((v) => {
      const s = Math.fround(Math.fround(v) * id);
      return Math.sign(s) * Math.floor(Math.abs(s) + 0.5);
    });
    expect([0, 1, 2, 3].map((i) => view.getInt8(2 + i))).toEqual(expected);
    expect(expected).toEqual([127, -1, 63, -127]);
  });

  it('an all-zero block has d = 0 and zero codes', () => {
    expect([...quantizeQ8_0(new Float32Array(32))].every((b) => b === 0)).toBe(true);
  });
});

describe('llama q/k permutation', () => {
  it('interleaves the two rotary halves of each head: row h*D + 2j + s <- row h*D + s*D/2 + j', () => {
    // 2 heads of D = 4, one column: rows are their own index.
    const x = Float32Array.from({ length: 8 }, (_, i) => i);
    expect([...permuteRows(x, 8, 2)]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });

  it('moves whole rows of a matrix', () => {
    const x = Float32Array.from({ length: 4 * 3 }, (_, i) => i); // [4 rows, 3 cols], one head
    expect([...permuteRows(x, 4, 1)]).toEqual([0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]);
  });
});

describe('tensor names and types', () => {
  it.each([
    ['llama', 'model.embed_tokens.weight', 'token_embd.weight'],
    ['llama', 'model.layers.3.self_attn.q_proj.weight', 'blk.3.attn_q.weight'],
    ['llama', 'model.layers.0.post_attention_layernorm.weight', 'blk.0.ffn_norm.weight'],
    ['qwen2', 'model.layers.1.self_attn.k_proj.bias', 'blk.1.attn_k.bias'],
    ['qwen3', 'model.layers.1.self_attn.q_norm.weight', 'blk.1.attn_q_norm.weight'],
    ['gemma3', 'model.layers.2.post_attention_layernorm.weight', 'blk.2.post_attention_norm.weight'],
    ['gemma3', 'model.layers.2.pre_feedforward_layernorm.weight', 'blk.2.ffn_norm.weight'],
    ['gemma3', 'model.layers.2.post_feedforward_layernorm.weight', 'blk.2.post_ffw_norm.weight'],
    ['llama', 'model.norm.weight', 'output_norm.weight'],
    ['llama', 'lm_head.weight', 'output.weight'],
  ] as const)('%s: %s -> %s', (arch, hf, gguf) => {
    expect(ggufTensorName(arch, hf)).toBe(gguf);
  });

  it('refuses a tensor it cannot name', () => {
    expect(() => ggufTensorName('llama', 'model.layers.0.mlp.experts.0.w1.weight')).toThrow(/no GGUF name/);
  });

  it('keeps norms, biases and vectors F32; Q8_0 rows not a multiple of 32 fall back to F16', () => {
    expect(tensorType('blk.0.attn_norm.weight', [64], GgmlType.Q8_0)).toBe(GgmlType.F32);
    expect(tensorType('blk.0.attn_q.bias', [64], GgmlType.F16)).toBe(GgmlType.F32);
    expect(tensorType('blk.0.attn_q.weight', [64, 64], GgmlType.Q8_0)).toBe(GgmlType.Q8_0);
    expect(tensorType('blk.0.ffn_down.weight', [64, 172], GgmlType.Q8_0)).toBe(GgmlType.F16);
    expect(tensorType('blk.0.attn_q.weight.lora_a', [8, 64], GgmlType.F16)).toBe(GgmlType.F32);
  });
});

describe('GGUF layout', () => {
  it('writes magic, version, KVs and aligned tensor data that parse back', async () => {
    const md: GgufMetadata = new Map();
    md.set('general.architecture', kv.str('llama'));
    md.set('llama.block_count', kv.u32(5));
    md.set('llama.rope.freq_base', kv.f32(10000));
    md.set('tokenizer.ggml.tokens', kv.strings(['<unk>', 'é', '▁a']));
    md.set('tokenizer.ggml.token_type', kv.i32s([2, 1, 1]));
    md.set('tokenizer.ggml.add_bos_token', kv.bool(true));
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const tensors = [
      { name: 'a', shape: [2, 3], type: GgmlType.F32, read: async () => a },
      { name: 'b', shape: [2, 32], type: GgmlType.Q8_0, read: async () => b },
      { name: 'c', shape: [3], type: GgmlType.F16, read: async () => new Float32Array([1, 2, 3]) },
    ];
    const sink = new MemorySink();
    const size = await writeGguf(await sink.create('x.gguf'), md, tensors);
    const bytes = sink.files.get('x.gguf')!;
    expect(bytes.byteLength).toBe(size);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('GGUF');
    const parsed = parseGguf(bytes);
    expect(parsed.version).toBe(3);
    expect(parsed.metadata.get('llama.block_count')).toBe(5);
    expect(parsed.metadata.get('tokenizer.ggml.tokens')).toEqual(['<unk>', 'é', '▁a']);
    expect(parsed.metadata.get('tokenizer.ggml.add_bos_token')).toBe(true);
    const ta = parsed.tensors.get('a')!;
    expect(ta.shape).toEqual([2, 3]);
    expect(ta.offset % 32).toBe(0);
    expect(readGgufTensor(bytes, ta)).toEqual(a);
    const tb = readGgufTensor(bytes, parsed.tensors.get('b')!);
    expect(Math.max(...tb.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1 / 127);
    expect([...readGgufTensor(bytes, parsed.tensors.get('c')!)]).toEqual([1, 2, 3]);
    const { header } = ggufHeader(md, tensors);
    expect(header.byteLength % 32).toBe(0); // data starts aligned
  });

  it('a sink that fails mid-file leaves no file behind', async () => {
    const sink = new MemorySink(100);
    const md: GgufMetadata = new Map([['general.architecture', kv.str('llama')]]);
    const big = new Float32Array(1 << 20);
    await expect(writeGguf(await sink.create('x.gguf'), md, [{ name: 'w', shape: [1024, 1024], type: GgmlType.F32, read: async () => big }])).rejects.toThrow(/no space left/);
    expect(sink.files.size).toBe(0);
  });
});
