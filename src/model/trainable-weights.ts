// Decoder weights that are trained themselves (full fine-tuning), not frozen: a linear layer over a
// tf.Variable [out, in] whose product carries the weight's gradient, and an embedding lookup whose
// gradient needs no UnsortedSegmentSum kernel (tfjs-wasm has none, so tf.gather's own gradient fails
// there): off WebGPU the rows of dy are added into the table's gradient in JS (the data is already
// in CPU memory; N x C additions), on WebGPU it is oneHot(ids)ᵀ · dy, a product the GPU runs where
// it is (a [N, V] one-hot: 200 MB and 2·N·V·C flops at SmolLM2's 49,152 x 576, N = 1,024).
import * as tf from '@tensorflow/tfjs';
import type { FrozenLinear } from './linear';
import { tableRows, type FrozenHead } from './frozen-head';
import { matMulBT } from './matmul';

/** A projection whose fp32 weight is a trainable variable; y = x · Wᵀ with W [out, in] as in Hugging Face. */
export class TrainableLinear implements FrozenLinear {
  readonly precision = 'fp32' as const;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(readonly weight: tf.Variable<tf.Rank.R2>) {
    [this.outFeatures, this.inFeatures] = weight.shape;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return matMulBT(x, this.weight); // [N, out], gradients for x and W
  }

  get weightBytes(): number {
    return this.inFeatures * this.outFeatures * 4;
  }

  dispose(): void {
    this.weight.dispose();
  }
}

/** table [V, C] rows at ids (int32 [N]) -> [N, C]; the gradient reaches the table, not the ids. */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const V = table.shape[0];
  const f = tf.customGrad((t, save) => {
    (save as tf.GradSaveFunc)([ids]); // kept for the backward pass (the caller's tidy may free ids before it)
    return {
      value: tf.gather(t as tf.Tensor2D, ids), // [N, C]
      gradFunc: (dy, saved) => (tf.getBackend() === 'webgpu' ? oneHotGrad(saved[0] as tf.Tensor1D, dy as tf.Tensor2D, V) : scatterAddRows(saved[0] as tf.Tensor1D, dy as tf.Tensor2D, V)),
    };
  }) as (t: tf.Tensor2D) => tf.Tensor2D;
  return f(table);
}

/** dTable [V, C] = Σ over n of dy[n] added at row ids[n], in JS (CPU backends: reading dy costs nothing). */
function scatterAddRows(ids: tf.Tensor1D, dy: tf.Tensor2D, V: number): tf.Tensor2D {
  const [N, C] = dy.shape;
  const id = ids.dataSync();
  const d = dy.dataSync();
  const out = new Float32Array(V * C);
  for (let n = 0; n < N; n++) {
    const o = id[n] * C;
    const r = n * C;
    for (let c = 0; c < C; c++) out[o + c] += d[r + c];
  }
  return tf.tensor2d(out, [V, C]);
}

/** The same as oneHot(ids)ᵀ · dy, for WebGPU. */
function oneHotGrad(ids: tf.Tensor1D, dy: tf.Tensor2D, V: number): tf.Tensor2D {
  // int32 oneHot then a cast: tfjs-wasm's oneHot with dtype 'float32' returns all zeros (tfjs 4.x).
  return tf.matMul(tf.cast(tf.oneHot(ids, V), 'float32'), dy, true, false); // [V, N] · [N, C] -> [V, C]
}

/**
 * A token table [V, C] that is trained (full fine-tuning), behind the FrozenHead interface the decoder
 * reads: one resident block, embedding rows by gatherRows (gradient to the table). The decoder's
 * head product for a trainable model is matMulBT on block(0), which also carries the gradient.
 */
export class TrainableTable implements FrozenHead {
  readonly precision = 'fp32' as const;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly numBlocks = 1;

  constructor(readonly table: tf.Variable<tf.Rank.R2>) {
    [this.vocabSize, this.hidden] = table.shape;
  }

  get blockRows(): number {
    return this.vocabSize;
  }

  get bytes(): number {
    return this.vocabSize * this.hidden * 4;
  }

  block(j: number): { w: tf.Tensor2D; start: number; owned: boolean } {
    if (j !== 0) throw new RangeError(`TrainableTable has one block, asked for ${j}`);
    return { w: this.table, start: 0, owned: false };
  }

  blockT(): { wt: tf.Tensor2D; start: number } {
    return { wt: tf.transpose(this.table), start: 0 };
  }

  rowsAt(ids: Int32Array): tf.Tensor2D {
    return tableRows(this.table, ids);
  }

  embed(ids: tf.Tensor1D): tf.Tensor2D {
    return gatherRows(this.table, ids); // [N, C]
  }

  dispose(): void {
    this.table.dispose();
  }
}
