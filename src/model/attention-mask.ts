// Additive attention masks (0 where a query may look, -1e9 where not) for causal, sliding-window
// and packed attention. A query at absolute position q sees key position s iff s <= q and, on a
// sliding layer of window W, q - s < W (its own token and the W - 1 before it, as transformers'
// sliding_window_overlay). Packed rows also require both tokens to be in the same example.
import * as tf from '@tensorflow/tfjs';

export interface MaskRequest {
  B: number;
  /** New (query) tokens. */
  T: number;
  /** Query heads per kv head: rows repeat G times (queries of one group are stacked along time). */
  G: number;
  /** Keys before the new tokens (prefix + cache); they sit at positions 0..past-1. */
  past: number;
  /** Sliding window, or null for full attention. */
  window: number | null;
  /** Packed rows: per-token segment ids [B*T] (positions are consecutive within a segment). */
  packing?: { segments: Int32Array };
}

const BLOCKED = -1e9;

/** [G*T, past+T] unpacked (broadcast over the batch), or [B, 1, G*T, T] packed. */
export function attentionMask(r: MaskRequest): tf.Tensor {
  const { B, T, G, past, window } = r;
  const W = window ?? Infinity;
  if (r.packing) {
    const seg = r.packing.segments;
    const m = new Float32Array(B * G * T * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let s = 0; s < T; s++) {
          if (s <= t && t - s < W && seg[b * T + s] === seg[b * T + t]) continue;
          for (let g = 0; g < G; g++) m[((b * G + g) * T + t) * T + s] = BLOCKED;
        }
      }
    }
    return tf.tensor4d(m, [B, 1, G * T, T]);
  }
  const S = past + T;
  const m = new Float32Array(G * T * S);
  for (let t = 0; t < T; t++) {
    const q = past + t;
    for (let s = 0; s < S; s++) {
      if (s <= q && q - s < W) continue;
      for (let g = 0; g < G; g++) m[(g * T + t) * S + s] = BLOCKED;
    }
  }
  return tf.tensor2d(m, [G * T, S]);
}

/** How one block of (query times, key positions) is masked: all visible, all blocked, or an additive [n, m] mask. */
export type MaskBlock = 'visible' | 'hidden' | Float32Array;

/** Whether query time t (0..T-1, absolute position past + t) of batch row b may see key position s. */
function visible(r: MaskRequest, b: number, t: number, s: number): boolean {
  const q = r.past + t;
  if (s > q || q - s >= (r.window ?? Infinity)) return false;
  const seg = r.packing?.segments;
  return !seg || seg[b * r.T + s] === seg[b * r.T + t];
}

/**
 * The mask of query times [t0, t1) against keys [s0, s1) of batch row b (the rows of one time are
 * the same for every query head, so a block is per time, not per stacked row). Packed rows and
 * blocks cut by the causal line or a window's edge get a dense mask; the others are classified
 * from their corners alone.
 */
export function maskBlock(r: MaskRequest, b: number, t0: number, t1: number, s0: number, s1: number): MaskBlock {
  const W = r.window ?? Infinity;
  const first = r.past + t0;
  const last = r.past + t1 - 1;
  if (s0 > last || s1 - 1 <= first - W) return 'hidden'; // after every query, or before every window
  if (!r.packing && s1 - 1 <= first && s0 > last - W) return 'visible';
  const n = t1 - t0;
  const m = s1 - s0;
  const out = new Float32Array(n * m);
  let hidden = 0;
  for (let t = 0; t < n; t++) {
    for (let s = 0; s < m; s++) {
      if (visible(r, b, t0 + t, s0 + s)) continue;
      out[t * m + s] = BLOCKED;
      hidden++;
    }
  }
  return hidden === 0 ? 'visible' : hidden === n * m ? 'hidden' : out;
}
