// The studio's GEMM (assembly/gemm.ts) on Node's tfjs-wasm heap against a plain float64 product:
// every transpose, shapes that cut the 4 x 8 register tile, the 256-deep K slices, the 128-row A
// blocks and the 1024-column B blocks mid-way; batched and shared operands; NF4 weights decoded
// while packing; and tf.matMul (and its gradients) on wasm taking the GEMM through BatchMatMul.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../cli/node-runtime';
import { gemmMatMul, nf4Gemm, setGemmKernel, wasmGemm } from './gemm';
import { requireSimdKernels, setSimdKernels } from './simd-kernels';
import { blockAbsmax, dequantizeNf4, quantizeNf4 } from '../model/nf4';
import { uniformValues as randoms } from '../util/random';
import { maxRelativeError } from '../util/compare';

const kernels = requireSimdKernels;

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

afterEach(() => {
  setGemmKernel(true);
  setSimdKernels(true);
});

/** C [M, N] = op(A) · op(B) in float64, A stored [M, K] or (ta) [K, M], B stored [K, N] or (tb) [N, K]. */
function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ta ? k * M + i : i * K + k] * b[tb ? j * K + k : k * N + j];
      c[i * N + j] = s;
    }
  return c;
}

// [M, N, K]: odd edges everywhere, K past one 256-deep slice, M past one 128-row block, N past 1024.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 16],
  [33, 70, 257],
  [130, 9, 40],
  [129, 1031, 13],
  [64, 48, 600],
];

describe('gemm on the wasm heap equals a float64 product within 1e-5 relative', () => {
  for (const [M, N, K] of SHAPES) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      it(`[${M}, ${K}] · [${K}, ${N}], transposeA ${ta}, transposeB ${tb}`, () => {
        const a = randoms(M * K, M + N + K);
        const b = randoms(K * N, M * N + K);
        const at = tf.tensor2d(a, ta ? [K, M] : [M, K]);
        const bt = tf.tensor2d(b, tb ? [N, K] : [K, N]);
        const c = gemmMatMul(kernels(), at, bt, ta, tb);
        expect(c.shape).toEqual([M, N]);
        expect(maxRelativeError(c.dataSync(), reference(a, b, M, N, K, ta, tb))).toBeLessThan(1e-5);
        tf.dispose([at, bt, c]);
      });
    }
  }

  it('batched operands, and one matrix shared by every batch entry of the other', () => {
    const [n, M, N, K] = [3, 20, 11, 30];
    const a = randoms(n * M * K, 1);
    const b = randoms(n * K * N, 2);
    const at = tf.tensor3d(a, [n, M, K]);
    const bt = tf.tensor3d(b, [n, N, K]);
    const c = gemmMatMul(kernels(), at, bt, false, true);
    expect(c.shape).toEqual([n, M, N]);
    const out = c.dataSync();
    for (let i = 0; i < n; i++) {
      const ref = reference(a.subarray(i * M * K), b.subarray(i * N * K), M, N, K, false, true);
      expect(maxRelativeError(out.subarray(i * M * N, (i + 1) * M * N), ref)).toBeLessThan(1e-5);
    }
    const shared = tf.tensor2d(b.subarray(0, K * N), [K, N]);
    const c2 = gemmMatMul(kernels(), at, shared);
    const out2 = c2.dataSync();
    for (let i = 0; i < n; i++) {
      const ref = reference(a.subarray(i * M * K), b, M, N, K, false, false);
      expect(maxRelativeError(out2.subarray(i * M * N, (i + 1) * M * N), ref)).toBeLessThan(1e-5);
    }
    tf.dispose([at, bt, c, shared, c2]);
  });

  it('K = 0 gives zeros', () => {
    const c = gemmMatMul(kernels(), tf.zeros([5, 0]), tf.zeros([0, 9]));
    expect(Array.from(c.dataSync())).toEqual(new Array(45).fill(0));
    c.dispose();
  });
});

describe('NF4 weights decoded while packing', () => {
  // [M rows, Nw out, Kw in]
  for (const [M, Nw, Kw] of [[40, 48, 200], [33, 1030, 70], [130, 7, 300]] as const) {
    for (const doubleQuant of [false, true]) {
      it(`x [${M}, ${Kw}] · Wᵀ and dy [${M}, ${Nw}] · W, W [${Nw}, ${Kw}], doubleQuant ${doubleQuant}`, () => {
        const q = quantizeNf4(randoms(Nw * Kw, Nw + Kw), Nw, Kw, { doubleQuant });
        const w = dequantizeNf4(q); // [Nw, Kw] fp32
        const heap = { outFeatures: Nw, inFeatures: Kw, codes: tf.tensor1d(q.codes, 'int32'), absmax: tf.tensor1d(blockAbsmax(q), 'float32') };
        const x = randoms(M * Kw, 3);
        const dy = randoms(M * Nw, 4);
        const xt = tf.tensor2d(x, [M, Kw]);
        const dyt = tf.tensor2d(dy, [M, Nw]);
        const y = nf4Gemm(kernels(), xt, heap, true);
        const dx = nf4Gemm(kernels(), dyt, heap, false);
        expect(y.shape).toEqual([M, Nw]);
        expect(dx.shape).toEqual([M, Kw]);
        expect(maxRelativeError(y.dataSync(), reference(x, w, M, Nw, Kw, false, true))).toBeLessThan(1e-5);
        expect(maxRelativeError(dx.dataSync(), reference(dy, w, M, Kw, Nw, false, false))).toBeLessThan(1e-5);
        tf.dispose([heap.codes, heap.absmax, xt, dyt, y, dx]);
      });
    }
  }
});

describe('tf.matMul on wasm runs the GEMM through BatchMatMul', () => {
  it('products and their gradients equal the backend own kernel, for every transpose', () => {
    expect(wasmGemm()).toBe(true);
    const [M, N, K] = [70, 45, 90];
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const a = tf.tensor2d(randoms(M * K, 5), ta ? [K, M] : [M, K]);
      const b = tf.tensor2d(randoms(K * N, 6), tb ? [N, K] : [K, N]);
      const dy = tf.tensor2d(randoms(M * N, 7), [M, N]);
      const run = () => {
        const y = tf.matMul(a, b, ta, tb);
        const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.matMul(x, z, ta, tb).mul(dy).sum())([a, b]);
        return [y, ga, gb];
      };
      const on = run();
      setGemmKernel(false);
      const off = run();
      setGemmKernel(true);
      for (let i = 0; i < 3; i++) expect(maxRelativeError(on[i].dataSync(), off[i].dataSync())).toBeLessThan(1e-5);
      tf.dispose([a, b, dy, ...on, ...off]);
    }
  });

  it('batched attention-shaped products [B, H, T, D] · [B, H, T, D]ᵀ', () => {
    const shape = [2, 3, 40, 16];
    const q = tf.tensor4d(randoms(2 * 3 * 40 * 16, 8), shape as [number, number, number, number]);
    const k = tf.tensor4d(randoms(2 * 3 * 40 * 16, 9), shape as [number, number, number, number]);
    const on = tf.matMul(q, k, false, true);
    setGemmKernel(false);
    const off = tf.matMul(q, k, false, true);
    expect(on.shape).toEqual([2, 3, 40, 40]);
    expect(maxRelativeError(on.dataSync(), off.dataSync())).toBeLessThan(1e-5);
    tf.dispose([q, k, on, off]);
  });
});
