// The SIMD kernels of src/kernels/assembly/kernels.ts on tfjs-backend-wasm's own heap: the module
// imports the backend's WebAssembly.Memory, so a tensor is handed over as its byte offset in the
// heap (tfjs-wasm's dataIdMap memoryOffset) and outputs are tensors tfjs allocated (makeOutput).
// Nothing is copied in or out. Used where generation multiplies a few rows by a frozen weight
// (nf4-linear.ts, frozen-head.ts); every caller keeps tfjs's path for
// other backends, for many rows, and when the kernels are switched off (setSimdKernels, to compare).
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BINARIES } from './generated/kernel-binaries';
import { NF4_LEVELS } from '../model/nf4';

export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface WasmBackend {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory }; _malloc(bytes: number): number; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The module's exports (pointers are byte offsets into the heap; see kernels.ts for each product). */
interface KernelExports {
  nf4Matvec(x: number, K: number, codes: number, absmax: number, tables: number, y: number, n0: number, n1: number): void;
  nf4Matmul4(x0: number, x1: number, x2: number, x3: number, K: number, codes: number, absmax: number, tables: number, y0: number, y1: number, y2: number, y3: number, n0: number, n1: number): void;
  int8Matvec(x: number, K: number, codes: number, scale: number, y: number, n0: number, n1: number): void;
  nf4Matvec2(x0: number, x1: number, K: number, codes: number, absmax: number, tables: number, y0: number, y1: number, n0: number, n1: number): void;
  int8Matvec2(x0: number, x1: number, K: number, codes: number, scale: number, y0: number, y1: number, n0: number, n1: number): void;
  int8Rows(ids: number, count: number, V: number, K: number, codes: number, scale: number, out: number): number;
  ropeHeadsFirst(x: number, B: number, T: number, H: number, D: number, cos: number, sin: number, ropeB: number, out: number): void;
  rmsNorm(x: number, rows: number, C: number, w: number, eps: number, offset: number, out: number): void;
  gemm(
    M: number, N: number, K: number,
    a: number, aRow: number, aCol: number,
    b: number, bRow: number, bCol: number,
    bKind: number, absmax: number, levels: number, Kw: number,
    c: number, work: number, n0: number, n1: number,
  ): void;
  gemmWorkBytes(): number;
}

export type KernelVariant = 'relaxed-simd' | 'simd';

interface Loaded {
  backend: WasmBackend;
  exports: KernelExports;
  variant: KernelVariant;
  /** Byte offset of the NF4 tables (nf4Tables) in the heap: malloc'd once per backend, outside tfjs's tensors. */
  tables: number;
  /** Byte offset of the GEMM's packing space (gemmWorkBytes), malloc'd at the first GEMM; 0 before. */
  gemmWork: number;
  /** The compiled module and the heap: the GEMM's helper threads instantiate the same on the shared heap. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
}

let loaded: Loaded | null = null;
let enabled = true;
/** Set once loading failed for this backend instance, so it is not retried per product. */
let failedFor: object | null = null;

const decode = (b64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/** Benchmarks and tests: false makes every caller take tfjs's path (the kernels stay loaded). */
export function setSimdKernels(on: boolean): void {
  enabled = on;
}

/** The kernels on the current backend, or null (not wasm, no SIMD, switched off, or the heap is out of reach). */
export function simdKernels(): Loaded | null {
  if (!enabled || tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackend;
  if (loaded?.backend === backend) return loaded;
  if (failedFor === backend) return null;
  loaded = null;
  try {
    loaded = load(backend);
  } catch {
    failedFor = backend;
  }
  return loaded;
}

/** The loaded kernels, or an error saying they did not load (tests and benchmarks that need them). */
export function requireSimdKernels(): Loaded {
  const k = simdKernels();
  if (!k) throw new Error(`the SIMD kernels did not load on tfjs-wasm (backend: ${tf.getBackend()})`);
  return k;
}

/** The kernels where nothing would record their results for a gradient (they have none of their own), or null. */
export function untapedKernels(): Loaded | null {
  const engine = tf.engine() as unknown as { isTapeOn(): boolean };
  return engine.isTapeOn() ? null : simdKernels();
}

/** Rows of x up to which products by a frozen weight run as SIMD kernels (they read every weight once per four rows, or per row for int8). */
export const SIMD_MAX_ROWS = 32;

function load(backend: WasmBackend): Loaded | null {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    failedFor = backend;
    return null;
  }
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const relaxed = decode(shared ? KERNEL_BINARIES.relaxedShared : KERNEL_BINARIES.relaxed);
  const plain = decode(shared ? KERNEL_BINARIES.simdShared : KERNEL_BINARIES.simd);
  // Relaxed SIMD (fused multiply-add) where the engine has it: Chromium does, Node 20 only behind a flag.
  const variant: KernelVariant | null = WebAssembly.validate(relaxed) ? 'relaxed-simd' : WebAssembly.validate(plain) ? 'simd' : null;
  if (!variant) {
    failedFor = backend;
    return null;
  }
  const module = new WebAssembly.Module(variant === 'relaxed-simd' ? relaxed : plain);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const table = nf4Tables();
  const tables = backend.wasm._malloc(table.byteLength) >>> 0;
  backend.wasm.HEAPU8.set(new Uint8Array(table.buffer), tables); // HEAPU8 is read after malloc, which may grow the heap
  return { backend, exports: instance.exports as unknown as KernelExports, variant, tables, gemmWork: 0, module, memory };
}

/** The kernels' NF4 tables (144 bytes, see kernels.ts): levels, their fp32 bytes as four swizzle tables, a 0x0f mask. */
function nf4Tables(): Float32Array {
  const t = new Float32Array(36);
  t.set(NF4_LEVELS);
  const levelBytes = new Uint8Array(t.buffer, 0, 64);
  const bytes = new Uint8Array(t.buffer);
  for (let b = 0; b < 4; b++) for (let q = 0; q < 16; q++) bytes[64 + 16 * b + q] = levelBytes[4 * q + b];
  bytes.fill(0x0f, 128, 144);
  return t;
}

/** Byte offset of a tensor's data in the heap. */
export function heapOffset(k: Loaded, t: TensorInfo | tf.Tensor): number {
  const d = k.backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('src/kernels/simd-kernels.ts: tensor is not on the wasm backend');
  return d.memoryOffset;
}

/** A fresh float32 tensor of `shape` in the heap, written by `fill` with its byte offset. */
export function output(k: Loaded, shape: number[], fill: (ptr: number) => void): tf.Tensor {
  const info = k.backend.makeOutput(shape, 'float32');
  fill(heapOffset(k, info));
  return tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
}

/** An NF4 weight [N, K] resident in the heap: packed codes (nf4.ts layout) and fp32 absmax per 64-block. */
export interface HeapNf4 {
  readonly outFeatures: number; // N
  readonly inFeatures: number; // K
  readonly codes: tf.Tensor1D; // int32 words, eight codes each
  readonly absmax: tf.Tensor1D; // float32
}

/**
 * x [M, K] · dequant(W)ᵀ -> [M, N], W never decoded to memory. Rows go four at a time; two rows
 * (two sequences decoded side by side) go as one-row products do, bit for bit, decoded once.
 */
export function nf4MatMul(k: Loaded, x: tf.Tensor2D, w: HeapNf4): tf.Tensor2D {
  const [M, K] = x.shape;
  const N = w.outFeatures;
  const e = k.exports;
  const codes = heapOffset(k, w.codes);
  const absmax = heapOffset(k, w.absmax);
  const tables = k.tables;
  return output(k, [M, N], (y) => {
    const xp = heapOffset(k, x);
    const row = (m: number) => xp + m * K * 4;
    const out = (m: number) => y + m * N * 4;
    if (M === 2) return e.nf4Matvec2(row(0), row(1), K, codes, absmax, tables, out(0), out(1), 0, N);
    let m = 0;
    for (; m + 4 <= M; m += 4) e.nf4Matmul4(row(m), row(m + 1), row(m + 2), row(m + 3), K, codes, absmax, tables, out(m), out(m + 1), out(m + 2), out(m + 3), 0, N);
    if (M - m >= 2) {
      // Two or three rows left: the four-row kernel with the last row repeated (its result written twice).
      const r = (i: number) => Math.min(m + i, M - 1);
      e.nf4Matmul4(row(r(0)), row(r(1)), row(r(2)), row(r(3)), K, codes, absmax, tables, out(r(0)), out(r(1)), out(r(2)), out(r(3)), 0, N);
    } else if (M - m === 1) e.nf4Matvec(row(m), K, codes, absmax, tables, out(m), 0, N);
  }) as tf.Tensor2D;
}

/** An int8 table [V, K] resident in the heap: codes (one byte each) and the per-row absmax. */
export interface HeapInt8 {
  readonly rows: number; // V
  readonly cols: number; // K
  readonly codes: tf.Tensor; // int32 words holding the bytes, row-major
  readonly scale: tf.Tensor1D; // float32 [V]
}

/** Copies an int8 table into the heap (the tensors are the caller's to keep and dispose). */
export function heapInt8(k: Loaded, codes: Int8Array, scale: Float32Array, rows: number, cols: number): HeapInt8 {
  const info = k.backend.makeOutput([Math.ceil(codes.length / 4)], 'int32');
  const bytes = k.backend.typedArrayFromHeap(info) as Int32Array;
  new Int8Array(bytes.buffer, bytes.byteOffset, codes.length).set(codes);
  const c = tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
  return { rows, cols, codes: c, scale: tf.tensor1d(scale, 'float32') };
}

/** x [M, K] · dequant(W)ᵀ -> [M, V] (the int8 head's logits): rows in pairs, each as a one-row product computes it. */
export function int8MatMul(k: Loaded, x: tf.Tensor2D, w: HeapInt8): tf.Tensor2D {
  const [M, K] = x.shape;
  const V = w.rows;
  const codes = heapOffset(k, w.codes);
  const scale = heapOffset(k, w.scale);
  return output(k, [M, V], (y) => {
    const xp = heapOffset(k, x);
    let m = 0;
    for (; m + 2 <= M; m += 2) k.exports.int8Matvec2(xp + m * K * 4, xp + (m + 1) * K * 4, K, codes, scale, y + m * V * 4, y + (m + 1) * V * 4, 0, V);
    if (m < M) k.exports.int8Matvec(xp + m * K * 4, K, codes, scale, y + m * V * 4, 0, V);
  }) as tf.Tensor2D;
}

/** Rows of the table at ids [n] int32 -> [n, K], or the position of the first id outside [0, V) (nothing allocated then). */
export function int8Gather(k: Loaded, ids: tf.Tensor1D, w: HeapInt8): tf.Tensor2D | { badPosition: number } {
  const n = ids.shape[0];
  let bad = -1;
  const out = output(k, [n, w.cols], (y) => {
    bad = k.exports.int8Rows(heapOffset(k, ids), n, w.rows, w.cols, heapOffset(k, w.codes), heapOffset(k, w.scale), y);
  }) as tf.Tensor2D;
  if (bad < 0) return out;
  out.dispose();
  return { badPosition: bad };
}

/** x [B, T, H, D] rotated by cos/sin [B | 1, T, 1, D], heads first: [B, H, T, D] (bit-identical to fused.ts's composition). */
export function ropeHeadsFirst(k: Loaded, x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const [B, T, H, D] = x.shape;
  return output(k, [B, H, T, D], (y) => {
    k.exports.ropeHeadsFirst(heapOffset(k, x), B, T, H, D, heapOffset(k, cos), heapOffset(k, sin), cos.shape[0], y);
  }) as tf.Tensor4D;
}

/** RMSNorm of x [..., C] with weight w [C] (see kernels.ts rmsNorm). */
export function rmsNormRows<T extends tf.Tensor>(k: Loaded, x: T, w: tf.Tensor1D, eps: number, offset: number): T {
  const C = x.shape[x.rank - 1];
  return output(k, x.shape, (y) => k.exports.rmsNorm(heapOffset(k, x), x.size / C, C, heapOffset(k, w), eps, offset, y)) as T;
}
