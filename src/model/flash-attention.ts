// Attention in O(T) memory on WebGPU as dedicated WGSL programs (src/gpu/flash-attention.ts): the
// scheme of blocked-attention.ts (online softmax over key tiles, a backward that rebuilds the
// probabilities from the saved log-sum-exp) in one dispatch forward and four backward, where the
// tf-op path launches dozens of kernels per layer. Same semantics and shapes as blockedAttention:
// q [B, K, M, D] (M = G*T), k, v [B, K, S, D] (S = past + T) -> out [B, K, M, D].
// What one call keeps for the backward: q, k, v and fwd [B, K, M, D+1] (out and the row's lse).
import * as tf from '@tensorflow/tfjs';
import type { MaskRequest } from './attention-mask';
import { fusedOpsActive } from './fused';
import {
  DEFAULT_FLASH_TILES, FLASH_ATTENTION_FORWARD, FLASH_ATTENTION_GRAD_KV, FLASH_ATTENTION_GRAD_Q, FLASH_ATTENTION_ROW_DOT,
  registerFlashKernels, type FlashAttrs, type FlashTiles,
} from '../gpu/flash-attention';

export interface FlashAttentionOptions {
  /** Multiplier of q·kᵀ. */
  scale: number;
  /** cap * tanh(s / cap) on the scaled scores; 0 or null for none. */
  softcap: number | null;
  /** Workgroup tiles (default flashTiles(): forced, measured or DEFAULT_FLASH_TILES). */
  tiles?: FlashTiles;
}

/** flashAttention called off the WebGPU backend: its kernels exist only there. */
export class FlashAttentionBackendError extends Error {
  name = 'FlashAttentionBackendError';
  constructor(readonly backend: string) {
    super(`flashAttention runs on the 'webgpu' backend only; the active backend is '${backend}' (use blockedAttention there)`);
  }
}

let switched: boolean | null = null;
let forcedTiles: FlashTiles | null = null;
/**
 * Tests and benchmarks: false keeps the decoder on blockedAttention's tf ops, true uses the kernels
 * on WebGPU even with the fused ops switched off, null (the default) follows the fused ops. `tiles`
 * replaces the measured (or default) tiles.
 */
export function setFlashAttention(on: boolean | null, tiles: FlashTiles | null = null): void {
  switched = on;
  forcedTiles = tiles;
}

/** What this GPU was measured to run fastest (src/gpu/attention-choice.ts, set by the engine). */
export interface PreferredAttention {
  /** Flash attention for every forward of FLASH_PREFERRED_MIN_T tokens or more, not only long ones. */
  flash: boolean;
  tiles: FlashTiles;
}
let preferred: PreferredAttention | null = null;
/** The measured choice; null (no measurement, or off WebGPU): flash only for long sequences, default tiles. */
export function setPreferredAttention(p: PreferredAttention | null): void {
  preferred = p;
}

/** Below this many new tokens (decoding, short prompts) the dense core runs unless the sequence is long. */
export const FLASH_PREFERRED_MIN_T = 16;

/** Whether a forward of T new tokens takes flash attention because it was measured faster here. */
export function flashPreferred(T: number): boolean {
  return T >= FLASH_PREFERRED_MIN_T && preferred?.flash === true && flashAttentionActive();
}

/** The tiles flashAttention uses when its options name none: forced, else measured, else the default. */
export function flashTiles(): FlashTiles {
  return forcedTiles ?? preferred?.tiles ?? DEFAULT_FLASH_TILES;
}

/** Whether the decoder's blocked attention runs as the flash kernels now (WebGPU, not switched off). */
export function flashAttentionActive(): boolean {
  if (switched === false || tf.getBackend() !== 'webgpu') return false;
  if (switched === null && !fusedOpsActive()) return false;
  registerFlashKernels();
  return true;
}

/**
 * softmax(q·kᵀ·scale (soft-capped) + mask(r))·v with its own gradient; r describes the mask
 * (attention-mask.ts) with r.G = M / T query heads per kv head and S = r.past + r.T keys.
 */
export function flashAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, r: MaskRequest, o: FlashAttentionOptions): tf.Tensor4D {
  if (tf.getBackend() !== 'webgpu') throw new FlashAttentionBackendError(tf.getBackend());
  registerFlashKernels();
  const [, , M, D] = q.shape;
  const S = k.shape[2];
  if (M !== r.G * r.T || S !== r.past + r.T) throw new Error(`flashAttention: q rows ${M} and keys ${S} do not match the mask's G ${r.G}, T ${r.T}, past ${r.past}`);
  if (r.packing && r.past !== 0) throw new Error(`flashAttention: packed rows have no past keys (past ${r.past})`);
  const attrs: FlashAttrs = { ...(o.tiles ?? flashTiles()), G: r.G, T: r.T, past: r.past, window: r.window, scale: o.scale, softcap: o.softcap, packed: !!r.packing };
  const segments = () => (r.packing ? tf.tensor1d(r.packing.segments, 'int32') : tf.zeros([1], 'int32')); // [B*T] or a placeholder
  const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  const f = tf.customGrad((qi, ki, vi, save) => {
    const seg = segments();
    const fwd = run(FLASH_ATTENTION_FORWARD, { q: qi as tf.Tensor, k: ki as tf.Tensor, v: vi as tf.Tensor, seg }); // [B, K, M, D+1]
    seg.dispose();
    (save as tf.GradSaveFunc)([qi as tf.Tensor, ki as tf.Tensor, vi as tf.Tensor, fwd]);
    const out = tf.slice(fwd, [0, 0, 0, 0], [-1, -1, -1, D]); // [B, K, M, D]
    fwd.dispose(); // the tape keeps its own copy
    return {
      value: out,
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const [sq, sk, sv, sf] = saved as tf.Tensor4D[];
          const ins = { q: sq, k: sk, v: sv, seg: segments(), fwd: sf, dy: dy as tf.Tensor };
          const rowDot = run(FLASH_ATTENTION_ROW_DOT, { dy: dy as tf.Tensor, fwd: sf }); // [B, K, M]
          const dkv = run(FLASH_ATTENTION_GRAD_KV, { ...ins, rowDot }); // [B, K, S, 2D]
          const dq = run(FLASH_ATTENTION_GRAD_Q, { ...ins, rowDot }); // [B, K, M, D]
          return [dq, tf.slice(dkv, [0, 0, 0, 0], [-1, -1, -1, D]), tf.slice(dkv, [0, 0, 0, D], [-1, -1, -1, D])];
        }),
    };
  }) as (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D;
  return f(q, k, v);
}
