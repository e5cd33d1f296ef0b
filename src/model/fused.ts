// The decoder's small element-wise and row-wise ops (and AdamW's update), each in one place: on 'webgpu' the fused WGSL
// kernels of src/gpu/fused-ops.ts (one dispatch each way where tfjs launches several), elsewhere
// the tf-op composition, which is the reference and stays exactly what wasm and cpu always ran.
// On wasm where no gradient tape records (generation), RMSNorm and RoPE run as one kernel each of
// src/kernels, bit-identical to the composition (same fp32 operations in the same order): a decoded
// token runs ~20 fewer tfjs kernels per layer, each costing more in dispatch than in arithmetic.
// Shapes: B batch, T time, H heads, D head dim, C hidden, N rows, I MLP width, S keys.
import * as tf from '@tensorflow/tfjs';
import { rmsNormRows, ropeHeadsFirst, untapedKernels } from '../kernels/simd-kernels';
import { FUSED_ADAM_MOMENT, FUSED_ADAM_PARAM, registerFusedAdamW } from '../gpu/fused-adamw';
import {
  FUSED_GATE, FUSED_MASKED_SOFTMAX, FUSED_RMS_NORM, FUSED_ROPE, FUSED_SOFTMAX_GRAD, registerFusedKernels, type GateActivation,
} from '../gpu/fused-ops';

export type { GateActivation } from '../gpu/fused-ops';

let enabled = true;
/** Benchmarks and tests: false runs the tf-op composition on WebGPU too (the path before fusion), to compare. */
export function setFusedOps(on: boolean): void {
  enabled = on;
}

/** Whether the fused kernels run now (WebGPU backend, not switched off). */
export function fusedOpsActive(): boolean {
  if (!enabled || tf.getBackend() !== 'webgpu') return false;
  registerFusedKernels();
  registerFusedAdamW();
  return true;
}

/** RoPE tables broadcastable against [B, T, H, D]. */
export interface RopeTables {
  cos: tf.Tensor4D; // [B | 1, T, 1, D]
  sin: tf.Tensor4D;
}

/** x [..., C] -> x / rms(x) * (offset + w), over the last axis. */
export function rmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor1D, eps: number, offset = 0): T {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_RMS_NORM, { x, w }, { eps, offset }) as T;
  const k = x.dtype === 'float32' && w.dtype === 'float32' ? untapedKernels() : null;
  if (k) return rmsNormRows(k, x, w, eps, offset);
  if ((tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) return rmsNormWithGrad(x, w, eps, offset);
  return rmsNormComposed(x, w, eps, offset);
}

function rmsNormComposed<T extends tf.Tensor>(x: T, w: tf.Tensor1D, eps: number, offset: number): T {
  const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
  const scale = offset ? tf.add(w, offset) : w;
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), scale) as T;
}

/**
 * RMSNorm under a tape off WebGPU: the composition's forward (the same values), its own gradient.
 * Autograd kept x², the mean, the reciprocal root and x·s for the backward, and its backward's
 * ~8 [..., C] gradients until the whole backward ended; this keeps x only and frees each
 * temporary as soon as it is used (the same dx as FusedRmsNormGradX on WebGPU:
 * dx = s·g - x·s³·rowsum(g·x)/C with g = dy·(offset + w), s = 1/sqrt(mean(x²) + eps)), and
 * dw = rowsum(dy·x·s) over the rows, for whoever differentiates w (full fine-tuning, tf.grads):
 * a custom gradient returns every input's at once, and dw is [C].
 */
function rmsNormWithGrad<T extends tf.Tensor>(x: T, w: tf.Tensor1D, eps: number, offset: number): T {
  const drop = (...ts: tf.Tensor[]) => tf.dispose(ts);
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, wi, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: rmsNormComposed(xi, wi as tf.Tensor1D, eps, offset),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor, tf.Tensor1D];
        const d = dy as tf.Tensor;
        const C = xs.shape[xs.rank - 1];
        const sq = tf.square(xs);
        const ms = tf.mean(sq, -1, true); // [..., 1]
        drop(sq);
        const s = tf.rsqrt(tf.add(ms, eps)); // [..., 1]
        drop(ms);
        const scale = offset ? tf.add(ws, offset) : ws;
        const g = tf.mul(d, scale); // [..., C]
        if (scale !== ws) drop(scale);
        const gxProd = tf.mul(g, xs);
        const gx = tf.div(tf.sum(gxProd, -1, true), C); // [..., 1]
        drop(gxProd);
        const coef = tf.mul(tf.mul(tf.mul(s, s), s), gx); // s³ · rowsum(g·x) / C
        drop(gx);
        const a = tf.mul(g, s);
        drop(g);
        const b = tf.mul(xs, coef);
        drop(coef);
        const dx = tf.sub(a, b);
        drop(a, b);
        const xsS = tf.mul(xs, s);
        drop(s);
        const prod = tf.mul(d, xsS);
        drop(xsS);
        const dw = tf.sum(prod.reshape([-1, C]), 0); // [C]
        drop(prod);
        return [dx, dw];
      },
    };
  }) as unknown as (x: tf.Tensor, w: tf.Tensor1D) => T;
  return f(x, w);
}

/** The gated MLP's middle: act(gate) * up, both [N, I]. */
export function gatedActivation(gate: tf.Tensor2D, up: tf.Tensor2D, activation: GateActivation): tf.Tensor2D {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_GATE, { g: gate, u: up }, { activation }) as tf.Tensor2D;
  if (activation === 'silu') return siluGate(gate, up);
  return tf.mul(geluTanh(gate), up) as tf.Tensor2D;
}

/**
 * silu(g) * u = g * sigmoid(g) * u with its own gradient: the tape keeps g and u only, where
 * autograd kept sigmoid(g) and g * sigmoid(g) too, and the backward frees each [N, I] temporary as
 * soon as it is used, where autograd's kept every one until the whole backward ended (at
 * SmolLM2-135M's width and 2,048 tokens each is 12.6 MB; ~10 of them per layer). The backward
 * performs autograd's operations in autograd's order (tfjs's Mul and Sigmoid gradients), so
 * gradients are bit-identical to the composition's.
 */
const siluGate = tf.customGrad((g, u, save) => {
  (save as tf.GradSaveFunc)([g as tf.Tensor, u as tf.Tensor]);
  return {
    value: tf.mul(tf.mul(g as tf.Tensor, tf.sigmoid(g as tf.Tensor)), u as tf.Tensor),
    gradFunc: (dy, saved) => {
      const [gs, us] = saved;
      const d = dy as tf.Tensor;
      const drop = (...ts: tf.Tensor[]) => tf.dispose(ts);
      const s = tf.sigmoid(gs);
      const act = tf.mul(gs, s);
      const du = tf.mul(d, act); // [N, I]
      drop(act);
      const dAct = tf.mul(d, us);
      const dg1 = tf.mul(dAct, s); // through g in g * s
      const dS = tf.mul(dAct, gs); // through s
      drop(dAct);
      const oneMinus = tf.sub(tf.scalar(1), s);
      const slope = tf.mul(s, oneMinus); // sigmoid's derivative, as tfjs's Sigmoid gradient forms it
      drop(s, oneMinus);
      const dg2 = tf.mul(dS, slope);
      drop(dS, slope);
      const dg = tf.add(dg1, dg2);
      drop(dg1, dg2);
      return [dg, du];
    },
  };
}) as (g: tf.Tensor2D, u: tf.Tensor2D) => tf.Tensor2D;

/** gelu with the tanh approximation (PyTorch's gelu(approximate='tanh')). */
function geluTanh(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as tf.Tensor2D;
}

/** q [B, T, H, D] rotated by position: q*cos + rotate_half(q)*sin, rotate_half = cat(-q2, q1). */
export function applyRope(q: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_ROPE, { x: q, cos: rope.cos, sin: rope.sin }, { layout: 'same', sign: 1 }) as tf.Tensor4D;
  return ropeComposed(q, rope);
}

/** q [B, T, H, D] rotated, then heads first: [B, H, T, D] (on WebGPU the transpose is the kernel's write order). */
export function applyRopeHeadsFirst(q: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_ROPE, { x: q, cos: rope.cos, sin: rope.sin }, { layout: 'toHeads', sign: 1 }) as tf.Tensor4D;
  const k = q.dtype === 'float32' && q.shape[3] % 2 === 0 ? untapedKernels() : null;
  if (k && rope.cos.shape[1] === q.shape[1] && rope.cos.shape[3] === q.shape[3] && (rope.cos.shape[0] === 1 || rope.cos.shape[0] === q.shape[0])) {
    return ropeHeadsFirst(k, q, rope.cos, rope.sin);
  }
  return ropeComposed(q, rope).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, D]
}

function ropeComposed(q: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  if ((tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) return ropeWithGrad(q, rope);
  return ropeRotate(q, rope);
}

function ropeRotate(q: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  const half = q.shape[3] / 2;
  const [q1, q2] = tf.split(q, [half, half], 3); // [B, T, H, D/2] each
  const rotated = tf.concat([tf.neg(q2), q1], 3); // [B, T, H, D]
  return tf.add(tf.mul(q, rope.cos), tf.mul(rotated, rope.sin));
}

/**
 * RoPE under a tape off WebGPU: the same forward, and the rotation's transpose as its gradient,
 * dx = dy·cos + rotate_halfᵀ(dy·sin) with rotate_halfᵀ(z) = cat(z2, -z1). The tables are
 * constants. Autograd kept the split halves, the negation, the concatenation and both products
 * (and their gradients until the backward ended); this keeps nothing but the tables it closes over.
 */
function ropeWithGrad(q: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  const f = tf.customGrad((x, _save) => ({
    value: ropeRotate(x as tf.Tensor4D, rope),
    gradFunc: (dy) => {
      const d = dy as tf.Tensor4D;
      const half = d.shape[3] / 2;
      const ds = tf.mul(d, rope.sin);
      const [z1, z2] = tf.split(ds, [half, half], 3); // [B, T, H, D/2] each
      tf.dispose(ds);
      const n1 = tf.neg(z1);
      const back = tf.concat([z2, n1], 3);
      tf.dispose([z1, z2, n1]);
      const dc = tf.mul(d, rope.cos);
      const dx = tf.add(dc, back);
      tf.dispose([dc, back]);
      return dx;
    },
  })) as (x: tf.Tensor4D) => tf.Tensor4D;
  return f(q);
}

/**
 * Attention probabilities softmax(s * scale + mask): s [B, K, M, S], mask [M, S] or [1 | B, 1, M, S].
 * Not differentiable on WebGPU (attention-core.ts carries its own gradient); call only where no tape records.
 */
export function maskedSoftmax(s: tf.Tensor4D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_MASKED_SOFTMAX, { s, mask }, { scale }) as tf.Tensor4D;
  return tf.softmax(tf.add(tf.mul(s, scale), mask)) as tf.Tensor4D;
}

/** The softmax backward with the score scale: p, dp [..., S] -> p * (dp - rowsum(p * dp)) * scale. */
export function softmaxBackward(p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor {
  if (fusedOpsActive()) return tf.engine().runKernel(FUSED_SOFTMAX_GRAD, { p, dp }, { scale });
  return tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
}

/** What one AdamW step of one variable needs beyond the tensors (src/train/adamw.ts). */
export interface AdamWStep {
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - lr * weightDecay; exactly 1 skips the decay. */
  decay: number;
  /** lr / (1 - beta1^step) */
  lrOverBc1: number;
  /** 1 - beta2^step */
  bc2: number;
}

/** New (p, m, v) of one variable from its gradient g; three dispatches on WebGPU instead of 13. */
export function adamwUpdate(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: AdamWStep): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  if (fusedOpsActive()) {
    const run = tf.engine().runKernel.bind(tf.engine());
    const m2 = run(FUSED_ADAM_MOMENT, { m, g }, { beta: s.beta1, squared: false }) as tf.Tensor;
    const v2 = run(FUSED_ADAM_MOMENT, { m: v, g }, { beta: s.beta2, squared: true }) as tf.Tensor;
    return { m: m2, v: v2, p: run(FUSED_ADAM_PARAM, { p, m: m2, v: v2 }, { decay: s.decay, lrOverBc1: s.lrOverBc1, bc2: s.bc2, eps: s.eps }) as tf.Tensor };
  }
  const m2 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
  const v2 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
  const decayed = s.decay !== 1 ? tf.mul(p, s.decay) : p;
  const update = tf.div(tf.mul(m2, s.lrOverBc1), tf.add(tf.sqrt(tf.div(v2, s.bc2)), s.eps));
  return { p: tf.sub(decayed, update), m: m2, v: v2 };
}
