// llama-quantize's per-tensor type mix, table-driven: which layers get more bits (use_more_bits),
// the tied / untied head, the fallbacks for rows the 256-weight super-blocks do not divide, and a
// whole model's tensors through ggufModelTensors (names, shapes and types as the file will hold them).
import { describe, it, expect } from 'vitest';
import { GgmlType, type GgufWeightType } from './constants';
import { fallbackType, quantizedTypes, useMoreBits } from './quant-mix';
import { ggufModelTensors } from './arch';
import type { SourceTensor } from '../model-tensors';

describe('use_more_bits', () => {
  it.each([
    [1, [0]],
    [2, [1]],
    [4, [2, 3]],
    [5, [2, 4]],
    [8, [0, 3, 6, 7]],
    [24, [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]],
    [30, [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]],
  ])('%i layers: layers %j', (n, layers) => {
    expect(Array.from({ length: n }, (_, i) => i).filter((i) => useMoreBits(i, n))).toEqual(layers);
  });
});

describe('fallbacks for rows the block does not divide', () => {
  it.each([
    [GgmlType.Q4_K, 512, GgmlType.Q4_K],
    [GgmlType.Q4_K, 64, GgmlType.Q5_0],
    [GgmlType.Q5_K, 160, GgmlType.Q5_1],
    [GgmlType.Q6_K, 64, GgmlType.Q8_0],
    [GgmlType.Q4_K, 172, GgmlType.F16],
    [GgmlType.Q6_K, 172, GgmlType.F16],
    [GgmlType.Q4_0, 172, GgmlType.F16],
  ])('%s with rows of %i -> %s', (t, cols, want) => {
    expect(GgmlType[fallbackType(t, cols)]).toBe(GgmlType[want]);
  });
});

/** A Llama-like model's GGUF tensors (names and row-major shapes) with L layers. */
function llamaTensors(L: number, C: number, F: number, KV: number, V: number, tied: boolean) {
  const t: { name: string; shape: number[] }[] = [{ name: 'token_embd.weight', shape: [V, C] }, { name: 'output_norm.weight', shape: [C] }];
  if (!tied) t.push({ name: 'output.weight', shape: [V, C] });
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}.`;
    t.push({ name: `${b}attn_norm.weight`, shape: [C] }, { name: `${b}ffn_norm.weight`, shape: [C] }, { name: `${b}attn_q.weight`, shape: [C, C] },
      { name: `${b}attn_k.weight`, shape: [KV, C] }, { name: `${b}attn_v.weight`, shape: [KV, C] }, { name: `${b}attn_output.weight`, shape: [C, C] },
      { name: `${b}ffn_gate.weight`, shape: [F, C] }, { name: `${b}ffn_up.weight`, shape: [F, C] }, { name: `${b}ffn_down.weight`, shape: [C, F] });
  }
  return t;
}

const names = (m: Map<string, GgmlType>, pred: (n: string) => boolean) => Object.fromEntries([...m].filter(([n]) => pred(n)).map(([n, t]) => [n, GgmlType[t]]));

describe('Q4_K_M / Q5_K_M mix (rows of 256 multiples)', () => {
  it.each([['q4_k_m', 'Q4_K'], ['q5_k_m', 'Q5_K']] as const)('%s: attn_v and ffn_down of layers 0, 3, 6, 7 of 8 get Q6_K, the rest %s', (type, base) => {
    const m = quantizedTypes(llamaTensors(8, 256, 768, 128, 1024, true), type, 8);
    const more = [0, 3, 6, 7];
    for (let i = 0; i < 8; i++) {
      const hi = more.includes(i) ? 'Q6_K' : base;
      expect(GgmlType[m.get(`blk.${i}.attn_v.weight`)!]).toBe(hi);
      expect(GgmlType[m.get(`blk.${i}.ffn_down.weight`)!]).toBe(hi);
      for (const p of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) expect(GgmlType[m.get(`blk.${i}.${p}.weight`)!]).toBe(base);
      expect(m.get(`blk.${i}.attn_norm.weight`)).toBe(GgmlType.F32);
    }
    expect(GgmlType[m.get('token_embd.weight')!]).toBe('Q6_K'); // tied: quantized as the output
    expect(m.get('output_norm.weight')).toBe(GgmlType.F32);
  });

  it('untied: output.weight Q6_K, token_embd the base type', () => {
    const m = quantizedTypes(llamaTensors(2, 256, 512, 256, 1024, false), 'q4_k_m', 2);
    expect(names(m, (n) => !n.startsWith('blk.'))).toEqual({ 'token_embd.weight': 'Q4_K', 'output.weight': 'Q6_K', 'output_norm.weight': 'F32' });
  });

  it('counts layers in llama.cpp order (blk.10 after blk.9), not by string', () => {
    const t = llamaTensors(12, 256, 512, 256, 512, true).reverse();
    const m = quantizedTypes(t, 'q4_k_m', 12);
    // use_more_bits(i, 12): i < 1, i >= 10, (i - 1) % 3 == 2 -> 0, 3, 6, 9, 10, 11
    expect(Array.from({ length: 12 }, (_, i) => i).filter((i) => m.get(`blk.${i}.attn_v.weight`) === GgmlType.Q6_K)).toEqual([0, 3, 6, 9, 10, 11]);
  });
});

describe('mixes on the tiny models\' shapes (hidden 64): the fallbacks decide', () => {
  // stories260K: C 64, F 172, KV 32, V 512, 5 layers, tied. use_more_bits(i, 5): 2, 4.
  const tiny = llamaTensors(5, 64, 172, 32, 512, true);
  const row = (m: Map<string, GgmlType>, i: number) => names(m, (n) => n.startsWith(`blk.${i}.`) && !n.includes('norm'));
  it.each<[GgufWeightType, Record<string, string>, Record<string, string>, string]>([
    // ffn_down rows (172) fit no 32-weight block: F16. token_embd rows (64) < 256: Q8_0.
    ['q4_k_m', { attn_q: 'Q5_0', attn_v: 'Q5_0', ffn_gate: 'Q5_0', ffn_down: 'F16' }, { attn_v: 'Q8_0', ffn_down: 'F16' }, 'Q8_0'],
    ['q5_k_m', { attn_q: 'Q5_1', attn_v: 'Q5_1', ffn_gate: 'Q5_1', ffn_down: 'F16' }, { attn_v: 'Q8_0', ffn_down: 'F16' }, 'Q8_0'],
    ['q6_k', { attn_q: 'Q8_0', attn_v: 'Q8_0', ffn_gate: 'Q8_0', ffn_down: 'F16' }, { attn_v: 'Q8_0', ffn_down: 'F16' }, 'Q8_0'],
    ['q4_0', { attn_q: 'Q4_0', attn_v: 'Q4_0', ffn_gate: 'Q4_0', ffn_down: 'F16' }, { attn_v: 'Q4_0', ffn_down: 'F16' }, 'Q8_0'],
    ['q5_0', { attn_q: 'Q5_0', attn_v: 'Q5_0', ffn_gate: 'Q5_0', ffn_down: 'F16' }, { attn_v: 'Q5_0', ffn_down: 'F16' }, 'Q8_0'],
  ])('%s', (type, layer0, layer2, embd) => {
    const m = quantizedTypes(tiny, type, 5);
    const r0 = row(m, 0);
    for (const [k, v] of Object.entries(layer0)) expect([k, r0[`blk.0.${k}.weight`]]).toEqual([k, v]);
    const r2 = row(m, 2);
    for (const [k, v] of Object.entries(layer2)) expect([k, r2[`blk.2.${k}.weight`]]).toEqual([k, v]);
    expect(GgmlType[m.get('token_embd.weight')!]).toBe(embd);
  });

  it('Q4_0 with rows of 256: the tied head / embedding is Q6_K', () => {
    expect(quantizedTypes(llamaTensors(1, 256, 512, 256, 512, true), 'q4_0', 1).get('token_embd.weight')).toBe(GgmlType.Q6_K);
  });
});

describe('ggufModelTensors applies the mix for quantized file types only', () => {
  const C = 256;
  const src = (name: string, shape: number[]): SourceTensor => ({ name, shape, dtype: 'F32', read: async () => new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const config = { architectures: ['Qwen2ForCausalLM'], hidden_size: C, intermediate_size: 512, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512, tie_word_embeddings: true };
  const tensors = [
    src('model.embed_tokens.weight', [512, C]), src('model.norm.weight', [C]),
    src('model.layers.0.self_attn.q_proj.weight', [C, C]), src('model.layers.0.self_attn.q_proj.bias', [C]),
    src('model.layers.0.self_attn.v_proj.weight', [128, C]), src('model.layers.0.mlp.down_proj.weight', [C, 512]),
  ];
  it.each<[GgufWeightType, Record<string, string>]>([
    ['q4_k_m', { 'token_embd.weight': 'Q6_K', 'output_norm.weight': 'F32', 'blk.0.attn_q.weight': 'Q4_K', 'blk.0.attn_q.bias': 'F32', 'blk.0.attn_v.weight': 'Q6_K', 'blk.0.ffn_down.weight': 'Q6_K' }],
    ['q8_0', { 'token_embd.weight': 'Q8_0', 'output_norm.weight': 'F32', 'blk.0.attn_q.weight': 'Q8_0', 'blk.0.attn_q.bias': 'F32', 'blk.0.attn_v.weight': 'Q8_0', 'blk.0.ffn_down.weight': 'Q8_0' }],
  ])('%s', (type, want) => {
    const out = ggufModelTensors('qwen2', config, tensors, type);
    expect(Object.fromEntries(out.map((t) => [t.name, GgmlType[t.type]]))).toEqual(want);
  });
});
