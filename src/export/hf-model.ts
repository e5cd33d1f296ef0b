// Writes a complete Hugging Face model folder (model.safetensors, config.json, tokenizer files,
// generation_config.json) from named tensors, streamed one tensor at a time into a sink. Weights are
// stored in the checkpoint's own dtype (config.json's dtype / torch_dtype: F32, F16 or BF16, rounded
// to nearest even), and a tied output head stays tied: no lm_head.weight is written.
import { writeWholeFile, type ExportSink } from './sink';
import { storageFromTorchDtype, type FloatStorage } from './dtype';
import { type SourceTensor } from './model-tensors';
import { writeSafetensorsStream, type StreamProgress } from './safetensors-stream';

export interface HfModelInput {
  /** Parsed config.json of the base; written back with its dtype field set to what is stored. */
  config: unknown;
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  /** Parsed generation_config.json when the base had one; otherwise one is derived from config.json. */
  generationConfig?: unknown;
  tensors: SourceTensor[];
}

export interface HfModelOptions {
  /** 'auto' (default): the checkpoint's own dtype; or force one. */
  dtype?: FloatStorage | 'auto';
  /** safetensors __metadata__ entries besides format: pt (provenance: base fingerprint, adapter). */
  metadata?: Record<string, string>;
  onProgress?: (p: StreamProgress & { file: string }) => void;
}

export interface ExportedFile {
  name: string;
  bytes: number;
}

export const HF_WEIGHTS_FILE = 'model.safetensors';

/** The dtype the checkpoint declares (dtype in transformers 5 configs, torch_dtype before), else the tensors' own. */
export function checkpointStorage(config: unknown, tensors: Pick<SourceTensor, 'dtype'>[]): FloatStorage {
  const c = (config ?? {}) as Record<string, unknown>;
  const declared = storageFromTorchDtype(c.dtype) ?? storageFromTorchDtype(c.torch_dtype);
  if (declared) return declared;
  const counts = new Map<FloatStorage, number>();
  for (const t of tensors) if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
  let best: FloatStorage = 'F32';
  for (const [d, n] of counts) if (n > (counts.get(best) ?? 0)) best = d;
  return best;
}

const TORCH_NAME: Record<FloatStorage, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** config.json as written: the same object with its dtype key(s) naming the stored dtype. */
export function exportedConfig(config: unknown, dtype: FloatStorage): Record<string, unknown> {
  const c = { ...((config ?? {}) as Record<string, unknown>) };
  if ('dtype' in c) c.dtype = TORCH_NAME[dtype];
  if ('torch_dtype' in c || !('dtype' in c)) c.torch_dtype = TORCH_NAME[dtype];
  return c;
}

/** What transformers' GenerationConfig.from_model_config takes from config.json. */
export function derivedGenerationConfig(config: unknown): Record<string, unknown> {
  const c = (config ?? {}) as Record<string, unknown>;
  const g: Record<string, unknown> = {};
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (c[k] !== undefined && c[k] !== null) g[k] = c[k];
  return g;
}

/** True when the output head shares the embedding matrix (so lm_head.weight must not be written). */
export function isTied(config: unknown): boolean {
  return (config as Record<string, unknown> | null)?.tie_word_embeddings === true;
}

export async function writeHfModel(sink: ExportSink, input: HfModelInput, opts: HfModelOptions = {}): Promise<ExportedFile[]> {
  const dtype = !opts.dtype || opts.dtype === 'auto' ? checkpointStorage(input.config, input.tensors) : opts.dtype;
  const tensors = isTied(input.config) ? input.tensors.filter((t) => t.name !== 'lm_head.weight') : input.tensors;
  const files: ExportedFile[] = [];
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  // Small files first: a folder whose weights failed has no model.safetensors and so never loads.
  files.push({ name: 'config.json', bytes: await writeWholeFile(sink, 'config.json', json(exportedConfig(input.config, dtype))) });
  files.push({ name: 'generation_config.json', bytes: await writeWholeFile(sink, 'generation_config.json', json(input.generationConfig ?? derivedGenerationConfig(input.config))) });
  files.push({ name: 'tokenizer.json', bytes: await writeWholeFile(sink, 'tokenizer.json', JSON.stringify(input.tokenizerJson)) });
  files.push({ name: 'tokenizer_config.json', bytes: await writeWholeFile(sink, 'tokenizer_config.json', json(input.tokenizerConfig ?? {})) });
  const writer = await sink.create(HF_WEIGHTS_FILE);
  const bytes = await writeSafetensorsStream(writer, tensors, dtype, { ...opts.metadata, format: 'pt' }, (p) => opts.onProgress?.({ ...p, file: HF_WEIGHTS_FILE }));
  files.push({ name: HF_WEIGHTS_FILE, bytes });
  return files;
}
