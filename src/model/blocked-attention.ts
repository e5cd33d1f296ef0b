// Attention in O(T) memory for long sequences (flash attention's scheme in tfjs ops): queries in
// blocks of time, each against the keys it may see in chunks, an online softmax (running row max
// and sum) across the chunks, and a backward that rebuilds each block's probabilities from the
// saved log-sum-exp instead of keeping any [M, S] tensor. Keys after a block's last query or before
// its window are never multiplied (half the products of a causal sequence, most of a sliding
// window's), and the mask is never dense: a chunk gets an [n, m] mask only where the causal line,
// a window's edge or a packed boundary cuts it.
//
// Shapes as attention-core.ts: q [B, K, M, D] with M = G*T (the G query heads of kv head k stacked
// along time: row g*T + t), k, v [B, K, S, D], out [B, K, M, D]. Inside, a unit is one (batch, kv
// head) slice [M, D] off WebGPU (2-D untransposed products, tfjs-wasm's fast path) or the whole
// batch [B, K, M, D] on WebGPU; a query block i is times [t0, t1) of every head: [.., G*n, D].
// What one call keeps for the backward: q, k, v, out and lse [B, K, M, 1]; at its peak a block step
// holds a few [.., G*n, m] tensors (n, m <= the block sizes) and the [.., D, S] key gradients.
import * as tf from '@tensorflow/tfjs';
import { maskBlock, type MaskBlock, type MaskRequest } from './attention-mask';
import { nativeTransposes } from './matmul';

export interface BlockedAttentionOptions {
  /** Multiplier of q·kᵀ. */
  scale: number;
  /** cap * tanh(s / cap) on the scaled scores; 0 or null for none. */
  softcap: number | null;
  /** Query times per block (default DEFAULT_ATTENTION_BLOCK.query, or setBlockedAttention's). */
  queryBlock?: number;
  /** Key positions per block (default DEFAULT_ATTENTION_BLOCK.key). */
  keyBlock?: number;
  /** Key positions per block in the backward (default DEFAULT_ATTENTION_BLOCK.backwardKey, at most keyBlock). */
  backwardKeyBlock?: number;
  /** 'slices': one (batch, kv head) at a time with 2-D products; 'batch': batched products; default by backend (batch on WebGPU). */
  units?: 'slices' | 'batch';
}

/**
 * Block sizes. Query blocks of 256 times: the causal line wastes half of one 256 x 256 block per
 * query block (1/8 of the work at T = 2048) while the kernel count stays low (tfjs launches each
 * op separately: a fixed 256 x 256 key grid made ~6x more kernels per step, past what tf.profile
 * can count). Key chunks up to 4,096 keys in the forward: a query block's visible keys are then
 * one chunk up to that length, [G*n, m] = 768 x 2048 floats (6 MB per kv head) at SmolLM2-135M's
 * shape and T = 2048. The backward holds ~8 such tensors per chunk (scores, probabilities, their
 * gradients) where the forward holds ~4, and it runs while the layer's other gradients are alive,
 * so its chunks stop at 512 keys: a step's peak at T = 2048 fell by ~110 MB for ~2.5x the
 * backward's chunk count (it needs no rescaling: probabilities come from the saved lse).
 */
export const DEFAULT_ATTENTION_BLOCK = { query: 256, key: 4096, backwardKey: 512 } as const;

/**
 * A forward of T new tokens over S keys uses blocked attention when T x S is at least this
 * (model/llama.ts decides per call; decoding one token never does). Below it the dense path's
 * scores are small and it launches fewer kernels; measured on wasm at SmolLM2-135M's attention
 * shape with bench/attention-core.ts.
 */
export const BLOCKED_ATTENTION_MIN_SCORES = 512 * 512;

let forced: boolean | null = null;
let blockSizes: { query: number; key: number; backwardKey?: number } = DEFAULT_ATTENTION_BLOCK;
/**
 * Tests and benchmarks: true / false forces the blocked / dense path in the decoder, null restores
 * the automatic choice; `blocks` replaces the default block sizes (small ones exercise many blocks).
 */
export function setBlockedAttention(on: boolean | null, blocks: { query: number; key: number; backwardKey?: number } = DEFAULT_ATTENTION_BLOCK): void {
  forced = on;
  blockSizes = blocks;
}

/** Whether a forward of T new tokens attending over S keys uses blocked attention. */
export function useBlockedAttention(T: number, S: number): boolean {
  return forced ?? T * S >= BLOCKED_ATTENTION_MIN_SCORES;
}

/** Keys [s0, s1) a query block attends to in one piece, with its mask (per unit, see unitMask). */
interface Chunk {
  s0: number;
  s1: number;
  /** Per batch row (one row unless packed). */
  masks: MaskBlock[];
}

interface Blocks {
  q: [number, number][]; // time ranges [t0, t1)
  /** chunks[i]: the key chunks query block i attends to (none hidden for every row). */
  chunks: Chunk[][];
}

const ranges = (n: number, size: number): [number, number][] => Array.from({ length: Math.ceil(n / size) }, (_, i) => [i * size, Math.min(n, (i + 1) * size)]);

// A forward and its recomputations see the same request object: plan its blocks once.
const plans = new WeakMap<MaskRequest, Map<string, Blocks>>();

/**
 * Query blocks of qb times; each attends to the keys the causal line and the window leave it,
 * [past + t0 - W + 1, past + t1), in chunks of at most kb keys (one chunk when they fit: the online
 * softmax then has nothing to rescale, and kernels stay few).
 */
function blocksOf(r: MaskRequest, S: number, qb: number, kb: number): Blocks {
  let byKey = plans.get(r);
  if (!byKey) plans.set(r, (byKey = new Map()));
  const key = `${S}:${qb}:${kb}`;
  let bl = byKey.get(key);
  if (!bl) {
    const q = ranges(r.T, qb);
    const rows = r.packing ? r.B : 1;
    const W = r.window ?? Infinity;
    const chunks = q.map(([t0, t1]) => {
      const lo = Math.max(0, r.past + t0 - W + 1);
      const hi = Math.min(S, r.past + t1);
      return ranges(hi - lo, kb)
        .map(([a, b]): Chunk => ({ s0: lo + a, s1: lo + b, masks: Array.from({ length: rows }, (_, row) => maskBlock(r, row, t0, t1, lo + a, lo + b)) }))
        .filter((c) => c.masks.some((m) => m !== 'hidden'));
    });
    bl = { q, chunks };
    byKey.set(key, bl);
  }
  return bl;
}

/** A chunk's mask for one unit: batch row `b`, or every row (null: the batched unit of WebGPU). */
function unitMask(c: Chunk, b: number | null, n: number): MaskBlock {
  const m = c.s1 - c.s0;
  if (b !== null || c.masks.length === 1) return c.masks[b ?? 0];
  if (c.masks.every((x) => x === 'visible')) return 'visible';
  if (c.masks.every((x) => x === 'hidden')) return 'hidden';
  const out = new Float32Array(c.masks.length * n * m);
  c.masks.forEach((x, r) => {
    if (x === 'hidden') out.fill(-1e9, r * n * m, (r + 1) * n * m);
    else if (x !== 'visible') out.set(x, r * n * m);
  });
  return out;
}

/** Scores of one block with its mask: qs [.., G*n, D] (already scaled) · kT [.., D, m]; th = tanh(s / cap) for the gradient. */
function blockScores(qs: tf.Tensor, kT: tf.Tensor, mask: MaskBlock, n: number, m: number, softcap: number | null): { s: tf.Tensor; th: tf.Tensor | null } {
  let s = tf.matMul(qs, kT); // [.., G*n, m]
  let th: tf.Tensor | null = null;
  if (softcap) {
    th = tf.tanh(tf.div(s, softcap));
    s = tf.mul(th, softcap);
  }
  if (mask instanceof Float32Array) {
    const rows = mask.length / (n * m); // 1, or B for the batched unit of packed rows
    const shape = s.shape;
    s = tf.add(s.reshape([rows, -1, n, m]), tf.tensor4d(mask, [rows, 1, n, m])).reshape(shape);
  }
  return { s, th };
}

/** The last two axes swapped: [.., r, c] -> [.., c, r]. */
function tr(x: tf.Tensor): tf.Tensor {
  const p = x.shape.map((_, i) => i);
  [p[p.length - 2], p[p.length - 1]] = [p[p.length - 1], p[p.length - 2]];
  return tf.transpose(x, p);
}

/** Query block i of x [.., G*T, E] (rows g*T + t): [.., G*n, E]. */
function queryRows(x: tf.Tensor, G: number, T: number, t0: number, t1: number): tf.Tensor {
  const lead = x.shape.slice(0, -2);
  const E = x.shape[x.shape.length - 1];
  return x.reshape([-1, T, E]).slice([0, t0, 0], [-1, t1 - t0, E]).reshape([...lead, G * (t1 - t0), E]);
}

/** Inverse of queryRows over all blocks: [.., G*n_i, E] per block -> [.., G*T, E]. */
function joinQueryRows(parts: tf.Tensor[], G: number): tf.Tensor {
  const lead = parts[0].shape.slice(0, -2);
  const E = parts[0].shape[parts[0].shape.length - 1];
  const T = parts.reduce((a, p) => a + p.shape[p.shape.length - 2] / G, 0);
  return tf.concat(parts.map((p) => p.reshape([-1, p.shape[p.shape.length - 2] / G, E])), 1).reshape([...lead, G * T, E]);
}

/** Key block j of x [.., S, E]: [.., m, E]. */
function keyRows(x: tf.Tensor, s0: number, s1: number): tf.Tensor {
  const begin = x.shape.map(() => 0);
  begin[begin.length - 2] = s0;
  const size = x.shape.map(() => -1);
  size[size.length - 2] = s1 - s0;
  return tf.slice(x, begin, size);
}

/** a + b, freeing both (a may be null: b alone). */
function addInto(a: tf.Tensor | null, b: tf.Tensor): tf.Tensor {
  if (!a) return b;
  const r = tf.add(a, b);
  a.dispose();
  b.dispose();
  return r;
}

/** Online-softmax forward of one unit: out [.., G*T, D] and lse [.., G*T, 1]. */
function unitForward(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, G: number, T: number, bl: Blocks, b: number | null, o: BlockedAttentionOptions): { out: tf.Tensor; lse: tf.Tensor } {
  const outs: tf.Tensor[] = [];
  const lses: tf.Tensor[] = [];
  bl.q.forEach(([t0, t1], i) => {
    const qs = tf.tidy(() => tf.mul(queryRows(q, G, T, t0, t1), o.scale)); // [.., G*n, D]
    let mx: tf.Tensor | null = null; // running row max [.., G*n, 1]
    let l: tf.Tensor | null = null; // running row sum of exp(s - mx)
    let acc: tf.Tensor | null = null; // running Σ exp(s - mx)·v [.., G*n, D]
    for (const c of bl.chunks[i]) {
      const mask = unitMask(c, b, t1 - t0);
      if (mask === 'hidden') continue;
      const next = tf.tidy(() => {
        const { s } = blockScores(qs, tr(keyRows(k, c.s0, c.s1)), mask, t1 - t0, c.s1 - c.s0, o.softcap); // [.., G*n, m]
        const bm = tf.max(s, -1, true);
        const m2 = mx ? tf.maximum(mx, bm) : bm;
        const p = tf.exp(tf.sub(s, m2)); // [.., G*n, m]
        const pv = tf.matMul(p, keyRows(v, c.s0, c.s1)); // [.., G*n, D]
        if (!mx) return [m2, tf.sum(p, -1, true), pv];
        const corr = tf.exp(tf.sub(mx, m2));
        return [m2, tf.add(tf.mul(l!, corr), tf.sum(p, -1, true)), tf.add(tf.mul(acc!, corr), pv)];
      });
      tf.dispose([mx!, l!, acc!].filter((t) => t));
      [mx, l, acc] = next;
    }
    // Every query sees at least its own key, so some chunk of its row was visible.
    outs.push(tf.tidy(() => tf.div(acc!, l!)));
    lses.push(tf.tidy(() => tf.add(mx!, tf.log(l!))));
    tf.dispose([qs, mx!, l!, acc!]);
  });
  const res = { out: joinQueryRows(outs, G), lse: joinQueryRows(lses, G) };
  tf.dispose([...outs, ...lses]);
  return res;
}

/** Backward of one unit from the saved out and lse: dq [.., G*T, D], dk, dv [.., S, D]. */
function unitBackward(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, out: tf.Tensor, lse: tf.Tensor, dO: tf.Tensor, G: number, T: number, bl: Blocks, b: number | null, o: BlockedAttentionOptions): tf.Tensor[] {
  const S = k.shape[k.shape.length - 2];
  const di = tf.tidy(() => tf.sum(tf.mul(dO, out), -1, true)); // [.., G*T, 1]: Σ_s p·dP per row
  const dQ: tf.Tensor[] = [];
  let dKT: tf.Tensor | null = null; // [.., D, S], transposed once at the end
  let dVT: tf.Tensor | null = null;
  // Pads a chunk's [.., D, m] to [.., D, S] at its keys.
  const padKeys = (x: tf.Tensor, s0: number, s1: number) => tf.pad(x, [...x.shape.slice(0, -1).map((): [number, number] => [0, 0]), [s0, S - s1]]);
  bl.q.forEach(([t0, t1], i) => {
    const Qi = tf.tidy(() => {
      const qi = queryRows(q, G, T, t0, t1);
      const dOi = queryRows(dO, G, T, t0, t1);
      const qs = tf.mul(qi, o.scale);
      return { qs, qsT: tr(qs), dO: dOi, dOT: tr(dOi), lse: queryRows(lse, G, T, t0, t1), di: queryRows(di, G, T, t0, t1) };
    });
    let dq: tf.Tensor | null = null; // Σ_chunks dS'·k, scaled at the end
    for (const c of bl.chunks[i]) {
      const mask = unitMask(c, b, t1 - t0);
      if (mask === 'hidden') continue;
      const [dqc, dkT, dvT] = tf.tidy(() => {
        const kj = keyRows(k, c.s0, c.s1); // [.., m, D]
        const { s, th } = blockScores(Qi.qs, tr(kj), mask, t1 - t0, c.s1 - c.s0, o.softcap);
        const p = tf.exp(tf.sub(s, Qi.lse)); // [.., G*n, m], the forward's probabilities
        const dP = tf.matMul(Qi.dO, tr(keyRows(v, c.s0, c.s1))); // [.., G*n, m]
        let dS = tf.mul(p, tf.sub(dP, Qi.di)); // softmax backward (before the scale)
        if (th) dS = tf.mul(dS, tf.sub(1, tf.square(th)));
        // [.., G*n, D]; [.., D, m] -> [.., D, S] for dKᵀ and dVᵀ
        return [tf.matMul(dS, kj), padKeys(tf.matMul(Qi.qsT, dS), c.s0, c.s1), padKeys(tf.matMul(Qi.dOT, p), c.s0, c.s1)];
      });
      dq = addInto(dq, dqc);
      dKT = addInto(dKT, dkT);
      dVT = addInto(dVT, dvT);
    }
    dQ.push(tf.tidy(() => (dq ? tf.mul(dq, o.scale) : tf.zerosLike(Qi.qs))));
    tf.dispose([...Object.values(Qi), dq!].filter((t) => t));
  });
  const zeros = () => tf.zeros([...k.shape.slice(0, -2), k.shape[k.shape.length - 1], S]);
  const res = [joinQueryRows(dQ, G), tr(dKT ?? zeros()), tr(dVT ?? zeros())];
  tf.dispose([di, ...dQ, dKT!, dVT!].filter((t) => t));
  return res;
}

/** Runs `f` per (b, k) slice off WebGPU, or once on the batch, and stacks each output back to [B, K, ..]. */
function perUnit(inputs: tf.Tensor4D[], B: number, K: number, batched: boolean, f: (xs: tf.Tensor[], b: number | null) => tf.Tensor[]): tf.Tensor4D[] {
  if (batched) return f(inputs, null) as tf.Tensor4D[];
  const flat = inputs.map((t) => tf.unstack(t.reshape([B * K, t.shape[2], t.shape[3]]))); // B*K x [rows, E]
  const outs: tf.Tensor[][] = [];
  for (let i = 0; i < B * K; i++) outs.push(f(flat.map((x) => x[i]), Math.floor(i / K)));
  tf.dispose(flat.flat());
  return outs[0].map((_, j) => {
    const stacked = tf.tidy(() => {
      const t = outs.map((o) => o[j]);
      const [rows, cols] = t[0].shape as [number, number];
      return tf.stack(t).reshape([B, K, rows, cols]) as tf.Tensor4D;
    });
    tf.dispose(outs.map((o) => o[j]));
    return stacked;
  });
}

/**
 * softmax(q·kᵀ·scale (soft-capped) + mask(r))·v with its own gradient; r describes the mask
 * (attention-mask.ts) with r.G = M / T query heads per kv head and S = r.past + r.T keys.
 */
export function blockedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, r: MaskRequest, o: BlockedAttentionOptions): tf.Tensor4D {
  const [B, K, M] = q.shape;
  const S = k.shape[2];
  const { G, T } = r;
  if (M !== G * T || S !== r.past + T) throw new Error(`blockedAttention: q rows ${M} and keys ${S} do not match the mask's G ${G}, T ${T}, past ${r.past}`);
  const qb = o.queryBlock ?? blockSizes.query;
  const kb = o.keyBlock ?? blockSizes.key;
  const bl = blocksOf(r, S, qb, kb);
  const blBack = blocksOf(r, S, qb, Math.min(kb, o.backwardKeyBlock ?? blockSizes.backwardKey ?? kb));
  const batched = (o.units ?? (nativeTransposes() ? 'batch' : 'slices')) === 'batch';
  const unitRow = (b: number | null) => (r.packing ? b : b === null ? null : 0);
  const f = tf.customGrad((qi, ki, vi, save) => {
    const [out, lse] = perUnit([qi, ki, vi] as tf.Tensor4D[], B, K, batched, ([uq, uk, uv], b) => {
      const res = unitForward(uq, uk, uv, G, T, bl, unitRow(b), o);
      return [res.out, res.lse];
    }); // [B, K, M, D], [B, K, M, 1]
    (save as tf.GradSaveFunc)([qi as tf.Tensor, ki as tf.Tensor, vi as tf.Tensor, out, lse]);
    lse.dispose(); // the tape keeps its own copy
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [sq, sk, sv, so, sl] = saved as tf.Tensor4D[];
        return perUnit([sq, sk, sv, so, sl, dy as tf.Tensor4D], B, K, batched, ([uq, uk, uv, uo, ul, ud], b) => unitBackward(uq, uk, uv, uo, ul, ud, G, T, blBack, unitRow(b), o));
      },
    };
  }) as (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D;
  return f(q, k, v);
}
