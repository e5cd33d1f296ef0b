// llama-quantize's per-tensor type choice (src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type_impl, tensor_type_fallback) for the file types this exporter writes, as it
// applies to dense Llama / Qwen2 / Qwen3 / Gemma 3 models (no experts, no fused qkv, not Falcon,
// not a 70B, no importance matrix):
// - only 2-D+ tensors whose names end in "weight" and are not norms are quantized; the rest keep F32;
// - output.weight, and token_embd.weight when the head is tied (no output.weight), get Q6_K, or
//   Q8_0 when their rows are not a multiple of the file type's block size;
// - Q4_K_M / Q5_K_M: attn_v and ffn_down of the layers where use_more_bits(i, n) holds get Q6_K
//   (the first and last eighth of the layers, and every third one between);
// - a row length that the chosen type's block does not divide falls back: Q4_K -> Q5_0,
//   Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 when that block does not divide it either.
// The counters run over tensors in llama.cpp's order (layer number, then name).
// One departure: llama.cpp refuses a 32-weight type (Q4_0, Q5_0, Q8_0) on rows not a multiple of
// 32; this exporter stores those tensors F16, as the converter does for Q8_0.
import { BLOCK, GgmlType, type GgufWeightType, WEIGHT_TYPES } from './constants';

type Category = 'token_embd' | 'output' | 'attn_v' | 'ffn_down' | 'other';

function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight') return 'token_embd';
  if (name.includes('attn_v.weight')) return 'attn_v';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

/** tensor_allows_quantization, for the tensors these families have. */
export function allowsQuantization(name: string, shape: number[]): boolean {
  return shape.length >= 2 && name.endsWith('weight') && !name.includes('_norm.weight');
}

/** More bits for the first and last eighth of the layers and every third layer between. */
export function useMoreBits(layer: number, layers: number): boolean {
  return layer < Math.trunc(layers / 8) || layer >= Math.trunc((7 * layers) / 8) || (layer - Math.trunc(layers / 8)) % 3 === 2;
}

const blockSize = (t: GgmlType) => BLOCK[t]![0];

/** tensor_type_fallback: a type whose block fits a row of `cols` values. */
export function fallbackType(type: GgmlType, cols: number): GgmlType {
  if (cols % blockSize(type) === 0) return type;
  const next: Partial<Record<GgmlType, GgmlType>> = { [GgmlType.Q4_K]: GgmlType.Q5_0, [GgmlType.Q5_K]: GgmlType.Q5_1, [GgmlType.Q6_K]: GgmlType.Q8_0 };
  const fb = next[type];
  return fb !== undefined && cols % blockSize(fb) === 0 ? fb : GgmlType.F16;
}

/** llama.cpp's weight_name_comparer: by the N of "blk.N." (-1 without), then by name. */
function llamaOrder(a: string, b: string): number {
  const layer = (s: string) => Number(/^blk\.(\d+)\./.exec(s)?.[1] ?? -1);
  return layer(a) - layer(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The storage type of each tensor (by GGUF name and row-major shape) in a file of `weightType`
 * quantized as llama-quantize does; `layers` is the model's block_count.
 */
export function quantizedTypes(tensors: { name: string; shape: number[] }[], weightType: GgufWeightType, layers: number): Map<string, GgmlType> {
  const def = WEIGHT_TYPES[weightType].ggml;
  const km = weightType === 'q4_k_m' || weightType === 'q5_k_m';
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const nAttnV = tensors.filter((t) => category(t.name) === 'attn_v').length;
  let iAttnV = 0;
  let iFfnDown = 0;
  const out = new Map<string, GgmlType>();
  for (const t of [...tensors].sort((a, b) => llamaOrder(a.name, b.name))) {
    if (!allowsQuantization(t.name, t.shape)) {
      out.set(t.name, GgmlType.F32);
      continue;
    }
    const cols = t.shape[t.shape.length - 1]!;
    const cat = category(t.name);
    let type = def;
    if (cat === 'output' || (tied && cat === 'token_embd')) {
      if (cols % blockSize(def) !== 0) type = GgmlType.Q8_0;
      else if (type !== GgmlType.Q8_0) type = GgmlType.Q6_K;
    } else if (cat === 'attn_v') {
      if (km && useMoreBits(iAttnV, nAttnV)) type = GgmlType.Q6_K;
      iAttnV++;
    } else if (cat === 'ffn_down') {
      if (km && useMoreBits(iFfnDown, layers)) type = GgmlType.Q6_K;
      iFfnDown++;
    }
    out.set(t.name, fallbackType(type, cols));
  }
  return out;
}
