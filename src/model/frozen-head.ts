// The frozen token table: embeddings (a row gather) and, when tied, the output head (a product
// with every row). One copy in one layout [V, C] on every backend: both products the head takes
// part in run untransposed that way (logitsᵀ = W · hᵀ and dH = G · W, see headLogits), so the
// extra transposed copy wasm used to hold is gone.
//
// Storage: 'fp32' keeps W as one backend tensor; 'int8' keeps per-row absmax int8 codes in JS
// (V*C bytes + V floats, a quarter of fp32) and decodes one block of rows at a time into a transient
// fp32 tensor, so the head never exists whole in fp32 while training. On wasm, logits for a few
// rows (generation) and embedding rows instead come from the SIMD kernels of src/kernels over a
// copy of the codes in the heap (made at the first such use): no block is decoded to fp32.
import * as tf from '@tensorflow/tfjs';
import { nativeTransposes } from './matmul';
import { heapFloat32 } from '../gpu/wasm-kernels';
import { type HeapInt8, SIMD_MAX_ROWS, heapInt8, int8Gather, int8MatMul, simdKernels, untapedKernels } from '../kernels/simd-kernels';

export type HeadPrecision = 'fp32' | 'int8';

export interface FrozenHead {
  readonly vocabSize: number;
  readonly hidden: number;
  readonly precision: HeadPrecision;
  /** Bytes held (backend memory for fp32, JS memory for int8). */
  readonly bytes: number;
  /** Rows per block handed out by block(); vocabSize when the head is resident whole. */
  readonly blockRows: number;
  readonly numBlocks: number;
  /** Rows [start, start + rows) of W as fp32 [rows, C]; dispose it after use when `owned`. */
  block(j: number): { w: tf.Tensor2D; start: number; owned: boolean };
  /** Block j transposed, [C, rows] (h · W_jᵀ then multiplies untransposed); the caller disposes it. */
  blockT(j: number): { wt: tf.Tensor2D; start: number };
  /** The rows of W at `ids`, [n, C] (no gradient). */
  rowsAt(ids: Int32Array): tf.Tensor2D;
  /** ids [N] int32 -> embedding rows [N, C] (no gradient: the table is frozen). */
  embed(ids: tf.Tensor1D): tf.Tensor2D;
  dispose(): void;
}

/**
 * h [N, C] · W_jᵀ with W_j [Vb, C] -> [N, Vb]. Where transposes are native (WebGPU, the wasm
 * GEMM for many rows) as one product; otherwise, and for a few rows on wasm (generation: the
 * GEMM would pack all of W for them, XNNPACK streams it), both the product and its gradient
 * dh = dy · W use untransposed operands. W itself gets no gradient.
 */
export function headLogits(h: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() === 'webgpu' || (h.shape[0] > FEW_ROWS && nativeTransposes())) return tf.matMul(h, w, false, true);
  const f = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([]);
    return {
      value: tf.transpose(tf.matMul(w, tf.transpose(x as tf.Tensor2D))) as tf.Tensor2D, // [Vb, C]·[C, N] = [Vb, N] -> [N, Vb]
      gradFunc: (dy) => tf.matMul(dy as tf.Tensor2D, w), // [N, Vb]·[Vb, C] = [N, C]
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(h);
}

/** Rows up to which the head on wasm streams W through XNNPACK rather than the GEMM. */
const FEW_ROWS = 32;

/** Rows of a resident table [V, C] at `ids` -> [n, C]. */
export function tableRows(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  return tf.tidy(() => tf.gather(table, tf.tensor1d(ids, 'int32'))) as tf.Tensor2D;
}

/** Full logits [N, V] (generation, evaluation of small models): block by block. */
export function allLogits(h: tf.Tensor2D, head: FrozenHead): tf.Tensor2D {
  if (head instanceof Int8Head) {
    const y = head.kernelLogits(h);
    if (y) return y;
  }
  if (head instanceof DenseHead) return headLogits(h, head.weight); // resident whole: no block copies
  const parts: tf.Tensor2D[] = [];
  for (let j = 0; j < head.numBlocks; j++) {
    const { w, owned } = head.block(j);
    parts.push(headLogits(h, w)); // [N, Vb]
    if (owned) w.dispose();
  }
  if (parts.length === 1) return parts[0];
  const out = tf.concat(parts, 1); // [N, V]
  tf.dispose(parts);
  return out;
}

/**
 * W [V, C] resident in fp32. A large vocabulary is handed out in blocks of HEAD_BLOCK_ROWS rows
 * (slices of the one copy), so the fused loss never holds [n, V] logits and its rows go through in
 * one chunk; a small one (stories260K's 512) is a single block.
 */
export class DenseHead implements FrozenHead {
  readonly precision = 'fp32' as const;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly blockRows: number;
  readonly numBlocks: number;

  /** weight [V, C], owned from here on. */
  constructor(readonly weight: tf.Tensor2D, blockRows = HEAD_BLOCK_ROWS) {
    [this.vocabSize, this.hidden] = weight.shape;
    this.blockRows = this.vocabSize > 2 * blockRows ? blockRows : this.vocabSize;
    this.numBlocks = Math.ceil(this.vocabSize / this.blockRows);
  }

  get bytes(): number {
    return this.weight.size * 4;
  }

  block(j: number): { w: tf.Tensor2D; start: number; owned: boolean } {
    if (this.numBlocks === 1) return { w: this.weight, start: 0, owned: false };
    const start = j * this.blockRows;
    const n = Math.min(this.blockRows, this.vocabSize - start);
    return { w: tf.slice(this.weight, [start, 0], [n, this.hidden]), start, owned: true }; // [n, C]
  }

  blockT(j: number): { wt: tf.Tensor2D; start: number } {
    const { w, start, owned } = this.block(j);
    const wt = tf.transpose(w); // [C, n]
    if (owned) w.dispose();
    return { wt, start };
  }

  rowsAt(ids: Int32Array): tf.Tensor2D {
    return tableRows(this.weight, ids);
  }

  embed(ids: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.weight, ids) as tf.Tensor2D; // [N, C]
  }

  dispose(): void {
    this.weight.dispose();
  }
}

export class HeadRangeError extends Error {
  override name = 'HeadRangeError';
}

/** Per-row absmax int8: W[v, k] ≈ codes[v*C + k] * scale[v] / 127. */
export interface Int8Rows {
  readonly rows: number;
  readonly cols: number;
  readonly codes: Int8Array;
  readonly scale: Float32Array;
}

export function quantizeInt8Rows(w: Float32Array, rows: number, cols: number): Int8Rows {
  if (w.length !== rows * cols) throw new HeadRangeError(`quantizeInt8Rows: ${w.length} values are not [${rows}, ${cols}]`);
  const codes = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = r * cols; k < (r + 1) * cols; k++) m = Math.max(m, Math.abs(w[k]));
    scale[r] = m;
    const inv = m > 0 ? 127 / m : 0;
    for (let k = r * cols; k < (r + 1) * cols; k++) codes[k] = Math.round(w[k] * inv);
  }
  return { rows, cols, codes, scale };
}

/** Rows [start, start + n) decoded to fp32: row-major [n, cols], or with `transposed` [cols, n]. */
export function dequantizeInt8Rows(q: Int8Rows, start: number, n: number, transposed = false): Float32Array {
  const out = new Float32Array(n * q.cols);
  dequantizeInt8RowsInto(q, start, n, out, transposed);
  return out;
}

/** Rows decoded together in the transposed layout, so each column's run of them is one contiguous write. */
const T_ROWS = 32;

/** dequantizeInt8Rows into `out` (e.g. a view of the wasm heap); Wᵀ goes in bands of T_ROWS rows. */
export function dequantizeInt8RowsInto(q: Int8Rows, start: number, n: number, out: Float32Array, transposed = false): void {
  const C = q.cols;
  if (!transposed) {
    for (let r = 0; r < n; r++) {
      const s = q.scale[start + r] / 127;
      const base = (start + r) * C;
      for (let k = 0; k < C; k++) out[r * C + k] = q.codes[base + k] * s;
    }
    return;
  }
  const scales = new Float64Array(T_ROWS); // as the row-major path computes them (no float32 rounding)
  for (let r0 = 0; r0 < n; r0 += T_ROWS) {
    const m = Math.min(T_ROWS, n - r0);
    for (let r = 0; r < m; r++) scales[r] = q.scale[start + r0 + r] / 127;
    for (let k = 0; k < C; k++) {
      const o = k * n + r0;
      for (let r = 0, i = (start + r0) * C + k; r < m; r++, i += C) out[o + r] = q.codes[i] * scales[r];
    }
  }
}

/** Rows per head block: 4,096 x C=576 is 9.4 MB of fp32 at a time. */
export const HEAD_BLOCK_ROWS = 4096;
export const INT8_HEAD_BLOCK_ROWS = HEAD_BLOCK_ROWS;

export class Int8Head implements FrozenHead {
  readonly precision = 'int8' as const;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly numBlocks: number;
  private heap: HeapInt8 | null = null;

  constructor(readonly q: Int8Rows, readonly blockRows = INT8_HEAD_BLOCK_ROWS) {
    this.vocabSize = q.rows;
    this.hidden = q.cols;
    this.numBlocks = Math.ceil(q.rows / blockRows);
  }

  get bytes(): number {
    return this.q.codes.byteLength + this.q.scale.byteLength;
  }

  block(j: number): { w: tf.Tensor2D; start: number; owned: boolean } {
    const start = j * this.blockRows;
    const n = Math.min(this.blockRows, this.vocabSize - start);
    return { w: heapFloat32([n, this.hidden], (out) => dequantizeInt8RowsInto(this.q, start, n, out)) as tf.Tensor2D, start, owned: true };
  }

  blockT(j: number): { wt: tf.Tensor2D; start: number } {
    const start = j * this.blockRows;
    const n = Math.min(this.blockRows, this.vocabSize - start);
    return { wt: heapFloat32([this.hidden, n], (out) => dequantizeInt8RowsInto(this.q, start, n, out, true)) as tf.Tensor2D, start };
  }

  rowsAt(ids: Int32Array): tf.Tensor2D {
    return this.decodedRows(ids, 'rowsAt');
  }

  /** Decoded in JS: the ids are read back (cheap on wasm/cpu; one small sync read on WebGPU). On wasm, gathered by the kernel. */
  embed(idsT: tf.Tensor1D): tf.Tensor2D {
    const k = idsT.dtype === 'int32' ? simdKernels() : null;
    if (k) {
      const rows = int8Gather(k, idsT, this.heapTable());
      if (rows instanceof tf.Tensor) return rows;
      const id = idsT.dataSync()[rows.badPosition];
      throw new HeadRangeError(`embed: token id ${id} at position ${rows.badPosition} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
    return this.decodedRows(idsT.dataSync(), 'embed');
  }

  /**
   * h [N, C] -> logits [N, V] from the SIMD kernel, or null where it does not apply (not wasm, many
   * rows, or a tape recording: the kernel carries no gradient to h, which LoRA training needs).
   */
  kernelLogits(h: tf.Tensor2D): tf.Tensor2D | null {
    const k = h.shape[0] <= SIMD_MAX_ROWS && h.dtype === 'float32' ? untapedKernels() : null;
    return k ? int8MatMul(k, h, this.heapTable()) : null;
  }

  /** The codes and scales in the wasm heap (V*C + 4V bytes), made at first use and kept until dispose(). */
  private heapTable(): HeapInt8 {
    if (!this.heap || this.heap.codes.isDisposed) {
      const k = simdKernels()!;
      const t = heapInt8(k, this.q.codes, this.q.scale, this.vocabSize, this.hidden);
      this.heap = { ...t, codes: tf.keep(t.codes), scale: tf.keep(t.scale) };
    }
    return this.heap;
  }

  /** Rows at ids decoded to fp32 [n, C]; `caller` names the method in the out-of-range message. */
  private decodedRows(ids: ArrayLike<number>, caller: string): tf.Tensor2D {
    const C = this.hidden;
    const out = new Float32Array(ids.length * C);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < this.vocabSize)) throw new HeadRangeError(`${caller}: token id ${id} at position ${i} is outside the vocabulary (0..${this.vocabSize - 1})`);
      dequantizeInt8RowsInto(this.q, id, 1, out.subarray(i * C, (i + 1) * C));
    }
    return tf.tensor2d(out, [ids.length, C]);
  }

  dispose(): void {
    if (this.heap) tf.dispose([this.heap.codes, this.heap.scale]);
    this.heap = null;
  }
}
