// WebGPU picks its NF4 kernel by measurement on the user's own GPU: the fused kernel (4-bit codes
// decoded inside the matmul's tiles) against dequantize-then-matmul, timed on the loaded model's
// largest projection at a training micro-batch's row count, forward and input gradient, the two
// alternated so drift hits both. The faster one is used; the result is cached in IndexedDB per GPU
// adapter and shape, so the measurement runs once. A software adapter (SwiftShader) is timed the
// same way but flagged: its times never stand for a GPU.
import * as tf from '@tensorflow/tfjs';
import { createStore, get, set, type UseStore } from 'idb-keyval';
import { createNf4LinearFromQuantized } from '../model/nf4-linear';
import { quantizeNf4 } from '../model/nf4';

export type Nf4Variant = 'fused' | 'unfused';

export interface Nf4VariantChoice {
  choice: Nf4Variant;
  /** Median milliseconds of one forward + input-gradient product, each variant. */
  fusedMs: number;
  unfusedMs: number;
  /** x [M, K] · W [N, K]ᵀ: the shape timed. */
  shape: { M: number; K: number; N: number };
  /** The GPU adapter it was measured on (its description). */
  adapter: string;
  /** A software adapter (SwiftShader, a fallback adapter): the times are not a GPU's. */
  software: boolean;
  measuredAt: number;
  /** Read from the cache (measured on an earlier visit) rather than measured now. */
  cached: boolean;
}

/** Whether an adapter description names a software rasterizer rather than a GPU. */
export function isSoftwareAdapter(description: string | null): boolean {
  return /swiftshader|fallback|llvmpipe|software|basic render/i.test(description ?? '');
}

/** The shape to time for a model: its largest projection (the MLP's) at a micro-batch of `rows` rows. */
export function timedShape(cfg: { hiddenSize: number; intermediateSize: number }, rows: number): { M: number; K: number; N: number } {
  return { M: rows, K: cfg.hiddenSize, N: cfg.intermediateSize };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times both variants on random weights of the given shape: `reps` alternated rounds after one
 * warm-up each (which also compiles the shaders). Each round is forward y = x·Wᵀ and dx = dy·W,
 * read back so the GPU work is inside the timing.
 */
export async function timeNf4Variants(shape: { M: number; K: number; N: number }, adapter: string, reps = 5): Promise<Nf4VariantChoice> {
  if (tf.getBackend() !== 'webgpu') throw new Error('timeNf4Variants: the NF4 variants are WebGPU kernels');
  const { M, K, N } = shape;
  const w = new Float32Array(N * K);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 12.9898) * 0.02; // deterministic, weight-like scale
  const q = quantizeNf4(w, N, K);
  const layers = { fused: createNf4LinearFromQuantized(q, { mode: 'auto' }), unfused: createNf4LinearFromQuantized(q, { mode: 'unfused' }) };
  const x = tf.randomNormal([M, K], 0, 1, 'float32', 1) as tf.Tensor2D;
  const dy = tf.randomNormal([M, N], 0, 1, 'float32', 2) as tf.Tensor2D;
  const once = async (v: Nf4Variant): Promise<number> => {
    const t0 = performance.now();
    const [y, dx] = tf.tidy(() => [layers[v].apply(x), layers[v].inputGrad(dy)]);
    await Promise.all([y.data(), dx.data()]);
    const ms = performance.now() - t0;
    tf.dispose([y, dx]);
    return ms;
  };
  try {
    await once('fused');
    await once('unfused');
    const times: Record<Nf4Variant, number[]> = { fused: [], unfused: [] };
    for (let r = 0; r < reps; r++) {
      const order: Nf4Variant[] = r % 2 ? ['unfused', 'fused'] : ['fused', 'unfused'];
      for (const v of order) times[v].push(await once(v));
    }
    const fusedMs = median(times.fused);
    const unfusedMs = median(times.unfused);
    return { choice: fusedMs <= unfusedMs ? 'fused' : 'unfused', fusedMs, unfusedMs, shape, adapter, software: isSoftwareAdapter(adapter), measuredAt: Date.now(), cached: false };
  } finally {
    tf.dispose([x, dy]);
    layers.fused.dispose();
    layers.unfused.dispose();
  }
}

let store: UseStore | null = null;
const variantStore = () => (store ??= createStore('studio-gpu-variants-v1', 'choices'));

/** The key a choice is cached under: the GPU adapter and the shape. */
export function choiceKey(adapter: string, shape: { M: number; K: number; N: number }): string {
  return `nf4:${adapter}:${shape.M}x${shape.K}x${shape.N}`;
}

/**
 * A measured choice from the cache under `key` (marked cached) when `valid` accepts it, else a
 * fresh measurement, then cached. Shared by every measured WebGPU choice (attention-choice.ts too).
 */
export async function cachedChoice<C extends { cached: boolean }>(key: string, valid: (c: C) => boolean, measure: () => Promise<C>): Promise<C> {
  const hit = typeof indexedDB === 'undefined' ? undefined : await get<C>(key, variantStore()).catch(() => undefined);
  if (hit && valid(hit)) return { ...hit, cached: true };
  const fresh = await measure();
  if (typeof indexedDB !== 'undefined') await set(key, fresh, variantStore()).catch(() => undefined); // a full quota only costs a re-measure
  return fresh;
}

/** The cached choice for this adapter and shape, or a fresh measurement (then cached). */
export function nf4VariantFor(adapter: string, shape: { M: number; K: number; N: number }, measure: typeof timeNf4Variants = timeNf4Variants): Promise<Nf4VariantChoice> {
  return cachedChoice(choiceKey(adapter, shape), (c: Nf4VariantChoice) => c.choice === 'fused' || c.choice === 'unfused', () => measure(shape, adapter));
}
