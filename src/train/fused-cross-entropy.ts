// Cross-entropy fused with the frozen output head, never holding the whole [N, V] logits: rows go
// through in chunks; each chunk computes its logits, log-sum-exp, loss and, at once, its input
// gradient dH = w_i (softmax - onehot) · W / count, keeps only dH [n, C] and frees the rest
// (Liger's fused linear cross-entropy, Apple's Cut Cross-Entropy). The backward pass then only
// hands the saved dH on. A head decoded block by block (int8) takes one pass over its blocks per
// chunk, as flash attention does: each block's logits once, the running max and sum rescaled, and
// dH accumulated as Σ_j exp(s_j - m) · W_j with the same rescaling, then dH = (A / sum - W[t]).
//
// Memory: the largest transient is chunkRows x blockRows floats, a few times over (logits,
// softmax, gradient); chunkRows is chosen from `chunkBytes`.
import * as tf from '@tensorflow/tfjs';
import { headLogits, type FrozenHead } from '../model/frozen-head';

export interface FusedCrossEntropyOptions {
  /** Budget for one chunk's [n, Vb] tensors, about four of them alive at once. */
  chunkBytes: number;
  /** Gemma's final_logit_softcapping: logits = cap * tanh(z / cap); 0 for none. */
  softcap: number;
}

export const DEFAULT_FUSED_CE: FusedCrossEntropyOptions = { chunkBytes: 64 * 1024 * 1024, softcap: 0 };

export class FusedCrossEntropyInputError extends Error {
  override name = 'FusedCrossEntropyInputError';
}

/** Rows per chunk so that four [rows, blockRows] float tensors fit the budget. */
export function chunkRowsFor(blockRows: number, n: number, chunkBytes: number): number {
  return Math.max(1, Math.min(n, Math.floor(chunkBytes / (16 * blockRows))));
}

/**
 * h [N, C] final hidden rows, targets [N] ids, weights [N] (0 for padding / prompt tokens) ->
 * scalar masked mean loss over weighted rows (0 when no row carries weight). Differentiable in h.
 */
export function fusedCrossEntropy(h: tf.Tensor2D, head: FrozenHead, targets: Int32Array, weights: Float32Array, opts: Partial<FusedCrossEntropyOptions> = {}): tf.Scalar {
  const o: FusedCrossEntropyOptions = { chunkBytes: opts.chunkBytes ?? DEFAULT_FUSED_CE.chunkBytes, softcap: opts.softcap ?? DEFAULT_FUSED_CE.softcap };
  const [N, C] = h.shape;
  if (C !== head.hidden) throw new FusedCrossEntropyInputError(`fusedCrossEntropy: h is [${h.shape}], the head expects [N, ${head.hidden}]`);
  if (targets.length !== N || weights.length !== N) throw new FusedCrossEntropyInputError(`fusedCrossEntropy: ${N} rows but ${targets.length} targets and ${weights.length} weights`);
  let total = 0;
  for (const w of weights) total += w;
  const count = Math.max(total, 1);
  // Only compute dH when a tape will ask for it (tf.grad / variableGrads), not under evaluation.
  const taping = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
  if (!taping) return tf.tidy(() => chunked(h, head, targets, weights, count, o, false).loss);
  const f = tf.customGrad((x, save) => {
    const { loss, dH } = chunked(x as tf.Tensor2D, head, targets, weights, count, o, true);
    (save as tf.GradSaveFunc)([dH!]);
    dH!.dispose(); // save() keeps its own clone
    return { value: loss, gradFunc: (dy, saved) => tf.mul(saved[0], dy) };
  }) as (x: tf.Tensor2D) => tf.Scalar;
  return f(h);
}

/** Loss (and dH when `grad`), chunk by chunk. */
function chunked(h: tf.Tensor2D, head: FrozenHead, targets: Int32Array, weights: Float32Array, count: number, o: FusedCrossEntropyOptions, grad: boolean): { loss: tf.Scalar; dH: tf.Tensor2D | null } {
  const N = h.shape[0];
  const n = chunkRowsFor(head.blockRows, N, o.chunkBytes);
  let loss = tf.scalar(0);
  const parts: tf.Tensor2D[] = [];
  for (let r0 = 0; r0 < N; r0 += n) {
    const rows = Math.min(n, N - r0);
    const t = targets.subarray(r0, r0 + rows);
    const w = weights.subarray(r0, r0 + rows);
    if (!grad && !w.some((x) => x !== 0)) continue;
    const out: { l: tf.Scalar; d?: tf.Tensor2D } = tf.tidy(() => {
      const hr = tf.slice(h, [r0, 0], [rows, -1]) as tf.Tensor2D; // [n, C]
      const scale = tf.tensor1d(w.map((x) => x / count)).reshape([rows, 1]); // [n, 1]
      const r = head.numBlocks === 1 ? oneBlock(hr, head, t, scale, o.softcap, grad) : onePass(hr, head, t, scale, o.softcap, grad);
      return { l: tf.sum(tf.mul(r.rowLoss, scale.reshape([rows]))) as tf.Scalar, d: r.dH ?? undefined };
    });
    const next = tf.add(loss, out.l) as tf.Scalar;
    loss.dispose();
    out.l.dispose();
    loss = next;
    if (out.d) parts.push(out.d);
  }
  if (!grad) return { loss, dH: null };
  const dH = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D); // [N, C]
  if (parts.length > 1) tf.dispose(parts);
  return { loss, dH };
}

/** s = cap * tanh(z / cap) and ds/dz = 1 - tanh², or z itself. */
function capped(z: tf.Tensor2D, cap: number): { s: tf.Tensor2D; ds: tf.Tensor2D | null } {
  if (!(cap > 0)) return { s: z, ds: null };
  const th = tf.tanh(tf.div(z, cap)) as tf.Tensor2D;
  return { s: tf.mul(th, cap) as tf.Tensor2D, ds: tf.sub(1, tf.square(th)) as tf.Tensor2D };
}

/** The whole vocabulary at once for this chunk: one product forward, one for dH. */
function oneBlock(hr: tf.Tensor2D, head: FrozenHead, t: Int32Array, scale: tf.Tensor, cap: number, grad: boolean): { rowLoss: tf.Tensor1D; dH: tf.Tensor2D | null } {
  const { w } = head.block(0);
  const V = head.vocabSize;
  const { s, ds } = capped(headLogits(hr, w), cap); // [n, V]
  const lse = tf.logSumExp(s, 1, true); // [n, 1]
  const onehot = tf.oneHot(tf.tensor1d(t, 'int32'), V); // [n, V]
  const picked = tf.sum(tf.mul(s, onehot), 1, true); // [n, 1]
  const rowLoss = tf.sub(lse, picked).reshape([-1]) as tf.Tensor1D; // [n]
  if (!grad) return { rowLoss, dH: null };
  let g = tf.mul(tf.sub(tf.exp(tf.sub(s, lse)), onehot), scale); // [n, V]
  if (ds) g = tf.mul(g, ds);
  return { rowLoss, dH: tf.matMul(g, w) as tf.Tensor2D }; // [n, V]·[V, C] = [n, C]
}

/**
 * Block by block in one pass. With e_j = exp(s_j - m) under the running row max m, the softmax
 * gradient's Σ_j softmax_j · W_j is (Σ_j e_j · W_j) / sum, so A = Σ_j e_j · W_j is kept and rescaled
 * by exp(m_old - m_new) whenever the max grows, like the sum. The target term is ds_t · W[t] (ds_t the
 * soft-cap's derivative at the target, 1 without a cap), from the head's own rows.
 */
function onePass(hr: tf.Tensor2D, head: FrozenHead, t: Int32Array, scale: tf.Tensor, cap: number, grad: boolean): { rowLoss: tf.Tensor1D; dH: tf.Tensor2D | null } {
  const [n, C] = hr.shape;
  let m = tf.fill([n, 1], -Infinity) as tf.Tensor2D; // running max [n, 1]
  let sum = tf.zeros([n, 1]) as tf.Tensor2D; // running Σ exp(s - m)
  let picked = tf.zeros([n, 1]) as tf.Tensor2D; // s at the target
  let A: tf.Tensor2D | null = grad ? (tf.zeros([n, C]) as tf.Tensor2D) : null; // running Σ exp(s - m)·ds · W
  for (let j = 0; j < head.numBlocks; j++) {
    const next: { m: tf.Tensor2D; sum: tf.Tensor2D; picked: tf.Tensor2D; A?: tf.Tensor2D } = tf.tidy(() => {
      const { wt, start } = head.blockT(j); // [C, Vb]
      const Vb = wt.shape[1];
      const { s, ds } = capped(tf.matMul(hr, wt) as tf.Tensor2D, cap); // [n, Vb]
      wt.dispose();
      const onehot = tf.oneHot(tf.tensor1d(t.map((x) => x - start), 'int32'), Vb); // [n, Vb]: ids outside the block give a zero row
      const bm = tf.maximum(m, tf.max(s, 1, true)) as tf.Tensor2D;
      const alpha = tf.exp(tf.sub(m, bm)); // [n, 1]: 0 at the first block (m = -inf)
      const e = tf.exp(tf.sub(s, bm)); // [n, Vb]
      const s2 = tf.add(tf.mul(sum, alpha), tf.sum(e, 1, true)) as tf.Tensor2D;
      const p2 = tf.add(picked, tf.sum(tf.mul(s, onehot), 1, true)) as tf.Tensor2D;
      let a2: tf.Tensor2D | undefined;
      if (A) {
        const { w, owned } = head.block(j); // [Vb, C]
        a2 = tf.add(tf.mul(A, alpha), tf.matMul(ds ? tf.mul(e, ds) : e, w)) as tf.Tensor2D; // [n, Vb]·[Vb, C] = [n, C]
        if (owned) w.dispose();
      }
      return { m: bm, sum: s2, picked: p2, A: a2 };
    });
    tf.dispose([m, sum, picked]);
    A?.dispose();
    ({ m, sum, picked } = next);
    A = next.A ?? null;
  }
  const lse = tf.add(m, tf.log(sum)); // [n, 1]
  const rowLoss = tf.sub(lse, picked).reshape([-1]) as tf.Tensor1D;
  if (!A) return { rowLoss, dH: null };
  const target = head.rowsAt(t); // [n, C]
  const dsT = cap > 0 ? tf.sub(1, tf.square(tf.div(picked, cap))) : null; // [n, 1]: 1 - tanh² at the target
  const dH = tf.mul(tf.sub(tf.div(A, sum), dsT ? tf.mul(target, dsT) : target), scale) as tf.Tensor2D; // [n, C]
  return { rowLoss, dH };
}
