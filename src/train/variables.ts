// Trainable variables made from fresh tensors, without leaking the tensor they start from.
import * as tf from '@tensorflow/tfjs';

/**
 * A trainable variable holding `init`'s values; `init` is disposed. (tf.variable shares init's
 * buffer, so an init left undisposed would keep the buffer alive after the variable is disposed.)
 */
export function variableFrom<R extends tf.Rank>(init: tf.Tensor<R>, name: string): tf.Variable<R> {
  const v = tf.variable(init, true, name);
  init.dispose();
  return v;
}
