// The attention core softmax(q·kᵀ·scale + mask)·v with its own gradient: the forward keeps only
// q, k and v; the backward rebuilds the probabilities (as flash attention does) instead of autograd
// keeping every [B, K, G*T, S] tensor of the way (scores, scaled, capped, masked, probabilities:
// most of a layer's saved bytes at T = 256). Off WebGPU it runs one (batch, kv head) slice at a time
// with 2-D untransposed products, tfjs-wasm's fast path; on WebGPU as batched products.
//
// Shapes: q [B, K, M, D] (M = G*T, the G query heads of a kv head stacked along time),
// k, v [B, K, S, D], mask [M, S] or [B, 1, M, S] (additive), out [B, K, M, D].
import * as tf from '@tensorflow/tfjs';
import { nativeTransposes } from './matmul';
import { fusedOpsActive, maskedSoftmax, softmaxBackward } from './fused';

export interface AttentionCoreOptions {
  /** Multiplier of q·kᵀ (1/sqrt(D), or the family's query scale). */
  scale: number;
  /** Gemma 2-style score soft-cap: cap * tanh(s / cap); 0 or null for none. */
  softcap: number | null;
  /**
   * Off WebGPU, split into per-(batch, kv head) 2-D products only when one slice's M x S x D is at
   * least this (default 2^18): below it the extra kernels cost more than the scalar loop does.
   */
  sliceMinWork?: number;
}

export const DEFAULT_SLICE_MIN_WORK = 1 << 18;

/** a · b with optional transposes; explicit transposes off WebGPU so every product is untransposed. */
function mm(a: tf.Tensor, b: tf.Tensor, ta = false, tb = false): tf.Tensor {
  if (nativeTransposes() || a.rank > 2) return tf.matMul(a, b, ta, tb); // batched: tfjs's own kernel
  return tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b);
}

/** Probabilities (and tanh of the capped scores, for the gradient) of one slice or batch. */
function probabilities(q: tf.Tensor, k: tf.Tensor, mask: tf.Tensor, o: AttentionCoreOptions): { p: tf.Tensor; th: tf.Tensor | null } {
  // WebGPU without a soft-cap: scale, mask and softmax in one dispatch (fused.ts).
  if (!o.softcap && fusedOpsActive()) return { p: maskedSoftmax(mm(q, k, false, true) as tf.Tensor4D, mask, o.scale), th: null };
  let s = tf.mul(mm(q, k, false, true), o.scale); // [.., M, S]
  let th: tf.Tensor | null = null;
  if (o.softcap) {
    th = tf.tanh(tf.div(s, o.softcap));
    s = tf.mul(th, o.softcap);
  }
  return { p: tf.softmax(tf.add(s, mask)), th };
}

/** Runs `f` on each (b, k) slice off WebGPU, or once on the whole batch, and stacks the outputs. */
function perSlice(q: tf.Tensor4D, k: tf.Tensor4D, extra: tf.Tensor4D[], mask: tf.Tensor, minWork: number, f: (q: tf.Tensor, k: tf.Tensor, extra: tf.Tensor[], mask: tf.Tensor) => tf.Tensor[]): tf.Tensor[] {
  const [B, K, M, D] = q.shape;
  const S = k.shape[2];
  if (nativeTransposes() || M * S * D < minWork) return f(q, k, extra, mask);
  const flat = (t: tf.Tensor4D) => tf.unstack(t.reshape([B * K, t.shape[2], t.shape[3]])); // B*K x [rows, D]
  const qs = flat(q);
  const ks = flat(k);
  const es = extra.map(flat);
  const masks = mask.rank === 4 ? tf.unstack(mask.reshape([mask.shape[0] ?? 1, M, S])) : null; // per batch row when packed
  const outs: tf.Tensor[][] = [];
  for (let i = 0; i < B * K; i++) {
    const m = masks ? masks[masks.length === 1 ? 0 : Math.floor(i / K)] : mask;
    outs.push(tf.tidy(() => f(qs[i], ks[i], es.map((e) => e[i]), m)));
  }
  return outs[0].map((_, j) => {
    const t = outs.map((o) => o[j]);
    const [rows, cols] = t[0].shape as [number, number];
    return tf.stack(t).reshape([B, K, rows, cols]);
  });
}

let fused = true;
/** Benchmarks: false restores plain tfjs ops and autograd (every score tensor saved), to compare. */
export function setFusedAttention(on: boolean): void {
  fused = on;
}
/** Whether the core (and, for long sequences, blocked attention) replaces the plain ops. */
export function fusedAttention(): boolean {
  return fused;
}

/** Plain tfjs ops, autograd keeping every intermediate: the reference and the benchmark's old path. */
export function attentionReference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor, o: AttentionCoreOptions): tf.Tensor4D {
  let s = tf.matMul(q, k, false, true).mul(o.scale); // [B, K, M, S]
  if (o.softcap) s = tf.mul(tf.tanh(tf.div(s, o.softcap)), o.softcap);
  return tf.matMul(tf.softmax(s.add(mask)), v) as tf.Tensor4D; // [B, K, M, D]
}

export function attentionCore(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor, o: AttentionCoreOptions): tf.Tensor4D {
  if (!fused) return attentionReference(q, k, v, mask, o);
  // The mask is an input too (its gradient is zero), so the tape keeps it alive for the backward
  // even when the forward ran inside a tidy that has since ended.
  const f = tf.customGrad((qi, ki, vi, mi, save) => {
    const [qq, kk, vv] = [qi, ki, vi] as tf.Tensor4D[];
    const mask_ = mi as tf.Tensor;
    (save as tf.GradSaveFunc)([qq, kk, vv, mask_]);
    const minWork = o.sliceMinWork ?? DEFAULT_SLICE_MIN_WORK;
    const [out] = perSlice(qq, kk, [vv], mask_, minWork, (qs, ks, [vs], m) => [mm(probabilities(qs, ks, m, o).p, vs)]); // [.., M, D]
    return {
      value: out as tf.Tensor4D,
      gradFunc: (dy, saved) => {
        const [sq, sk, sv, sm] = saved as tf.Tensor4D[];
        const grads = perSlice(sq, sk, [sv, dy as tf.Tensor4D], sm, minWork, (qs, ks, [vs, dO], m) => {
          const { p, th } = probabilities(qs, ks, m, o); // [.., M, S]
          const dP = mm(dO, vs, false, true); // [.., M, S]
          const dV = mm(p, dO, true, false); // [.., S, D]
          let dS: tf.Tensor;
          if (!th && fusedOpsActive()) dS = softmaxBackward(p, dP, o.scale); // one dispatch on WebGPU
          else {
            dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true))); // softmax backward
            if (th) dS = tf.mul(dS, tf.sub(1, tf.square(th)));
            dS = tf.mul(dS, o.scale);
          }
          return [mm(dS, ks), mm(dS, qs, true, false), dV]; // dQ [.., M, D], dK [.., S, D], dV
        });
        return [...grads, tf.zerosLike(sm)];
      },
    };
  }) as (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor) => tf.Tensor4D;
  return f(q, k, v, mask);
}
