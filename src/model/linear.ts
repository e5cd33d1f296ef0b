// Frozen linear layers of the base model. Every projection goes through this interface so the
// storage of the frozen weight (fp32 today, NF4 4-bit next) is invisible to the forward pass,
// the LoRA path and autograd. y = x · Wᵀ with W stored [out, in] as in Hugging Face checkpoints.
import * as tf from '@tensorflow/tfjs';

export interface FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x [N, in] -> y [N, out] */
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /** Bytes the frozen weight occupies in backend memory. */
  readonly weightBytes: number;
  /** Kind of storage, for display and benchmarks. */
  readonly precision: 'fp32' | 'nf4';
  dispose(): void;
}

export class DenseLinear implements FrozenLinear {
  readonly precision = 'fp32' as const;
  readonly inFeatures: number;
  readonly outFeatures: number;

  /** weight [out, in] */
  constructor(readonly weight: tf.Tensor2D) {
    [this.outFeatures, this.inFeatures] = weight.shape;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.weight, false, true); // [N, out]
  }

  get weightBytes(): number {
    return this.inFeatures * this.outFeatures * 4;
  }

  dispose(): void {
    this.weight.dispose();
  }
}
