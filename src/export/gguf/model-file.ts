// Complete GGUF files: the model (base or merged) with its tokenizer, and the LoRA adapter as
// convert_lora_to_gguf.py writes it. Both stream tensor by tensor into a sink's FileWriter.
import { type LoraSpec, type LoraWeights, loraScale } from '../../adapters/lora-types';
import { linearKey } from '../../model/config';
import { type TextTokenizer } from '../../tokenizer/tokenizer';
import { ExportInputError, type SourceTensor } from '../model-tensors';
import { type FileWriter } from '../sink';
import { GGML_QUANT_VERSION, GgmlType, GgufExportError, WEIGHT_TYPES, type GgufWeightType } from './constants';
import { archMetadata, ggufArch, ggufModelTensors, ggufTensorName, rowTransform } from './arch';
import { vocabMetadata } from './vocab';
import { kv, writeGguf, type GgufMetadata, type GgufProgress, type GgufTensor } from './writer';

export interface GgufModelInput {
  /** Parsed config.json, tokenizer.json and tokenizer_config.json of the base. */
  config: unknown;
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  tokenizer: TextTokenizer;
  /** Base tensors (or merged ones, from merge.ts) under their HF names. */
  tensors: SourceTensor[];
  /** general.name */
  name: string;
}

export async function ggufModelParts(input: GgufModelInput, type: GgufWeightType): Promise<{ metadata: GgufMetadata; tensors: GgufTensor[] }> {
  const c = (input.config ?? {}) as Record<string, unknown>;
  const arch = ggufArch(c);
  const wt = WEIGHT_TYPES[type];
  const md: GgufMetadata = new Map();
  md.set('general.architecture', kv.str(arch));
  md.set('general.type', kv.str('model'));
  md.set('general.name', kv.str(input.name));
  archMetadata(arch, c, md);
  md.set('general.file_type', kv.u32(wt.fileType));
  const vocabSize = await vocabMetadata({ tokenizerJson: input.tokenizerJson, tokenizerConfig: input.tokenizerConfig, config: c, tokenizer: input.tokenizer }, md);
  md.set('general.quantization_version', kv.u32(GGML_QUANT_VERSION));
  const tensors = ggufModelTensors(arch, c, input.tensors, type);
  const embd = tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd) throw new ExportInputError('the checkpoint has no model.embed_tokens.weight');
  if (embd.shape[0] !== vocabSize) throw new GgufExportError(`token_embd has ${embd.shape[0]} rows but the vocabulary has ${vocabSize} entries`);
  return { metadata: md, tensors };
}

export async function writeGgufModel(writer: FileWriter, input: GgufModelInput, type: GgufWeightType, onProgress?: (p: GgufProgress) => void): Promise<number> {
  let parts;
  try {
    parts = await ggufModelParts(input, type);
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
  return writeGguf(writer, parts.metadata, parts.tensors, onProgress);
}

/** LoRA tensors may be F32 (what the converter writes) or F16. */
export type GgufLoraType = 'f32' | 'f16';

export interface GgufLoraInput {
  config: unknown;
  spec: LoraSpec;
  weights: LoraWeights;
  name: string;
}

/**
 * The adapter as llama.cpp loads it: blk.N.<attn_q|...>.weight.lora_a [R, in] and .lora_b [out, R]
 * (GGML ne [in, R] and [R, out]), B's rows permuted like the base weight's for llama q/k, and
 * adapter.lora.alpha such that llama.cpp's scale alpha / R equals ours (rsLoRA: alpha·sqrt(R) / R).
 */
export function ggufLoraParts(input: GgufLoraInput, type: GgufLoraType): { metadata: GgufMetadata; tensors: GgufTensor[] } {
  const c = (input.config ?? {}) as Record<string, unknown>;
  const arch = ggufArch(c);
  const { spec } = input;
  const md: GgufMetadata = new Map();
  md.set('general.architecture', kv.str(arch));
  md.set('general.type', kv.str('adapter'));
  md.set('general.name', kv.str(input.name));
  md.set('adapter.type', kv.str('lora'));
  md.set('adapter.lora.alpha', kv.f32(loraScale(spec) * spec.r));
  md.set('general.quantization_version', kv.u32(GGML_QUANT_VERSION));
  const ggml = type === 'f16' ? GgmlType.F16 : GgmlType.F32;
  const tensors: GgufTensor[] = [];
  for (const w of input.weights.layers) {
    const hf = linearKey(w.layer, w.module);
    const base = ggufTensorName(arch, hf);
    if (!base) throw new GgufExportError(`no GGUF tensor for ${hf}`);
    const perm = rowTransform(arch, c, hf);
    tensors.push({ name: `${base}.lora_a`, shape: [spec.r, w.inFeatures], type: ggml, read: async () => w.A }); // [R, in]
    tensors.push({ name: `${base}.lora_b`, shape: [w.outFeatures, spec.r], type: ggml, read: async () => (perm ? perm(w.B, w.outFeatures) : w.B) }); // [out, R]
  }
  return { metadata: md, tensors };
}

export async function writeGgufLora(writer: FileWriter, input: GgufLoraInput, type: GgufLoraType, onProgress?: (p: GgufProgress) => void): Promise<number> {
  let parts;
  try {
    parts = ggufLoraParts(input, type);
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
  return writeGguf(writer, parts.metadata, parts.tensors, onProgress);
}
