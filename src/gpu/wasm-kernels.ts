// Kernels of tfjs-backend-wasm replaced where tfjs copies memory it need not:
//  - Slice, Unpack (tf.unstack), SplitV (tf.split) read their input through a view of the wasm
//    heap. tfjs's Slice reads it with readSync(), which copies the whole input out of the heap
//    (HEAPU8.slice) before copying the part it wants, so unstacking a [12, 768, 64] tensor copied
//    it 12 times: 16 ms instead of about 1. The attention core's per-(batch, kv head) slices and
//    the chunked loss's row blocks go through these on every step.
//  - Identity shares the input's buffer (reference count), as tfjs's cpu, WebGL and WebGPU
//    backends do; tfjs-wasm copied it. The autograd tape clones every tensor a kernel saves for
//    its gradient through Identity, so each saved activation was a second copy of itself.
//  - Cast to the dtype a tensor already has shares its buffer too (tfjs-wasm copied it). tfjs's
//    gradient of every multiply casts both operands to float32, so each backward multiply copied
//    its inputs: ~570 copies a step at the 135M shape.
// Strings keep tfjs's kernels (they do not live in the heap).
// Also: heapFloat32(), a float32 tensor filled in place (on wasm, straight in the heap).
import * as tf from '@tensorflow/tfjs';
import { installGemmKernel } from '../kernels/gemm';

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

type HeapArray = Float32Array | Int32Array | Uint8Array;

interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): HeapArray;
  incRef(dataId: object): void;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Copies the box begin..begin+size of src (row-major, `shape`) into dst, one innermost run at a time. */
export function copyBox(src: HeapArray, shape: number[], dst: HeapArray, begin: number[], size: number[]): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Trailing axes taken whole merge into one contiguous run.
  let run = size[rank - 1];
  let outer = rank - 1;
  while (outer > 0 && size[outer] === shape[outer] && begin[outer] === 0) {
    outer--;
    run *= size[outer];
  }
  let base = 0;
  for (let d = 0; d < rank; d++) base += begin[d] * strides[d];
  const runs = sizeOf(size) / run;
  const idx = new Array<number>(outer).fill(0);
  for (let r = 0; r < runs; r++) {
    let off = base;
    for (let d = 0; d < outer; d++) off += idx[d] * strides[d];
    dst.set(src.subarray(off, off + run), r * run);
    for (let d = outer - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

function sliceInfo(backend: WasmBackendInternals, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (sizeOf(size) > 0) copyBox(backend.typedArrayFromHeap(x), x.shape, backend.typedArrayFromHeap(out), begin, size);
  return out;
}

type KernelArgs = { inputs: Record<string, TensorInfo>; attrs: Record<string, unknown>; backend: WasmBackendInternals };
type KernelFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];

function slice(args: KernelArgs): TensorInfo {
  const x = args.inputs.x;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs.begin as number[], args.attrs.size as number[]);
  return sliceInfo(args.backend, x, begin, size);
}

/** x cut along `axis` into consecutive pieces of the given sizes. */
function pieces(backend: WasmBackendInternals, x: TensorInfo, axis: number, sizes: number[]): TensorInfo[] {
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceInfo(backend, x, begin, size);
    begin[axis] += s;
    return out;
  });
}

function unpack(args: KernelArgs): TensorInfo[] {
  const x = args.inputs.value;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const outShape = x.shape.filter((_, i) => i !== axis);
  return pieces(args.backend, x, axis, new Array<number>(x.shape[axis]).fill(1)).map((out) => ({ ...out, shape: outShape }));
}

function splitV(args: KernelArgs): TensorInfo[] {
  const x = args.inputs.x;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  return pieces(args.backend, x, axis, tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs.numOrSizeSplits as number | number[], axis));
}

function identity(args: KernelArgs): TensorInfo {
  const x = args.inputs.x;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * A float32 tensor of `shape` whose values `fill` writes. On wasm it writes into the tensor's own
 * heap memory (no JS array allocated, zeroed and then copied into the heap, which for a decoded
 * [1536, 576] weight cost as much as the decoding); elsewhere into a fresh array. `fill` must not
 * allocate backend memory (the heap may grow, detaching the view).
 */
export function heapFloat32(shape: number[], fill: (out: Float32Array) => void): tf.Tensor {
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown as WasmBackendInternals;
    const info = backend.makeOutput(shape, 'float32');
    if (sizeOf(shape) > 0) fill(backend.typedArrayFromHeap(info) as Float32Array);
    return tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
  }
  const out = new Float32Array(sizeOf(shape));
  fill(out);
  return tf.tensor(out, shape, 'float32');
}

/** Each replacement, or null where tfjs's own kernel should run (strings, a Cast that converts). */
const notString = (input: string, fn: KernelFunc) => (args: KernelArgs) => (args.inputs[input].dtype === 'string' ? null : fn(args));
const REPLACEMENTS: [string, (args: KernelArgs) => TensorInfo | TensorInfo[] | null][] = [
  ['Slice', notString('x', slice)],
  ['Unpack', notString('value', unpack)],
  ['SplitV', notString('x', splitV)],
  ['Identity', notString('x', identity)],
  ['Cast', (args) => (args.inputs.x.dtype === args.attrs.dtype ? identity(args) : null)],
];

let registered = false;

/** Replaces tfjs-wasm's Slice, Unpack, SplitV, Identity and same-dtype Cast (once; call after the wasm backend is registered). */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const [name, mine] of REPLACEMENTS) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue; // the wasm backend is not in this bundle
    const tfjsFunc = original.kernelFunc as unknown as KernelFunc;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ((args: KernelArgs) => mine(args) ?? tfjsFunc(args)) as unknown as tf.KernelFunc });
  }
  installGemmKernel(); // BatchMatMul: the studio's GEMM (src/kernels/gemm.ts)
  registered = true;
}
