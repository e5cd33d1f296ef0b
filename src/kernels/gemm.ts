// Matrix products on the wasm backend through the studio's GEMM (assembly/gemm.ts): blocked and
// packed, register tiles of 4 x 8 with fused multiply-add where the engine has relaxed SIMD.
// Transposed operands are read through strides while packing, so no transposed copy is made, and
// an NF4 weight is decoded block by block while packing, so its fp32 form never exists whole. A
// few rows by a plain weight (generation) read the weight in place. Every product takes the same
// sums in the same order for a given row, whatever the number of rows: a row's result never
// depends on the path (a reference pass and a training pass of the same row agree bit for bit).
// Callers (src/model/matmul.ts, nf4-linear.ts) keep tfjs's path on other backends and when the
// kernels are off (setSimdKernels) or disabled for products (setGemmKernel, to compare).
import * as tf from '@tensorflow/tfjs';
import { type HeapNf4, type TensorInfo, heapOffset, output, simdKernels } from './simd-kernels';
import { runSplit } from './gemm-pool';

type Loaded = NonNullable<ReturnType<typeof simdKernels>>;

let gemmOn = true;
/** Benchmarks and tests: false sends every product back to tfjs's matMul (the other kernels stay). */
export function setGemmKernel(on: boolean): void {
  gemmOn = on;
}

/** The kernels when products should run the GEMM, or null. */
export function gemmKernels(): Loaded | null {
  return gemmOn ? simdKernels() : null;
}

function work(k: Loaded): number {
  if (!k.gemmWork) k.gemmWork = k.backend.wasm._malloc(k.exports.gemmWorkBytes()) >>> 0;
  return k.gemmWork;
}

/** The shapes of a product a · b, or null when the GEMM does not take it (tfjs's kernel does). */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, always: boolean) {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transposeB ? [bc, br] : [br, bc];
  if (K !== Kb) return null;
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  const batchA = leadA.reduce((x, y) => x * y, 1);
  const batchB = leadB.reduce((x, y) => x * y, 1);
  // Equal leading dims, or one side a single matrix shared by every batch entry of the other.
  let lead: number[];
  if (leadA.length === leadB.length && leadA.every((d, i) => d === leadB[i])) lead = leadA;
  else if (batchB === 1 && leadB.length <= leadA.length) lead = leadA;
  else if (batchA === 1 && leadA.length <= leadB.length) lead = leadB;
  else return null;
  // A tall plain A by a few columns of B (the head as W · hᵀ while generating): XNNPACK streams
  // A once, where the GEMM would copy all of it into panels.
  const plain = !always && !transposeA && !transposeB && batchA === 1 && batchB === 1;
  if (plain && N <= 32 && M >= 1024) return null;
  // One to four rows by a plain weight (decoding a token): XNNPACK's matrix-vector product reads
  // its weight packed once per tensor; the GEMM reads it in place, about 1.5x slower per token.
  if (plain && M <= 4) return null;
  return { M, N, K, lead, batch: Math.max(batchA, batchB), batchA, batchB };
}

/**
 * a · b on the wasm heap: a [..., M, K] (or [..., K, M] with transposeA), b [..., K, N] (or
 * [..., N, K] with transposeB) -> [..., M, N], or null when the GEMM does not take the product
 * (`always`: also the generation shapes it leaves to XNNPACK).
 */
function gemmInfo(k: Loaded, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, always = false): TensorInfo | null {
  const p = plan(a, b, transposeA, transposeB, always);
  if (!p) return null;
  const { M, N, K } = p;
  const w = work(k);
  const info = k.backend.makeOutput([...p.lead, M, N], 'float32');
  const c = heapOffset(k, info);
  const ap = heapOffset(k, a);
  const bp = heapOffset(k, b);
  for (let i = 0; i < p.batch; i++) {
    const args = [
      M, N, K,
      ap + (p.batchA === 1 ? 0 : i * M * K * 4), transposeA ? 1 : K, transposeA ? M : 1,
      bp + (p.batchB === 1 ? 0 : i * K * N * 4), transposeB ? 1 : N, transposeB ? K : 1,
      0, 0, 0, 0,
      c + i * M * N * 4, w,
    ];
    runSplit(k, args, N, 2 * M * N * K);
  }
  return info;
}

/** a · b through the GEMM, whatever the shape, as a tensor (tests and benchmarks; models reach it through tf.matMul). */
export function gemmMatMul(k: Loaded, a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const info = gemmInfo(k, a, b, transposeA, transposeB, true);
  if (!info) throw new Error(`src/kernels/gemm.ts: the GEMM does not take a ${a.shape} · b ${b.shape}`);
  return tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
}

/** Whether products on the current backend run the GEMM (wasm with the SIMD kernels loaded). */
export function wasmGemm(): boolean {
  return tf.getBackend() === 'wasm' && installGemmKernel() && gemmKernels() != null;
}

let installed = false;

/**
 * Replaces tfjs-wasm's BatchMatMul (scalar for transposed or batched operands, XNNPACK otherwise)
 * with one that hands every product it takes to the GEMM, so tf.matMul, its gradients and
 * attention's batched products all run here; what it does not take (and everything while the
 * kernels are off) goes to the backend's own kernel. Called right after the wasm backend is set
 * (cli/node-runtime.ts, src/gpu/backend-choice.ts), before any product, so that no product of a
 * session runs the other path (a row's result would then differ in the last bits between two
 * passes over it). Idempotent; false where tfjs-wasm is not registered.
 */
export function installGemmKernel(): boolean {
  if (installed) return true;
  const cfg = tf.getKernel('BatchMatMul', 'wasm');
  if (!cfg) return false;
  installed = true;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...cfg, // keeps the backend's setupFunc, which its own kernel needs
    kernelFunc: (args) => {
      const { a, b } = args.inputs as unknown as { a: TensorInfo; b: TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const k = gemmKernels();
      const out = k && (k.backend as unknown) === args.backend ? gemmInfo(k, a, b, transposeA, transposeB) : null;
      return (out as unknown as tf.TensorInfo) ?? cfg.kernelFunc(args);
    },
  });
  return true;
}

/**
 * x [M, K] · dequant(W)ᵀ -> [M, Nw] with W [Nw, K] (`transposed`, the forward), or x [M, Nw] ·
 * dequant(W) -> [M, Kw] (the input gradient), W decoded only inside the GEMM's packed blocks.
 */
export function nf4Gemm(k: Loaded, x: tf.Tensor2D, w: HeapNf4, transposed: boolean): tf.Tensor2D {
  const [M, K] = x.shape;
  const Nw = w.outFeatures;
  const Kw = w.inFeatures;
  if (K !== (transposed ? Kw : Nw)) throw new Error(`src/kernels/gemm.ts: x ${x.shape} does not fit an NF4 weight [${Nw}, ${Kw}]`);
  const N = transposed ? Nw : Kw;
  const ws = work(k);
  return output(k, [M, N], (c) => {
    const args = [
      M, N, K,
      heapOffset(k, x), K, 1,
      heapOffset(k, w.codes), 0, 0,
      transposed ? 1 : 2, heapOffset(k, w.absmax), k.tables, Kw,
      c, ws,
    ];
    runSplit(k, args, N, 2 * M * N * K);
  }) as tf.Tensor2D;
}
