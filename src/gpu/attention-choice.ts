// WebGPU picks its attention by measurement on the user's own GPU, as variant-choice.ts picks the
// NF4 kernel: the dense core (scores [M, S] with the fused masked softmax) against the flash
// attention WGSL kernels at three tile sizes, forward and backward of one layer's attention at the
// loaded model's head shape and a training row of 256 tokens, alternated so drift hits each. The
// fastest is used for every forward of 16 tokens or more (training, prefill); long sequences take
// flash attention whatever is measured (the dense scores would not fit), with the measured tiles
// when flash won. Cached in IndexedDB per adapter and shape; a software adapter is timed the same
// way but flagged, so its times never stand for a GPU.
import * as tf from '@tensorflow/tfjs';
import { attentionCore } from '../model/attention-core';
import { attentionMask, type MaskRequest } from '../model/attention-mask';
import { flashAttention } from '../model/flash-attention';
import type { FlashTiles } from './flash-attention';
import { cachedChoice, isSoftwareAdapter } from './variant-choice';

export const ATTENTION_VARIANTS = ['dense', 'flash-16', 'flash-32', 'flash-64'] as const;
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

/** One layer's attention: kv heads K, query heads per kv head G, T tokens (causal), head dim D. */
export interface AttentionShape { K: number; G: number; T: number; D: number }

export interface AttentionChoice {
  choice: AttentionVariant;
  /** Median milliseconds of one forward + backward (q, k, v gradients), each variant. */
  ms: Record<AttentionVariant, number>;
  shape: AttentionShape;
  adapter: string;
  software: boolean;
  measuredAt: number;
  cached: boolean;
}

/** The tiles of a flash variant (square: query and key tiles alike), null for dense. */
export function flashTilesOf(v: AttentionVariant): FlashTiles | null {
  if (v === 'dense') return null;
  const n = Number(v.slice('flash-'.length)) as FlashTiles['queryTile'];
  return { queryTile: n, keyTile: n };
}

/** The tiles of the fastest flash variant measured (what long sequences use even where dense won). */
export function bestFlashTiles(c: AttentionChoice): FlashTiles {
  const flash = ATTENTION_VARIANTS.filter((v) => v !== 'dense');
  const best = flash.reduce((a, v) => (c.ms[v] < c.ms[a] ? v : a), flash[0]);
  return flashTilesOf(best)!;
}

/** The shape timed for a model: its heads at a training row of `T` tokens. */
export function attentionTimedShape(cfg: { numHeads: number; numKvHeads: number; headDim: number }, T = 256): AttentionShape {
  return { K: cfg.numKvHeads, G: cfg.numHeads / cfg.numKvHeads, T, D: cfg.headDim };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times every variant on random q, k, v of the shape (one batch row, causal, scale 1/sqrt(D)):
 * one warm-up each (compiling the shaders), then `reps` rounds in rotating order. A round is the
 * forward and the three input gradients, read back so the GPU work is inside the timing.
 */
export async function timeAttentionVariants(shape: AttentionShape, adapter: string, reps = 3): Promise<AttentionChoice> {
  if (tf.getBackend() !== 'webgpu') throw new Error('timeAttentionVariants: the attention variants are WebGPU paths');
  const { K, G, T, D } = shape;
  const r: MaskRequest = { B: 1, T, G, past: 0, window: null };
  const opts = { scale: 1 / Math.sqrt(D), softcap: null };
  const q = tf.randomNormal([1, K, G * T, D], 0, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomNormal([1, K, T, D], 0, 1, 'float32', 2) as tf.Tensor4D;
  const v = tf.randomNormal([1, K, T, D], 0, 1, 'float32', 3) as tf.Tensor4D;
  const dy = tf.randomNormal([1, K, G * T, D], 0, 1, 'float32', 4) as tf.Tensor4D;
  const mask = attentionMask(r);
  const attend = (variant: AttentionVariant) => {
    const tiles = flashTilesOf(variant);
    return (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tiles ? flashAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, r, { ...opts, tiles }) : attentionCore(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask, opts);
  };
  const once = async (variant: AttentionVariant): Promise<number> => {
    const f = attend(variant);
    const t0 = performance.now();
    const outs = tf.tidy(() => tf.grads((a, b, c) => tf.sum(tf.mul(f(a, b, c), dy)))([q, k, v]));
    await Promise.all(outs.map((o) => o.data()));
    const ms = performance.now() - t0;
    tf.dispose(outs);
    return ms;
  };
  try {
    for (const v of ATTENTION_VARIANTS) await once(v);
    const times = Object.fromEntries(ATTENTION_VARIANTS.map((v) => [v, [] as number[]])) as Record<AttentionVariant, number[]>;
    for (let round = 0; round < reps; round++) {
      const order = ATTENTION_VARIANTS.map((_, i) => ATTENTION_VARIANTS[(i + round) % ATTENTION_VARIANTS.length]);
      for (const variant of order) times[variant].push(await once(variant));
    }
    const ms = Object.fromEntries(ATTENTION_VARIANTS.map((v) => [v, median(times[v])])) as Record<AttentionVariant, number>;
    const choice = ATTENTION_VARIANTS.reduce((best, v) => (ms[v] < ms[best] ? v : best), 'dense' as AttentionVariant);
    return { choice, ms, shape, adapter, software: isSoftwareAdapter(adapter), measuredAt: Date.now(), cached: false };
  } finally {
    tf.dispose([q, k, v, dy, mask]);
  }
}

/** The cache key: adapter and shape. */
export function attentionChoiceKey(adapter: string, s: AttentionShape): string {
  return `attention:${adapter}:${s.K}x${s.G}x${s.T}x${s.D}`;
}

/** The cached choice for this adapter and shape, or a fresh measurement (then cached). */
export function attentionVariantFor(adapter: string, shape: AttentionShape, measure: typeof timeAttentionVariants = timeAttentionVariants): Promise<AttentionChoice> {
  return cachedChoice(attentionChoiceKey(adapter, shape), (c: AttentionChoice) => (ATTENTION_VARIANTS as readonly string[]).includes(c.choice), () => measure(shape, adapter));
}
