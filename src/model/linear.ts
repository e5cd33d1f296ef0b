// Frozen linear layers of the base model. Every projection goes through this interface so the
// storage of the frozen weight (fp32 today, NF4 4-bit next) is invisible to the forward pass,
// the LoRA path and autograd. y = x · Wᵀ with W stored [out, in] as in Hugging Face checkpoints.
import * as tf from '@tensorflow/tfjs';
import { frozenMatMul, nativeTransposes } from './matmul';

export interface FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x [N, in] -> y [N, out] */
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * dy [N, out] -> dy · W [N, in]: apply's input gradient, computed without its forward (a
   * recomputed layer's backward needs only this of its last product). Frozen weights only: it
   * carries no gradient to W, so a trainable linear leaves it out.
   */
  inputGrad?(dy: tf.Tensor2D): tf.Tensor2D;
  /** Bytes the frozen weight occupies in backend memory. */
  readonly weightBytes: number;
  /** Kind of storage, for display and benchmarks. */
  readonly precision: 'fp32' | 'nf4';
  dispose(): void;
}

/**
 * An fp32 weight, held in one layout chosen for the backend: [out, in] where transposed products
 * are native (WebGPU), [in, out] elsewhere so the forward product needs no transpose (matmul.ts).
 */
export class DenseLinear implements FrozenLinear {
  readonly precision = 'fp32' as const;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [out, in] or, when `transposed`, [in, out]. */
  private readonly stored: tf.Tensor2D;
  private readonly transposed: boolean;

  /** weight [out, in]; owned (and possibly replaced by its transpose) from here on. */
  constructor(weight: tf.Tensor2D) {
    [this.outFeatures, this.inFeatures] = weight.shape;
    // Off WebGPU, Wᵀ: a few rows (generation) times a plain weight is XNNPACK's matrix-vector path.
    this.transposed = tf.getBackend() !== 'webgpu';
    if (this.transposed) {
      this.stored = tf.transpose(weight); // [in, out]
      weight.dispose();
    } else this.stored = weight;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.transposed ? frozenMatMul(x, this.stored) : tf.matMul(x, this.stored, false, true); // [N, out]
  }

  inputGrad(dy: tf.Tensor2D): tf.Tensor2D {
    if (!this.transposed) return tf.matMul(dy, this.stored); // [N, in]
    return tf.tidy(() => (nativeTransposes() ? tf.matMul(dy, this.stored, false, true) : tf.matMul(dy, tf.transpose(this.stored)))); // [N, in]
  }

  get weightBytes(): number {
    return this.inFeatures * this.outFeatures * 4;
  }

  dispose(): void {
    this.stored.dispose();
  }
}
