// Masked, sparse-target cross-entropy. tfjs's softmaxCrossEntropy wants dense one-hot labels and
// has no mask; this takes int targets and a per-position weight (0 for padding and prompt tokens).
import * as tf from '@tensorflow/tfjs';

/**
 * logits [N, V], targets [N] int32, weights [N] float32 (0/1) -> scalar mean loss over weighted
 * positions (0 when no position carries weight).
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const V = logits.shape[1];
    const logp = tf.logSoftmax(logits); // [N, V]
    // oneHot of constant targets needs no gradient; a gather would (UnsortedSegmentSum, absent on wasm).
    const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, V)), 1); // [N]
    const count = tf.maximum(tf.sum(weights), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), count) as tf.Scalar;
  });
}
