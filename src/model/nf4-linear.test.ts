// Nf4Linear on the cpu backend (the js-dequant path): forward and input gradient equal a plain
// matMul on the dequantized weight, LoRA-like products get their gradients through it, and no
// tensor leaks across steps.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Nf4InputShapeError, Nf4Linear, createNf4Linear } from './nf4-linear';
import { dequantizeNf4, nf4Bytes, quantizeNf4 } from './nf4';
import { uniformValues as randoms } from '../util/random';
import { maxRelativeError } from '../util/compare';

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  return maxRelativeError(a.dataSync(), b.dataSync());
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// [N rows of x, out, in, doubleQuant]
const SHAPES: Array<[number, number, number, boolean]> = [
  [3, 5, 7, false], // 35 weights: one padded block
  [4, 33, 70, false],
  [2, 40, 100, true],
];

describe.each(SHAPES)('Nf4Linear x [%i, in], W [%i, %i], doubleQuant %s', (n, out, inF, doubleQuant) => {
  const w = randoms(out * inF, out + inF);
  const deqW = () => tf.tensor2d(dequantizeNf4(quantizeNf4(w, out, inF, { doubleQuant })), [out, inF]);

  it('takes the js-dequant path on cpu and reports NF4 bytes', () => {
    const lin = createNf4Linear(w, out, inF, { doubleQuant }) as Nf4Linear;
    expect(lin.path).toBe('js-dequant');
    expect(lin.precision).toBe('nf4');
    expect(lin.weightBytes).toBe(nf4Bytes(out * inF, { doubleQuant }));
    lin.dispose();
  });

  it('matches tf.matMul(x, dequant(W), false, true) in the forward pass', () => {
    const lin = createNf4Linear(w, out, inF, { doubleQuant });
    tf.tidy(() => {
      const x = tf.tensor2d(randoms(n * inF, 5), [n, inF]);
      const y = lin.apply(x);
      expect(y.shape).toEqual([n, out]);
      expect(maxRelErr(y, tf.matMul(x, deqW(), false, true))).toBeLessThan(1e-6);
      // and it is not the unquantized product (the test would notice a lossless path)
      expect(maxRelErr(y, tf.matMul(x, tf.tensor2d(w, [out, inF]), false, true))).toBeGreaterThan(1e-4);
    });
    lin.dispose();
  });

  it('gives dx = dy · dequant(W) under tf.grad', () => {
    const lin = createNf4Linear(w, out, inF, { doubleQuant });
    tf.tidy(() => {
      const x = tf.tensor2d(randoms(n * inF, 9), [n, inF]);
      const dy = tf.tensor2d(randoms(n * out, 11), [n, out]);
      const gx = tf.grad((xx: tf.Tensor) => lin.apply(xx as tf.Tensor2D).mul(dy).sum())(x);
      expect(maxRelErr(gx, tf.matMul(dy, deqW()))).toBeLessThan(1e-6);
    });
    lin.dispose();
  });

  it('trains LoRA-like A and B through apply: grads equal those through the dequantized matmul', () => {
    const lin = createNf4Linear(w, out, inF, { doubleQuant });
    const r = 2;
    tf.tidy(() => {
      const x = tf.tensor2d(randoms(n * inF, 13), [n, inF]);
      const a = tf.tensor2d(randoms(r * out, 17), [r, out]); // a LoRA A fed by this layer's output
      const b = tf.tensor2d(randoms(inF * r, 19), [inF, r]); // and a B feeding its input
      const loss = (f: (h: tf.Tensor2D) => tf.Tensor2D) => (aa: tf.Tensor, bb: tf.Tensor) =>
        f(x.add(x.matMul(bb as tf.Tensor2D).matMul(bb as tf.Tensor2D, false, true)) as tf.Tensor2D)
          .matMul(aa as tf.Tensor2D, false, true)
          .square()
          .sum();
      const dw = deqW();
      const [ga, gb] = tf.grads(loss((h) => lin.apply(h)))([a, b]);
      const [ra, rb] = tf.grads(loss((h) => tf.matMul(h, dw, false, true)))([a, b]);
      expect(maxRelErr(ga!, ra!)).toBeLessThan(1e-5);
      expect(maxRelErr(gb!, rb!)).toBeLessThan(1e-5);
    });
    lin.dispose();
  });
});

describe('Nf4Linear bookkeeping', () => {
  it('leaves the tensor count unchanged over several forward+backward steps', () => {
    const lin = createNf4Linear(randoms(16 * 24, 3), 16, 24);
    const x = tf.tensor2d(randoms(4 * 24, 4), [4, 24]);
    const step = () => tf.tidy(() => tf.grad((xx: tf.Tensor) => lin.apply(xx as tf.Tensor2D).sum())(x));
    step().dispose(); // warm up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    lin.dispose();
  });

  it('rejects an input whose width is not inFeatures, naming the file and shape', () => {
    const lin = createNf4Linear(randoms(8 * 8, 1), 8, 8);
    const x = tf.zeros([2, 7]) as tf.Tensor2D;
    expect(() => lin.apply(x)).toThrow(Nf4InputShapeError);
    expect(() => lin.apply(x)).toThrow(/nf4-linear\.ts.*\[2,7\].*\[N, 8\]/);
    x.dispose();
  });
});
