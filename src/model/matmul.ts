// Matrix products in the layout each backend runs fast. tfjs-wasm's own kernel multiplies with a
// transposed operand about 10x slower than without one (measured in Node, 1024x256 by 688x256:
// x·Wᵀ through matMul(x, W, false, true) 190 ms; transpose(W) then matMul 16 ms), and tfjs's MatMul
// gradient is itself built from transposed products. On WebGPU, whose shaders read either layout
// at full speed, and on wasm with the studio's GEMM (src/kernels/gemm.ts, which reads transposes
// while packing and replaces the backend's BatchMatMul), these helpers are tfjs's own matMul. Only
// where neither is at hand (the cpu backend, wasm without SIMD) do they transpose explicitly and
// carry custom gradients made of plain products.
import * as tf from '@tensorflow/tfjs';
import { wasmGemm } from '../kernels/gemm';

/** Whether the current backend multiplies transposed (and batched) operands at full speed. */
export function nativeTransposes(): boolean {
  return tf.getBackend() === 'webgpu' || wasmGemm();
}

/** a [N, K] · bᵀ with b [M, K] -> [N, M]; gradients for both a and b. */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return nativeTransposes() ? tf.matMul(a, b, false, true) : abT(a, b);
}

const abT = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor2D, b as tf.Tensor2D]);
  return {
    value: tf.matMul(a as tf.Tensor2D, tf.transpose(b as tf.Tensor2D)), // [N, M]
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D; // [N, M]
      const [N, K] = sa.shape;
      const M = g.shape[1];
      // db = gᵀ · a. Transposing g moves N·M floats; (aᵀ · g)ᵀ moves N·K + K·M instead, far fewer
      // for a LoRA B (K = r), where g is [N, out] and the transposed copy would be as big as g.
      const db = N * M <= N * K + K * M ? tf.matMul(tf.transpose(g), sa) : tf.transpose(tf.matMul(tf.transpose(sa), g)); // [M, K]
      return [tf.matMul(g, sb), db]; // [N, K], [M, K]
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * x [N, K] · wT with a frozen wT [K, M] -> [N, M]; only x gets a gradient, dx = dy · w, where
 * `w` [M, K] is passed when it is at hand (saving a transpose) or derived from wT.
 */
export function frozenMatMul(x: tf.Tensor2D, wT: tf.Tensor2D, w?: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((xi, save) => {
    (save as tf.GradSaveFunc)([]);
    return {
      value: tf.matMul(xi as tf.Tensor2D, wT), // [N, M]
      gradFunc: (dy) => (w ? tf.matMul(dy as tf.Tensor2D, w) : nativeTransposes() ? tf.matMul(dy as tf.Tensor2D, wT, false, true) : tf.matMul(dy as tf.Tensor2D, tf.transpose(wT))), // [N, K]
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(x);
}

let splitBatched = true;
/** Benchmarks: false restores tfjs's own batched matMul off WebGPU (the slow scalar path), to compare. */
export function setSplitBatchedMatMul(on: boolean): void {
  splitBatched = on;
}

/** a [N, K] · b [K, M] -> [N, M]; gradients da = dy · bᵀ and db = aᵀ · dy with explicit transposes. */
const abFast = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor2D, b as tf.Tensor2D]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), // [N, M]
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D; // [N, M]
      return [tf.matMul(g, tf.transpose(sb)), tf.matMul(tf.transpose(sa), g)]; // [N, K], [K, M]
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * Batched product over leading dims: a [..., M, K] · b [..., K, N] (or bᵀ with b [..., N, K]) ->
 * [..., M, N], same leading dims on both. tfjs-wasm runs batched or transposed products in a scalar
 * single-threaded loop; off WebGPU this splits the batch into 2-D products with explicit transposes
 * (XNNPACK's path), gradients included. Attention's per-head products go through here.
 */
export function batchedMatMul(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor {
  if (nativeTransposes() || !splitBatched) return tf.matMul(a, b, false, transposeB);
  const lead = a.shape.slice(0, -2);
  const n = lead.reduce((x, y) => x * y, 1);
  const [M, K] = a.shape.slice(-2);
  const bm = b.shape.slice(-2);
  const as = tf.unstack(a.reshape([n, M, K])) as tf.Tensor2D[]; // n x [M, K]
  const bs = tf.unstack(b.reshape([n, bm[0], bm[1]])) as tf.Tensor2D[];
  const outs = as.map((x, i) => (transposeB ? abT(x, bs[i]) : abFast(x, bs[i]))); // n x [M, N]
  const N = outs[0].shape[1];
  return tf.stack(outs).reshape([...lead, M, N]);
}
