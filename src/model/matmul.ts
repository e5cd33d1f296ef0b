// Matrix products in the layout each backend runs fast. tfjs-wasm multiplies with a transposed
// operand about 10x slower than without one (measured in Node, 1024x256 by 688x256: x·Wᵀ through
// matMul(x, W, false, true) 190 ms; transpose(W) then matMul 16 ms; the 2048-row output head 550 vs
// 49 ms), and tfjs's MatMul gradient is itself built from transposed products. So off WebGPU these
// helpers transpose explicitly and carry custom gradients made of plain products only; on WebGPU,
// whose shaders read either layout at full speed, they are tfjs's own matMul.
import * as tf from '@tensorflow/tfjs';

/** Whether the current backend multiplies transposed operands at full speed. */
export function nativeTransposes(): boolean {
  return tf.getBackend() === 'webgpu';
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
      return [tf.matMul(g, sb), tf.matMul(tf.transpose(g), sa)]; // [N, K], [M, K]
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
      gradFunc: (dy) => tf.matMul(dy as tf.Tensor2D, w ?? tf.transpose(wT)), // [N, K]
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(x);
}
