// The SIMD kernels on Node's tfjs-wasm heap against tfjs's own products (decode in JS, then
// tf.matMul) on random shapes, odd ones included (rows that start mid-block, mid-word, K < 16),
// and the model's frozen layers taking the kernel path where they should, gradients intact.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../cli/node-runtime';
import { type HeapNf4, SIMD_MAX_ROWS, heapInt8, int8Gather, int8MatMul, nf4MatMul, rmsNormRows, ropeHeadsFirst, requireSimdKernels, setSimdKernels } from './simd-kernels';
import { applyRopeHeadsFirst, rmsNorm } from '../model/fused';
import { blockAbsmax, dequantizeNf4, quantizeNf4 } from '../model/nf4';
import { HeadRangeError, Int8Head, allLogits, dequantizeInt8Rows, quantizeInt8Rows } from '../model/frozen-head';
import { createNf4Linear } from '../model/nf4-linear';
import { uniformValues as randoms } from '../util/random';
import { maxRelativeError } from '../util/compare';

const kernels = requireSimdKernels;

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

afterEach(() => setSimdKernels(true));

it('loads the relaxed-SIMD build in Node (initNodeBackend turns the feature on for Node 20)', () => {
  expect(kernels().variant).toBe('relaxed-simd');
});

// [M rows of x, N out, K in]
const SHAPES: [number, number, number][] = [
  [1, 1536, 576], // SmolLM2-135M's gate/up
  [1, 576, 1536], // and down
  [1, 7, 13], // K < 16: every row is scalar head and tail
  [2, 33, 70], // rows start at odd nibbles and cross 64-blocks
  [3, 40, 100],
  [4, 17, 96],
  [5, 9, 200],
  [7, 64, 48], // K < 64: several rows per block
  [9, 5, 1031],
];

describe.each(SHAPES)('x [%i, K] times W [%i, %i]', (M, N, K) => {
  const w = randoms(N * K, N + 7 * K);
  const xv = randoms(M * K, M + K);

  it.each([false, true])('NF4 (doubleQuant %s) equals decode-then-tf.matMul within 1e-5', (doubleQuant) => {
    const q = quantizeNf4(w, N, K, { doubleQuant });
    tf.tidy(() => {
      const heap: HeapNf4 = { outFeatures: N, inFeatures: K, codes: tf.tensor1d(q.codes, 'int32'), absmax: tf.tensor1d(blockAbsmax(q)) };
      const x = tf.tensor2d(xv, [M, K]);
      const y = nf4MatMul(kernels(), x, heap);
      const ref = tf.matMul(x, tf.tensor2d(dequantizeNf4(q), [N, K]), false, true);
      expect(y.shape).toEqual([M, N]);
      expect(maxRelativeError(y.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
      // and not the unquantized product (a kernel reading the wrong codes would not get this close either)
      expect(maxRelativeError(y.dataSync(), tf.matMul(x, tf.tensor2d(w, [N, K]), false, true).dataSync())).toBeGreaterThan(1e-4);
    });
  });

  it('int8 rows equal decode-then-tf.matMul within 1e-5', () => {
    const q = quantizeInt8Rows(w, N, K);
    const k = kernels();
    const heap = heapInt8(k, q.codes, q.scale, N, K);
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [M, K]);
      const y = int8MatMul(k, x, heap);
      const ref = tf.matMul(x, tf.tensor2d(dequantizeInt8Rows(q, 0, N), [N, K]), false, true);
      expect(y.shape).toEqual([M, N]);
      expect(maxRelativeError(y.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
    });
    tf.dispose([heap.codes, heap.scale]);
  });
});

describe.each([[1536, 576], [33, 70], [7, 13], [5, 1031]])('two rows against W [%i, %i]', (N, K) => {
  // Two sequences decoded side by side (src/model/generate-rows.ts) must each get exactly what one alone would.
  const w = randoms(N * K, 11 * N + K);
  const xv = randoms(2 * K, 5 + K);
  const rowsApart = (product: (x: tf.Tensor2D) => tf.Tensor2D) =>
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [2, K]);
      const pair = product(x).dataSync();
      const one = [0, 1].map((r) => product(tf.slice(x, [r, 0], [1, K]) as tf.Tensor2D).dataSync());
      return { pair, one };
    });

  it('NF4: each row equals the one-row product bit for bit', () => {
    const q = quantizeNf4(w, N, K, { doubleQuant: false });
    const heap: HeapNf4 = { outFeatures: N, inFeatures: K, codes: tf.tensor1d(q.codes, 'int32'), absmax: tf.tensor1d(blockAbsmax(q)) };
    const { pair, one } = rowsApart((x) => nf4MatMul(kernels(), x, heap));
    expect(Array.from(pair.subarray(0, N))).toEqual(Array.from(one[0]));
    expect(Array.from(pair.subarray(N))).toEqual(Array.from(one[1]));
    expect(one[0]).not.toEqual(one[1]);
    tf.dispose([heap.codes, heap.absmax]);
  });

  it('int8: each row equals the one-row product bit for bit', () => {
    const q = quantizeInt8Rows(w, N, K);
    const heap = heapInt8(kernels(), q.codes, q.scale, N, K);
    const { pair, one } = rowsApart((x) => int8MatMul(kernels(), x, heap));
    expect(Array.from(pair.subarray(0, N))).toEqual(Array.from(one[0]));
    expect(Array.from(pair.subarray(N))).toEqual(Array.from(one[1]));
    tf.dispose([heap.codes, heap.scale]);
  });
});

describe('int8 table gather', () => {
  const [V, C] = [37, 45];
  const q = quantizeInt8Rows(randoms(V * C, 3), V, C);

  it('gives exactly the rows frozen-head.ts decodes in JS', () => {
    const k = kernels();
    const heap = heapInt8(k, q.codes, q.scale, V, C);
    const ids = [0, 36, 5, 5, 17];
    const rows = int8Gather(k, tf.tensor1d(ids, 'int32'), heap);
    if (!(rows instanceof tf.Tensor)) throw new Error(`rejected position ${rows.badPosition}`);
    const expected = new Float32Array(ids.length * C);
    ids.forEach((id, i) => expected.set(dequantizeInt8Rows(q, id, 1), i * C));
    expect(Array.from(rows.dataSync())).toEqual(Array.from(expected));
    tf.dispose([rows, heap.codes, heap.scale]);
  });

  it('Int8Head.embed names an id outside the vocabulary', () => {
    const head = new Int8Head(q);
    expect(() => head.embed(tf.tensor1d([1, 37], 'int32'))).toThrow(HeadRangeError);
    expect(() => head.embed(tf.tensor1d([1, 37], 'int32'))).toThrow(/token id 37 at position 1/);
    head.dispose();
  });
});

/** The kernels tfjs ran for f (ours do not go through tfjs's kernel registry; its BatchMatMul does). */
async function tfjsKernels(f: () => tf.Tensor): Promise<string[]> {
  const p = await tf.profile(() => {
    const y = f();
    y.dataSync();
    return y;
  });
  return p.kernels.map((k) => k.name);
}

describe('the model layers take the kernel path on wasm', () => {
  const [N, K] = [48, 200];
  const w = randoms(N * K, 21);

  it('Nf4Linear: one row goes through the kernel, equals the tfjs path, and keeps its input gradient', async () => {
    const lin = createNf4Linear(w, N, K, { doubleQuant: true });
    const x = tf.tensor2d(randoms(3 * K, 4), [3, K]);
    const dy = tf.tensor2d(randoms(3 * N, 5), [3, N]);
    const run = () => ({ y: lin.apply(x), gx: tf.grad((xx: tf.Tensor) => lin.apply(xx as tf.Tensor2D).mul(dy).sum())(x) });
    const on = run();
    expect(await tfjsKernels(() => lin.apply(x))).not.toContain('BatchMatMul');
    setSimdKernels(false);
    const off = run();
    expect(await tfjsKernels(() => lin.apply(x))).toContain('BatchMatMul');
    expect(maxRelativeError(on.y.dataSync(), off.y.dataSync())).toBeLessThan(1e-5);
    expect(maxRelativeError(on.gx.dataSync(), off.gx.dataSync())).toBeLessThan(1e-6);
    tf.dispose([on.y, on.gx, off.y, off.gx, x, dy]);
    lin.dispose();
  });

  it(`Nf4Linear: more than ${SIMD_MAX_ROWS} rows run the NF4 GEMM (no fp32 weight), equal to tfjs's product, gradient included`, async () => {
    const lin = createNf4Linear(w, N, K);
    const M = SIMD_MAX_ROWS + 1;
    const x = tf.tensor2d(randoms(M * K, 6), [M, K]);
    const dy = tf.tensor2d(randoms(M * N, 7), [M, N]);
    const run = () => ({ y: lin.apply(x), gx: tf.grad((xx: tf.Tensor) => lin.apply(xx as tf.Tensor2D).mul(dy).sum())(x) });
    const on = run();
    expect(await tfjsKernels(() => lin.apply(x))).not.toContain('BatchMatMul');
    setSimdKernels(false);
    const off = run();
    expect(await tfjsKernels(() => lin.apply(x))).toContain('BatchMatMul');
    expect(maxRelativeError(on.y.dataSync(), off.y.dataSync())).toBeLessThan(1e-5);
    expect(maxRelativeError(on.gx.dataSync(), off.gx.dataSync())).toBeLessThan(1e-5);
    tf.dispose([on.y, on.gx, off.y, off.gx, x, dy]);
    lin.dispose();
  });

  it('Int8Head: logits of one row come from the kernel and equal the block-by-block tfjs path', async () => {
    const [V, C] = [300, 40];
    const head = new Int8Head(quantizeInt8Rows(randoms(V * C, 8), V, C), 128); // three blocks on the tfjs path
    const h = tf.tensor2d(randoms(2 * C, 9), [2, C]);
    const on = allLogits(h, head);
    expect(await tfjsKernels(() => allLogits(h, head))).not.toContain('BatchMatMul');
    setSimdKernels(false);
    const off = allLogits(h, head);
    expect(on.shape).toEqual([2, V]);
    expect(maxRelativeError(on.dataSync(), off.dataSync())).toBeLessThan(1e-5);
    tf.dispose([on, off, h]);
    head.dispose();
  });

  it('Int8Head: no kernel logits while a tape records (they would carry no gradient to h)', () => {
    const [V, C] = [50, 24];
    const head = new Int8Head(quantizeInt8Rows(randoms(V * C, 12), V, C));
    const h = tf.tensor2d(randoms(2 * C, 13), [2, C]);
    const untaped = head.kernelLogits(h);
    expect(untaped).not.toBeNull();
    let taped: tf.Tensor | null = null;
    tf.grad((hh: tf.Tensor) => {
      taped = head.kernelLogits(hh as tf.Tensor2D);
      return tf.sum(hh);
    })(h).dispose();
    expect(taped).toBeNull();
    tf.dispose([h, untaped!]);
    head.dispose();
  });
});

describe('RMSNorm and RoPE kernels', () => {
  const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));

  it.each([[1, 1, 9, 64], [2, 5, 3, 6], [1, 7, 4, 16], [3, 2, 2, 10]])('RoPE heads-first of x [%i, %i, %i, %i] is bit-identical to the tf-op composition', (B, T, H, D) => {
    tf.tidy(() => {
      const x = tf.tensor4d(randoms(B * T * H * D, D), [B, T, H, D]);
      const ropeB = B === 2 ? B : 1; // per-row tables (packed rows) and shared ones
      const cos = tf.tensor4d(randoms(ropeB * T * D, 1), [ropeB, T, 1, D]);
      const sin = tf.tensor4d(randoms(ropeB * T * D, 2), [ropeB, T, 1, D]);
      const [x1, x2] = tf.split(x, [D / 2, D / 2], 3);
      const ref = tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin)).transpose([0, 2, 1, 3]);
      expect(bits(ropeHeadsFirst(kernels(), x, cos, sin))).toEqual(bits(ref));
    });
  });

  it.each([[1, 576, 0], [3, 64, 0], [2, 640, 1], [5, 13, 0]])('RMSNorm of [%i, %i] (offset %i) is bit-identical to the tf-op composition', (N, C, offset) => {
    tf.tidy(() => {
      const x = tf.tensor2d(randoms(N * C, C), [N, C]).mul(3);
      const w = tf.tensor1d(randoms(C, 3));
      const ref = tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), offset ? tf.add(w, offset) : w);
      expect(bits(rmsNormRows(kernels(), x, w, 1e-5, offset))).toEqual(bits(ref));
    });
  });

  it('fused.ts uses them without a tape and the composition under one (gradients intact)', async () => {
    const x = tf.tensor2d(randoms(2 * 32, 4), [2, 32]);
    const w = tf.tensor1d(randoms(32, 5));
    const q = tf.tensor4d(randoms(2 * 3 * 8, 6), [1, 2, 3, 8]);
    const rope = { cos: tf.tensor4d(randoms(16, 7), [1, 2, 1, 8]), sin: tf.tensor4d(randoms(16, 8), [1, 2, 1, 8]) };
    expect(await tfjsKernels(() => rmsNorm(x, w, 1e-5))).toEqual([]);
    expect(await tfjsKernels(() => applyRopeHeadsFirst(q, rope))).toEqual([]);
    const gradOf = () => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(rmsNorm(xx as tf.Tensor2D, w, 1e-5), tf.range(0, 64).reshape([2, 32]))))(x);
    const gq = () => tf.grad((qq: tf.Tensor) => tf.sum(tf.mul(applyRopeHeadsFirst(qq as tf.Tensor4D, rope), tf.range(0, 48).reshape([1, 3, 2, 8]))))(q);
    const [on, onQ] = [gradOf(), gq()];
    setSimdKernels(false);
    const [off, offQ] = [gradOf(), gq()];
    expect(maxRelativeError(on.dataSync(), off.dataSync())).toBe(0);
    expect(maxRelativeError(onQ.dataSync(), offQ.dataSync())).toBe(0);
    expect(Math.max(...Array.from(on.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([x, w, q, rope.cos, rope.sin, on, off, onQ, offQ]);
  });
});
