// Builds a LlamaModel from a ModelFileSet: reads each tensor from its shard one at a time,
// converts it to float32 and uploads it, so peak host memory is about one tensor, not one file.
// The base precision picks the storage of the frozen linear layers: fp32 (DenseLinear) or NF4
// (Nf4Linear), with the quantized form read from / written to an optional cache.
import * as tf from '@tensorflow/tfjs';
import { parseConfig, LINEAR_MODULES, linearKey, linearShape, type LinearModule, UnsupportedModelError } from './config';
import { type ModelFileSet } from './files';
import { DenseLinear, type FrozenLinear } from './linear';
import { LlamaModel, type LayerWeights } from './llama';
import { DenseHead, Int8Head, quantizeInt8Rows, type FrozenHead, type HeadPrecision } from './frozen-head';
import { type ModelConfig } from './config';
import { type Nf4Weight, fp32Bytes, nf4Bytes, quantizeNf4 } from './nf4';
import { createNf4LinearFromQuantized, type Nf4Path } from './nf4-linear';
import { readHeader, readTensorF32, type ByteSource, type SafetensorsHeader } from './safetensors';

export type BasePrecision = 'fp32' | 'nf4';

/** Creates the frozen storage of one projection; NF4 plugs in here. weight is [out, in] row-major. */
export type LinearFactory = (weight: Float32Array, outFeatures: number, inFeatures: number) => FrozenLinear;

export const denseFactory: LinearFactory = (w, out, inF) => new DenseLinear(tf.tensor2d(w, [out, inF]));

/**
 * 'auto' picks NF4 when the fp32 linear weights exceed this: below it the whole base fits easily
 * in any GPU or tab, and fp32 keeps generation identical to the reference (stories260K: 0.9 MB).
 */
export const NF4_AUTO_MIN_LINEAR_BYTES = 4 * 1024 * 1024;

/** How the quantized form is made; part of the cache key, since each choice gives other bytes. */
export interface QuantizationOptions {
  /** 8-bit absmax in blocks of 256 (0.127 instead of 0.5 bits of overhead per weight). */
  doubleQuant: boolean;
}

/** Layers whose cached NF4 codes are read ahead of the one being built. */
const PREFETCH_LAYERS = 2;

export const DEFAULT_QUANTIZATION: QuantizationOptions = { doubleQuant: false };

/** Where quantized linear weights are kept between loads (IndexedDB in the app: src/storage/quantized-cache.ts). */
export interface QuantizedWeightCache {
  /** The quantized tensor, or null when absent (or unreadable: a cache never fails a load). */
  get(fingerprint: string, opts: QuantizationOptions, tensorName: string): Promise<Nf4Weight | null>;
  /** Several at once, in order (a layer's projections in one round trip); a cache without it is read one by one. */
  getMany?(fingerprint: string, opts: QuantizationOptions, tensorNames: string[]): Promise<(Nf4Weight | null)[]>;
  put(fingerprint: string, opts: QuantizationOptions, tensorName: string, w: Nf4Weight): Promise<void>;
  /** The model's small fp32 tensors (norms, biases) by name, kept beside its NF4 codes; null when absent. */
  getVectors?(fingerprint: string): Promise<Map<string, Float32Array> | null>;
  putVectors?(fingerprint: string, tensors: Map<string, Float32Array>): Promise<void>;
}

export interface LoadProgress {
  status: 'progress';
  file: string;
  loaded: number;
  total: number;
}

export interface LoadModelOptions {
  /**
   * fp32, nf4, or 'auto' (NF4 above NF4_AUTO_MIN_LINEAR_BYTES: the app's default, see the engine).
   * Default 'fp32' so library callers (CLI, tests) get the exact weights unless they ask.
   * Ignored when linearFactory is given.
   */
  precision?: BasePrecision | 'auto';
  quantization?: QuantizationOptions;
  /** 'unfused' forces dequantize-then-matMul on WebGPU (the benchmark's baseline). */
  nf4Mode?: 'auto' | 'unfused';
  /** Read quantized weights from here and store new ones (keyed by files.fingerprint). */
  cache?: QuantizedWeightCache;
  /**
   * Storage of the token table and output head: fp32 (default) or int8 rows with a per-row absmax,
   * a quarter of the bytes (src/model/frozen-head.ts; the loss change is measured by bench/head-quality.ts).
   */
  headPrecision?: HeadPrecision;
  /** Custom storage for each projection (benchmarks, tests); overrides precision. */
  linearFactory?: LinearFactory;
  onProgress?: (p: LoadProgress) => void;
}

/** The frozen base's memory in each precision, from the config alone (for the UI before and after loading). */
export interface BaseMemory {
  /** q/k/v/o/gate/up/down weights in fp32. */
  linearFp32Bytes: number;
  /** The same weights as NF4 codes + absmax constants. */
  linearNf4Bytes: number;
  /** Embeddings, output head (when untied) and norms: fp32 in both modes. */
  otherBytes: number;
}

export interface LoadReport {
  precision: BasePrecision;
  /** How the linear layers compute: 'dense' (fp32) or the Nf4Linear path. */
  linearPath: 'dense' | Nf4Path | 'custom';
  memory: BaseMemory;
  /** NF4 only: linear weights read back from the cache, and those quantized now. */
  cacheHits: number;
  quantized: number;
}

export function baseMemory(cfg: ModelConfig, quant: QuantizationOptions = DEFAULT_QUANTIZATION): BaseMemory {
  let linearFp32Bytes = 0;
  let linearNf4Bytes = 0;
  for (const m of LINEAR_MODULES) {
    const { out, in: inF } = linearShape(cfg, m);
    linearFp32Bytes += fp32Bytes(out * inF);
    linearNf4Bytes += nf4Bytes(out * inF, quant);
  }
  const C = cfg.hiddenSize;
  let perLayer = C * (cfg.sandwichNorms ? 4 : 2) + (cfg.qkNorm ? 2 * cfg.headDim : 0);
  for (const m of cfg.biases) perLayer += linearShape(cfg, m).out;
  const otherBytes = 4 * (cfg.vocabSize * C * (cfg.tieWordEmbeddings ? 1 : 2) + C + cfg.numLayers * perLayer);
  return { linearFp32Bytes: linearFp32Bytes * cfg.numLayers, linearNf4Bytes: linearNf4Bytes * cfg.numLayers, otherBytes };
}

/** What 'auto' resolves to for this model. */
export function defaultPrecision(cfg: ModelConfig): BasePrecision {
  return baseMemory(cfg).linearFp32Bytes > NF4_AUTO_MIN_LINEAR_BYTES ? 'nf4' : 'fp32';
}

export async function loadModel(files: ModelFileSet, opts: LoadModelOptions = {}): Promise<LlamaModel> {
  return (await loadModelWithReport(files, opts)).model;
}

export async function loadModelWithReport(files: ModelFileSet, opts: LoadModelOptions = {}): Promise<{ model: LlamaModel; report: LoadReport }> {
  const cfg = parseConfig(files.config);
  const quant = opts.quantization ?? DEFAULT_QUANTIZATION;
  const precision: BasePrecision = opts.precision === 'auto' ? defaultPrecision(cfg) : (opts.precision ?? 'fp32');
  const report: LoadReport = { precision, linearPath: 'dense', memory: baseMemory(cfg, quant), cacheHits: 0, quantized: 0 };
  // Which shard holds which tensor.
  const where = new Map<string, { source: ByteSource; header: SafetensorsHeader }>();
  for (const shard of files.shards) {
    const header = await readHeader(shard.bytes, shard.name);
    for (const name of header.tensors.keys()) where.set(name, { source: shard.bytes, header });
  }
  // The decoder's key prefix: 'model.' for text checkpoints, the language model's inside a multimodal one.
  const prefix = cfg.weightPrefixes.find((p) => where.has(`${p}embed_tokens.weight`));
  if (!prefix) {
    throw new UnsupportedModelError(`The checkpoint has no tensor "${cfg.weightPrefixes[0]}embed_tokens.weight"${cfg.weightPrefixes.length > 1 ? ` (nor under ${cfg.weightPrefixes.slice(1).join(', ')})` : ''}; are these the weights of this ${cfg.architecture}?`);
  }
  const perLayerTensors = 2 + (cfg.sandwichNorms ? 2 : 0) + (cfg.qkNorm ? 2 : 0) + cfg.biases.length + LINEAR_MODULES.length;
  const total = 2 + (cfg.tieWordEmbeddings ? 0 : 1) + cfg.numLayers * perLayerTensors;
  let loaded = 0;
  const tick = () => opts.onProgress?.({ status: 'progress', file: 'weights', loaded: ++loaded, total });
  const checkShape = (name: string, shape: number[]) => {
    const w = where.get(name);
    if (!w) throw new UnsupportedModelError(`The checkpoint has no tensor "${name}", which a ${cfg.architecture} (${cfg.family} family) with this config.json has`);
    const info = w.header.tensors.get(name)!;
    if (info.shape.join(',') !== shape.join(',')) {
      throw new UnsupportedModelError(`Tensor "${name}" has shape [${info.shape}] but config.json implies [${shape}]`);
    }
    return w;
  };
  const read = async (name: string, shape: number[]): Promise<Float32Array> => {
    const w = checkShape(name, shape);
    const data = await readTensorF32(w.source, w.header, name);
    tick();
    return data;
  };

  // One projection's frozen storage. NF4 covers only the seven linear projections: they hold
  // nearly all the weights of a decoder layer and are only ever multiplied, so a dequantize-in-the-
  // matmul kernel serves them. Embeddings are gathered row by row (no matmul to fuse into), the
  // output head is one layer whose error lands directly on the logits (QLoRA keeps it 16-bit too),
  // and norms are tiny per-channel scales where 4-bit error would buy nothing.
  // A layer's cached projections are read together, and the next layers' while this one is built:
  // one IndexedDB round trip per layer, not one per projection, and never a wait between layers.
  // At most PREFETCH_LAYERS layers' codes wait in memory.
  const nf4Cached = precision === 'nf4' && !opts.linearFactory && opts.cache ? opts.cache : null;
  const layerNames = (i: number) => LINEAR_MODULES.map((m) => linearKey(i, m, prefix));
  const prefetched = new Map<number, Promise<(Nf4Weight | null)[]>>();
  const prefetch = (i: number): void => {
    if (!nf4Cached || i >= cfg.numLayers || prefetched.has(i)) return;
    const names = layerNames(i);
    const all = nf4Cached.getMany
      ? nf4Cached.getMany(files.fingerprint, quant, names)
      : Promise.all(names.map((n) => nf4Cached.get(files.fingerprint, quant, n).catch(() => null)));
    const p = all.catch(() => names.map(() => null));
    prefetched.set(i, p);
  };
  const cachedLayer = async (i: number): Promise<(Nf4Weight | null)[] | null> => {
    if (!nf4Cached) return null;
    prefetch(i);
    const got = await prefetched.get(i)!;
    prefetched.delete(i);
    for (let k = 1; k <= PREFETCH_LAYERS; k++) prefetch(i + k);
    return got;
  };
  for (let k = 0; k < PREFETCH_LAYERS; k++) prefetch(k);
  // Norms and biases sit one per 4 MB chunk of a stored file, between the projections an NF4 load
  // never reads: the cache keeps them together in one record.
  const cachedVectors = nf4Cached?.getVectors ? nf4Cached.getVectors(files.fingerprint).catch(() => null) : Promise.resolve(null);

  const makeLinear = async (name: string, out: number, inF: number, fromCache: Nf4Weight | null): Promise<FrozenLinear> => {
    if (opts.linearFactory) return opts.linearFactory(await read(name, [out, inF]), out, inF);
    if (precision === 'fp32') return denseFactory(await read(name, [out, inF]), out, inF);
    checkShape(name, [out, inF]);
    let q = fromCache;
    if (q && (q.shape[0] !== out || q.shape[1] !== inF)) q = null; // a stale entry: quantize again
    if (q) {
      report.cacheHits++;
      tick();
    } else {
      q = quantizeNf4(await read(name, [out, inF]), out, inF, quant);
      report.quantized++;
      // A full or unavailable cache costs the next visit a re-quantization, never this load.
      await opts.cache?.put(files.fingerprint, quant, name, q).catch(() => undefined);
    }
    return createNf4LinearFromQuantized(q, { doubleQuant: quant.doubleQuant, mode: opts.nf4Mode ?? 'auto' });
  };

  const C = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const created: { dispose(): void }[] = [];
  const linears: FrozenLinear[] = [];
  const table = (w: Float32Array): FrozenHead => (opts.headPrecision === 'int8' ? new Int8Head(quantizeInt8Rows(w, V, C)) : new DenseHead(tf.tensor2d(w, [V, C])));
  try {
    // The token table (the largest read, ~100 MB at 135M) comes in while the layers are built.
    const headKey = cfg.tieWordEmbeddings ? null : lmHeadKeys(prefix).find((k) => where.has(k));
    // Multimodal Gemma keeps lm_head.weight at the top level (new layout) or beside its model (old).
    if (headKey === undefined) throw new UnsupportedModelError('config.json says the output head is untied but the checkpoint has no lm_head.weight');
    const tableData = read(`${prefix}embed_tokens.weight`, [V, C]);
    tableData.catch(() => undefined); // awaited below; a failure then is the load's error
    const vectors = await cachedVectors;
    const readVectors = new Map<string, Float32Array>();
    const vector = async (name: string, n: number): Promise<tf.Tensor1D> => {
      let data = vectors?.get(name);
      if (data?.length === n) {
        tick();
      } else {
        data = await read(name, [n]);
        readVectors.set(name, data);
      }
      const t = tf.tensor1d(data);
      created.push(t);
      return t;
    };
    const finalNorm = await vector(`${prefix}norm.weight`, C);
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const { inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, bias } = await readLayerVectors(cfg, prefix, i, vector);
      const linear = {} as Record<LinearModule, FrozenLinear>;
      const cached = await cachedLayer(i);
      for (const [k, m] of LINEAR_MODULES.entries()) {
        const { out, in: inF } = linearShape(cfg, m);
        const lin = await makeLinear(linearKey(i, m, prefix), out, inF, cached?.[k] ?? null);
        linears.push(lin);
        linear[m] = lin;
      }
      // Yield so a worker stays responsive to cancel/progress messages during long loads (once a
      // layer: a worker's nested setTimeout(0) waits ~4 ms).
      await new Promise((r) => setTimeout(r, 0));
      layers.push({ inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, linear, bias });
    }
    const embed = table(await tableData);
    created.push(embed);
    let lmHead = embed;
    if (headKey) {
      lmHead = table(await read(headKey, [V, C]));
      created.push(lmHead);
    }
    // Stored whole once any was missing; a failed write only costs the next load these reads.
    if (nf4Cached?.putVectors && readVectors.size > 0) await nf4Cached.putVectors(files.fingerprint, new Map([...(vectors ?? []), ...readVectors])).catch(() => undefined);
    const first = linears[0] as FrozenLinear & { path?: Nf4Path };
    report.precision = first.precision;
    report.linearPath = opts.linearFactory ? 'custom' : first.precision === 'nf4' ? (first.path ?? 'js-dequant') : 'dense';
    return { model: new LlamaModel(cfg, { embed, lmHead, finalNorm, layers }), report };
  } catch (e) {
    for (const t of created) t.dispose();
    for (const l of linears) l.dispose();
    throw e;
  }
}

/**
 * Where an untied output head lives: lm_head.weight at the top level, or beside a nested model
 * (multimodal Gemma's old layout), for the decoder's weight prefix.
 */
export function lmHeadKeys(prefix: string): string[] {
  return ['lm_head.weight', prefix.replace(/model\.$/, 'lm_head.weight')];
}

/**
 * Layer i's small tensors under their Hugging Face names (norms, Gemma's sandwich norms, q/k norms,
 * frozen biases), each made by `vector` (a frozen tensor when loading, a variable for full
 * fine-tuning), so the names and the family rules for which exist live in one place.
 */
export async function readLayerVectors<T>(
  cfg: ModelConfig,
  prefix: string,
  i: number,
  vector: (name: string, n: number) => Promise<T>,
): Promise<{ inputNorm: T; postAttnNorm: T; preFfnNorm?: T; postFfnNorm?: T; qNorm?: T; kNorm?: T; bias: Partial<Record<LinearModule, T>> }> {
  const C = cfg.hiddenSize;
  const at = `${prefix}layers.${i}.`;
  const inputNorm = await vector(`${at}input_layernorm.weight`, C);
  const postAttnNorm = await vector(`${at}post_attention_layernorm.weight`, C);
  const preFfnNorm = cfg.sandwichNorms ? await vector(`${at}pre_feedforward_layernorm.weight`, C) : undefined;
  const postFfnNorm = cfg.sandwichNorms ? await vector(`${at}post_feedforward_layernorm.weight`, C) : undefined;
  const qNorm = cfg.qkNorm ? await vector(`${at}self_attn.q_norm.weight`, cfg.headDim) : undefined;
  const kNorm = cfg.qkNorm ? await vector(`${at}self_attn.k_norm.weight`, cfg.headDim) : undefined;
  const bias: Partial<Record<LinearModule, T>> = {};
  for (const m of cfg.biases) bias[m] = await vector(linearKey(i, m, prefix).replace(/weight$/, 'bias'), linearShape(cfg, m).out);
  return { inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, bias };
}
