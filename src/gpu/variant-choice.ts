// WebGPU picks its NF4 kernel by measurement on the user's own GPU: the fused kernel (4-bit codes
// decoded inside the matmul's tiles) at each of its output tiles (16, 32, 64) against
// dequantize-then-matmul, timed on the loaded model's largest projection at a training
// micro-batch's row count, forward and input gradient, in rotated order so drift hits all. The
// fastest is used; the result is cached in IndexedDB per GPU adapter and shape, so the measurement
// runs once. A software adapter (SwiftShader) is timed the
// same way but flagged: its times never stand for a GPU.
import * as tf from '@tensorflow/tfjs';
import { createStore, get, set, type UseStore } from 'idb-keyval';
import { createNf4LinearFromQuantized } from '../model/nf4-linear';
import { quantizeNf4 } from '../model/nf4';
import { NF4_TILES, nf4Tile, setNf4Tile, type Nf4Tile } from './nf4-matmul';

export type Nf4Variant = 'fused' | 'unfused';

export interface Nf4VariantChoice {
  choice: Nf4Variant;
  /** The fused kernel's fastest output tile (T x T), the one used when the fused kernel is chosen. */
  tile: Nf4Tile;
  /** Median milliseconds of one forward + input-gradient product: the fused kernel at its fastest tile, and unfused. */
  fusedMs: number;
  unfusedMs: number;
  /** The fused kernel's median at each tile. */
  fusedMsByTile: Record<`${Nf4Tile}`, number>;
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
 * Times unfused and the fused kernel at each tile on random weights of the given shape: `reps`
 * rotated rounds after one warm-up each (which also compiles the shaders). Each round is forward
 * y = x·Wᵀ and dx = dy·W, read back so the GPU work is inside the timing. The tile in force before
 * is restored.
 */
export async function timeNf4Variants(shape: { M: number; K: number; N: number }, adapter: string, reps = 5): Promise<Nf4VariantChoice> {
  if (tf.getBackend() !== 'webgpu') throw new Error('timeNf4Variants: the NF4 variants are WebGPU kernels');
  const { M, K, N } = shape;
  const w = new Float32Array(N * K);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 12.9898) * 0.02; // deterministic, weight-like scale
  const q = quantizeNf4(w, N, K);
  const fused = createNf4LinearFromQuantized(q, { mode: 'auto' });
  const unfused = createNf4LinearFromQuantized(q, { mode: 'unfused' });
  const x = tf.randomNormal([M, K], 0, 1, 'float32', 1) as tf.Tensor2D;
  const dy = tf.randomNormal([M, N], 0, 1, 'float32', 2) as tf.Tensor2D;
  type Timed = Nf4Tile | 'unfused';
  const variants: Timed[] = [...NF4_TILES, 'unfused'];
  const before = nf4Tile();
  const once = async (v: Timed): Promise<number> => {
    if (v !== 'unfused') setNf4Tile(v);
    const layer = v === 'unfused' ? unfused : fused;
    const t0 = performance.now();
    const [y, dx] = tf.tidy(() => [layer.apply(x), layer.inputGrad(dy)]);
    await Promise.all([y.data(), dx.data()]);
    const ms = performance.now() - t0;
    tf.dispose([y, dx]);
    return ms;
  };
  try {
    for (const v of variants) await once(v);
    const times = new Map<Timed, number[]>(variants.map((v) => [v, []]));
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        times.get(v)!.push(await once(v));
      }
    }
    const fusedMsByTile = Object.fromEntries(NF4_TILES.map((t) => [String(t), median(times.get(t)!)])) as Record<`${Nf4Tile}`, number>;
    const tile = NF4_TILES.reduce((best, t) => (fusedMsByTile[`${t}`] < fusedMsByTile[`${best}`] ? t : best));
    const fusedMs = fusedMsByTile[`${tile}`];
    const unfusedMs = median(times.get('unfused')!);
    return { choice: fusedMs <= unfusedMs ? 'fused' : 'unfused', tile, fusedMs, unfusedMs, fusedMsByTile, shape, adapter, software: isSoftwareAdapter(adapter), measuredAt: Date.now(), cached: false };
  } finally {
    setNf4Tile(before);
    tf.dispose([x, dy]);
    fused.dispose();
    unfused.dispose();
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
  // A record without tiles was measured before the tile sizes were: measure again.
  const valid = (c: Nf4VariantChoice) => (c.choice === 'fused' || c.choice === 'unfused') && NF4_TILES.includes(c.tile) && c.fusedMsByTile != null;
  return cachedChoice(choiceKey(adapter, shape), valid, () => measure(shape, adapter));
}
