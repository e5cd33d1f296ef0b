// GGUF format constants (llama.cpp's gguf-py constants.py / ggml.h): value types of the metadata
// key-value section, tensor storage types with their block sizes, token types and file types.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
/** general.alignment's default: every tensor's data starts at a multiple of this. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** general.quantization_version written by current converters. */
export const GGML_QUANT_VERSION = 2;

export enum GgufValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

export enum GgmlType {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
}

/** [elements per block, bytes per block] of the storage types this exporter writes. */
export const BLOCK: Partial<Record<GgmlType, [number, number]>> = {
  [GgmlType.F32]: [1, 4],
  [GgmlType.F16]: [1, 2],
  [GgmlType.BF16]: [1, 2],
  [GgmlType.Q8_0]: [32, 34], // an f16 scale + 32 int8 codes
  [GgmlType.Q4_0]: [32, 18], // f16 scale + 32 4-bit codes
  [GgmlType.Q5_0]: [32, 22], // f16 scale + 32 high bits (u32) + 32 4-bit codes
  [GgmlType.Q5_1]: [32, 24], // f16 scale, f16 min + 32 high bits + 32 4-bit codes
  [GgmlType.Q4_K]: [256, 144], // f16 d, f16 dmin, 12 bytes of eight 6-bit scales and mins, 256 4-bit codes
  [GgmlType.Q5_K]: [256, 176], // as Q4_K + 32 bytes of high bits
  [GgmlType.Q6_K]: [256, 210], // 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, f16 d
};

/** llama.cpp's llama_token_type (vocab.py TokenType / SentencePieceTokenTypes). */
export enum TokenType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

/** general.file_type (LlamaFileType): the dominant type of the weight matrices. */
export enum LlamaFileType {
  ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8,
  MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18, MOSTLY_BF16 = 32,
}

/**
 * The types the exporter offers. f32 / f16 / bf16 / q8_0 are what convert_hf_to_gguf.py writes
 * (norms and biases F32); the others are what llama-quantize writes for that file type, with its
 * per-tensor mix (quant-mix.ts). `ggml` is the file type's default tensor type.
 */
export type GgufWeightType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q5_0' | 'q4_k_m' | 'q5_k_m' | 'q6_k';

export const WEIGHT_TYPES: Record<GgufWeightType, { ggml: GgmlType; fileType: LlamaFileType; quantize: boolean }> = {
  f32: { ggml: GgmlType.F32, fileType: LlamaFileType.ALL_F32, quantize: false },
  f16: { ggml: GgmlType.F16, fileType: LlamaFileType.MOSTLY_F16, quantize: false },
  bf16: { ggml: GgmlType.BF16, fileType: LlamaFileType.MOSTLY_BF16, quantize: false },
  q8_0: { ggml: GgmlType.Q8_0, fileType: LlamaFileType.MOSTLY_Q8_0, quantize: false },
  q4_0: { ggml: GgmlType.Q4_0, fileType: LlamaFileType.MOSTLY_Q4_0, quantize: true },
  q5_0: { ggml: GgmlType.Q5_0, fileType: LlamaFileType.MOSTLY_Q5_0, quantize: true },
  q4_k_m: { ggml: GgmlType.Q4_K, fileType: LlamaFileType.MOSTLY_Q4_K_M, quantize: true },
  q5_k_m: { ggml: GgmlType.Q5_K, fileType: LlamaFileType.MOSTLY_Q5_K_M, quantize: true },
  q6_k: { ggml: GgmlType.Q6_K, fileType: LlamaFileType.MOSTLY_Q6_K, quantize: true },
};

export class GgufExportError extends Error {
  override name = 'GgufExportError';
}

export function parseWeightType(v: string): GgufWeightType {
  if (v in WEIGHT_TYPES) return v as GgufWeightType;
  throw new GgufExportError(`Unsupported GGUF tensor type "${v}": choose one of ${Object.keys(WEIGHT_TYPES).join(', ')}`);
}
