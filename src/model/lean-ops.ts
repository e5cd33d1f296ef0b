// Adds and reshapes whose gradients keep nothing alive. tfjs's Add saves both inputs (to reduce
// a broadcast gradient to their shapes) and Reshape saves its input (for its shape), so under a
// tape every LoRA sum, bias, residual and head split of a decoder layer kept a tensor its backward
// never reads: at SmolLM2-135M's shape ~4,800 floats per token per layer, a third of what a layer
// kept. These take the shapes from the closure instead. Off the tape (generation, evaluation, a
// recomputed layer's forward) they are the plain ops, so decoding pays nothing for them.
import * as tf from '@tensorflow/tfjs';

interface TapeState {
  isTapeOn(): boolean;
}

/** Whether the op being built will be recorded for a backward pass. */
function taping(): boolean {
  return (tf.engine() as unknown as TapeState).isTapeOn();
}

/** a + b for tensors of one shape; the gradient passes dy to both and saves neither. */
export function addSame<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  if (!taping()) return tf.add(a, b);
  const f = tf.customGrad((x, y) => ({
    value: tf.add(x as tf.Tensor, y as tf.Tensor),
    // Two objects over dy's data: a gradient map may dispose one entry without the other.
    gradFunc: (dy) => [(dy as tf.Tensor).clone(), (dy as tf.Tensor).clone()],
  })) as (x: tf.Tensor, y: tf.Tensor) => T;
  return f(a, b);
}

/** x [N, out] + bias [out]; the gradient is dy and dy summed over rows, saving nothing. */
export function addBias(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (!taping()) return tf.add(x, bias);
  const f = tf.customGrad((a, b) => ({
    value: tf.add(a as tf.Tensor2D, b as tf.Tensor1D),
    gradFunc: (dy) => [(dy as tf.Tensor).clone(), tf.sum(dy as tf.Tensor, 0)],
  })) as (a: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
  return f(x, bias);
}

/** x reshaped; the gradient reshapes dy back and does not keep x's buffer alive. */
export function reshapeLean<T extends tf.Tensor>(x: tf.Tensor, shape: number[]): T {
  if (!taping()) return x.reshape<T>(shape);
  const inShape = x.shape;
  const f = tf.customGrad((a) => ({
    value: (a as tf.Tensor).reshape(shape),
    gradFunc: (dy) => (dy as tf.Tensor).reshape(inShape),
  })) as (a: tf.Tensor) => T;
  return f(x);
}
