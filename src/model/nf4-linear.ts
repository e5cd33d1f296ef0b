// FrozenLinear over an NF4-quantized weight, on every tfjs backend. LoRA trains through apply():
// the input gradient dx = dy · dequant(W) is defined for each path, so tfjs autograd reaches A and B.
//
// Paths (chosen at creation from the active backend):
//  - 'fused'       webgpu: codes and absmax live on the GPU (nf4Bytes); the WGSL kernels in
//                  src/gpu/nf4-matmul.ts multiply straight from the codes, forward and gradient.
//  - 'gpu-dequant' webgpu, unfused (a benchmark baseline): a WGSL kernel decodes W [N, K] to fp32,
//                  then tf.matMul; the fp32 W exists only during one forward or one gradient.
//  - 'js-dequant'  wasm / cpu: the packed codes stay in JS memory (nf4Bytes, ~0.53 B per weight);
//                  each use decodes W in JS (a table lookup per byte) into a transient fp32
//                  tensor (on wasm written in place in the heap), freed right after the matmul: Wᵀ for the forward, W for the gradient. Peak
//                  extra memory is one layer's fp32 weight. Decoding in JS rather than with tfjs
//                  ops because tfjs has no bit shifts and int32 division on wasm goes through
//                  float32, which cannot hold a 32-bit packed word exactly.
//                  On wasm, a product of at most SIMD_MAX_ROWS rows (generation: one token, a short
//                  prompt) instead runs the SIMD kernel of src/kernels on a copy of the codes in the
//                  heap (made at the first such product, ~0.56 B per weight), decoding in registers:
//                  no fp32 weight at all. The gradient stays inputGrad's.
import * as tf from '@tensorflow/tfjs';
import type { FrozenLinear } from './linear';
import { nativeTransposes } from './matmul';
import { type Nf4Weight, blockAbsmax, dequantizeNf4Into, nf4Bytes, quantizeNf4 } from './nf4';
import { heapFloat32 } from '../gpu/wasm-kernels';
import { type HeapNf4, SIMD_MAX_ROWS, nf4MatMul, simdKernels } from '../kernels/simd-kernels';
import { gemmKernels, nf4Gemm } from '../kernels/gemm';
import {
  NF4_DEQUANTIZE,
  NF4_MATMUL,
  NF4_MATMUL_DQ,
  NF4_MATMUL_GRAD_X,
  type Nf4KernelAttrs,
  nf4KernelsActive,
  registerNf4Kernels,
} from '../gpu/nf4-matmul';

export type Nf4Path = 'fused' | 'gpu-dequant' | 'js-dequant';

export interface Nf4LinearOptions {
  /** 8-bit absmax in blocks of 256 (0.127 instead of 0.5 bits of overhead per weight). */
  doubleQuant?: boolean;
  /** 'auto': fused on webgpu, js-dequant elsewhere. 'unfused' forces dequantize-then-matMul. */
  mode?: 'auto' | 'unfused';
}

export class Nf4InputShapeError extends Error {
  override name = 'Nf4InputShapeError';
}

export class Nf4Linear implements FrozenLinear {
  readonly precision = 'nf4' as const;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly path: Nf4Path;
  readonly weightBytes: number;
  private readonly attrs: Nf4KernelAttrs;
  /** Quantized constants as backend tensors (webgpu paths only). */
  private readonly gpuInputs: Record<string, tf.Tensor> | null;
  private readonly q: Nf4Weight | null;
  private readonly forward: (x: tf.Tensor2D) => tf.Tensor2D;
  /** The codes and fp32 absmax in the wasm heap, for the SIMD kernel (made at its first use). */
  private heap: HeapNf4 | null = null;

  constructor(q: Nf4Weight, opts: Nf4LinearOptions = {}) {
    [this.outFeatures, this.inFeatures] = q.shape;
    const doubleQuant = q.dq != null;
    this.attrs = { outFeatures: this.outFeatures, inFeatures: this.inFeatures, doubleQuant };
    this.weightBytes = nf4Bytes(q.numel, { doubleQuant });
    if (tf.getBackend() === 'webgpu') registerNf4Kernels();
    if (nf4KernelsActive()) {
      this.path = opts.mode === 'unfused' ? 'gpu-dequant' : 'fused';
      this.gpuInputs = tf.tidy(() => gpuTensors(q));
      Object.values(this.gpuInputs).forEach((t) => tf.keep(t));
      this.q = null;
    } else {
      this.path = 'js-dequant';
      this.gpuInputs = null;
      this.q = q;
    }
    this.forward =
      this.path === 'fused'
        ? (x) => this.fused(x)
        : (tf.customGrad((x, save) => this.unfused(x as tf.Tensor2D, save as tf.GradSaveFunc)) as (x: tf.Tensor2D) => tf.Tensor2D);
  }

  /** x [N, in] -> y [N, out] */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Nf4InputShapeError(
        `src/model/nf4-linear.ts apply: x has shape [${x.shape}], expected [N, ${this.inFeatures}]`,
      );
    }
    return this.forward(x);
  }

  /** dy [N, out] -> dy · dequant(W) [N, in], the same product as apply's gradient. */
  inputGrad(dy: tf.Tensor2D): tf.Tensor2D {
    if (this.path === 'fused') {
      return tf.engine().runKernel(NF4_MATMUL_GRAD_X, { dy, ...this.gpuInputs! }, this.attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
    }
    const g = this.q && dy.dtype === 'float32' ? gemmKernels() : null;
    if (g) return nf4Gemm(g, dy, this.heapWeight(), false); // W decoded block by block inside the GEMM
    const w = this.dequantized(); // [out, in]
    const dx = tf.matMul(dy, w) as tf.Tensor2D; // [N, in]
    w.dispose();
    return dx;
  }

  private fused(x: tf.Tensor2D): tf.Tensor2D {
    const kernel = this.attrs.doubleQuant ? NF4_MATMUL_DQ : NF4_MATMUL;
    const attrs = this.attrs as unknown as tf.NamedAttrMap;
    return tf.engine().runKernel(kernel, { x, ...this.gpuInputs! }, attrs) as tf.Tensor2D; // [N, out]
  }

  /** W [out, in] as a fresh fp32 tensor (the caller disposes it). */
  private dequantized(): tf.Tensor2D {
    if (this.gpuInputs) {
      const attrs = this.attrs as unknown as tf.NamedAttrMap;
      return tf.engine().runKernel(NF4_DEQUANTIZE, this.gpuInputs, attrs) as tf.Tensor2D;
    }
    return heapFloat32([this.outFeatures, this.inFeatures], (out) => dequantizeNf4Into(this.q!, out)) as tf.Tensor2D;
  }

  /** x · Wᵀ [N, out]. Off WebGPU a transposed operand is ~10x slower (see matmul.ts), so W is decoded straight into Wᵀ [in, out]. */
  private times(x: tf.Tensor2D): tf.Tensor2D {
    const k = this.q && x.shape[0] <= SIMD_MAX_ROWS && x.dtype === 'float32' ? simdKernels() : null;
    if (k) return nf4MatMul(k, x, this.heapWeight());
    const g = this.q && x.dtype === 'float32' ? gemmKernels() : null;
    if (g) return nf4Gemm(g, x, this.heapWeight(), true);
    if (this.q && !nativeTransposes()) {
      const q = this.q;
      const wt = heapFloat32([this.inFeatures, this.outFeatures], (out) => dequantizeNf4Into(q, out, { transposed: true }));
      const y = tf.matMul(x, wt) as tf.Tensor2D;
      wt.dispose();
      return y;
    }
    const w = this.dequantized(); // [out, in]; only the WebGPU paths get here, where transposed operands are native
    const y = tf.matMul(x, w, false, true) as tf.Tensor2D;
    w.dispose();
    return y;
  }

  private heapWeight(): HeapNf4 {
    if (!this.heap || this.heap.codes.isDisposed) {
      const q = this.q!;
      // Outside any tidy: owned by this linear until dispose().
      const [codes, absmax] = [tf.keep(tf.tensor1d(q.codes, 'int32')), tf.keep(tf.tensor1d(blockAbsmax(q), 'float32'))];
      this.heap = { outFeatures: this.outFeatures, inFeatures: this.inFeatures, codes, absmax };
    }
    return this.heap;
  }

  private unfused(x: tf.Tensor2D, save: tf.GradSaveFunc): { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor } {
    const value = this.times(x); // [N, out]
    save([]);
    return {
      value,
      gradFunc: (dy) => this.inputGrad(dy as tf.Tensor2D),
    };
  }

  dispose(): void {
    if (this.gpuInputs) Object.values(this.gpuInputs).forEach((t) => t.dispose());
    if (this.heap) tf.dispose([this.heap.codes, this.heap.absmax]);
    this.heap = null;
  }
}

/** Backend tensors holding the packed codes and the absmax constants (see src/model/nf4.ts). */
function gpuTensors(q: Nf4Weight): Record<string, tf.Tensor> {
  const codes = tf.tensor1d(q.codes, 'int32');
  if (q.absmax) return { codes, absmax: tf.tensor1d(q.absmax, 'float32') };
  const dq = q.dq!;
  const qscale = new Float32Array(1 + dq.scales.length); // [mean, scale0, scale1, ...]
  qscale[0] = dq.mean;
  qscale.set(dq.scales, 1);
  return { codes, qabs: tf.tensor1d(dq.codes, 'int32'), qscale: tf.tensor1d(qscale, 'float32') };
}

/** The loader's factory: quantize weight [out, in] (row-major) and wrap it. */
export function createNf4Linear(
  weight: Float32Array,
  outFeatures: number,
  inFeatures: number,
  opts: Nf4LinearOptions = {},
): FrozenLinear {
  return new Nf4Linear(quantizeNf4(weight, outFeatures, inFeatures, opts), opts);
}

/** Wrap an already-quantized weight (e.g. read back from the IndexedDB cache). */
export function createNf4LinearFromQuantized(q: Nf4Weight, opts: Nf4LinearOptions = {}): Nf4Linear {
  return new Nf4Linear(q, opts);
}
