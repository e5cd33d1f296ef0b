// The decoder's data shapes (src/model/llama.ts): its weights, the LoRA hook, the KV cache and
// prefix, packing, RoPE tables and what one forward call's layers share. Kept apart from the model
// class so the many modules that only pass these around need not read the forward pass.
// Dimension letters as in llama.ts: B batch, T new tokens, S keys attended, C hidden, K kv heads,
// D head dim, V vocab, P prefix length.
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig, LinearModule, LayerType } from './config';
import type { FrozenLinear } from './linear';
import type { FrozenHead } from './frozen-head';
import type { MaskRequest } from './attention-mask';

export interface LayerWeights {
  inputNorm: tf.Tensor1D; // [C]
  /** Llama: the norm before the MLP. Gemma (sandwichNorms): the norm of the attention output. */
  postAttnNorm: tf.Tensor1D; // [C]
  /** Gemma only: the norm before the MLP and the norm of the MLP output. */
  preFfnNorm?: tf.Tensor1D; // [C]
  postFfnNorm?: tf.Tensor1D; // [C]
  /** qkNorm families: per-head norms of q and k. */
  qNorm?: tf.Tensor1D; // [D]
  kNorm?: tf.Tensor1D; // [D]
  linear: Record<LinearModule, FrozenLinear>;
  /** Frozen biases of the projections listed in config.biases. */
  bias: Partial<Record<LinearModule, tf.Tensor1D>>; // [out]
}

export interface LlamaWeights {
  /** Token table [V, C] (fp32 or int8 rows, src/model/frozen-head.ts). */
  embed: FrozenHead;
  /** Output head [V, C]; the same object as embed when tied (one copy, in one layout). */
  lmHead: FrozenHead;
  finalNorm: tf.Tensor1D; // [C]
  layers: LayerWeights[];
}

/** A LoRA adapter as the forward pass sees it: the delta for (layer, module), or nothing. */
export interface LoraHook {
  /** x [N, in] -> scale * (dropout(x) · Aᵀ) · Bᵀ  [N, out], or null when the module is not adapted. */
  delta(layer: number, module: LinearModule, x: tf.Tensor2D): tf.Tensor2D | null;
}

/**
 * Keys and values seen before the input in every layer (prefix tuning): they act exactly like a
 * KV cache already holding P tokens at positions 0..P-1, so the input's positions start at P.
 * Tensors are post-RoPE keys, as a cache stores them; they may be trainable variables.
 */
export interface KvPrefix {
  length: number; // P
  /** Layer i's prefix: k, v [1 | B, K, P, D]. */
  kv(layer: number): { k: tf.Tensor4D; v: tf.Tensor4D };
}

/** Per-layer key/value cache for decoding; tensors are kept outside tidy and owned by the cache. */
export interface KvCache {
  k: (tf.Tensor4D | null)[]; // [B, K, S, D]
  v: (tf.Tensor4D | null)[]; // [B, K, S, D]
  length: number;
}

export function newKvCache(cfg: ModelConfig): KvCache {
  return { k: Array(cfg.numLayers).fill(null), v: Array(cfg.numLayers).fill(null), length: 0 };
}

export function disposeKvCache(cache: KvCache): void {
  for (const t of [...cache.k, ...cache.v]) t?.dispose();
  cache.k.fill(null);
  cache.v.fill(null);
  cache.length = 0;
}

/** Per-token positions and example ids for packed rows, both [B*T]. */
export interface Packing {
  positions: Int32Array;
  segments: Int32Array;
}

export interface ForwardOptions {
  lora?: LoraHook | null;
  /** With a cache, positions continue from cache.length and the cache is extended. */
  cache?: KvCache;
  /** Packed rows: attention (and sliding windows) stay within each example. */
  packing?: Packing;
  prefix?: KvPrefix;
}

/** RoPE tables broadcastable against [B, T, H, D]. */
export interface Rope {
  cos: tf.Tensor4D; // [B | 1, T, 1, D]
  sin: tf.Tensor4D;
}

/** What every layer of one forward call shares; built once by `layerContext`. */
export interface LayerContext {
  B: number;
  T: number;
  rope: Record<LayerType, Rope>;
  /**
   * Additive masks per layer kind: [G*T, S] or, packed, [B, 1, G*T, T]; absent where attention is
   * blocked (long sequences, blocked-attention.ts), which reads `maskSpec` instead.
   */
  mask: Partial<Record<LayerType, tf.Tensor>>;
  /** What each layer kind's mask is (causal, window, packing), for blocked attention. */
  maskSpec: Record<LayerType, MaskRequest>;
  lora: LoraHook | null;
  cache?: KvCache;
  /** Filled by attention with each layer's keys/values when a cache is given. */
  newCache: NewCache;
  prefix?: KvPrefix;
}

/** Each layer's keys/values after a cached forward, [B, K, S, D] each, indexed by layer. */
export type NewCache = { k: tf.Tensor4D; v: tf.Tensor4D }[];
