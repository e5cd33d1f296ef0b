// Recomputation on small blocks (the nested-tape mechanism alone): gradients of the input and of
// the block's variables equal plain autograd's, for stacked blocks, with seeded dropout replayed,
// leaking no tensors, and leaving tfjs able to take further gradients afterwards.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../cli/node-runtime';
import { recomputed, type ReplayableRandom } from './recompute';
import { seededRandom } from '../util/random';

function rand(shape: [number, number], seed: number): tf.Tensor2D {
  const r = seededRandom(seed);
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => 2 * r() - 1), shape);
}

describe('recomputed blocks', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('gives the same gradients as plain autograd through three stacked blocks with dropout', async () => {
    const vars = [0, 1, 2].map((i) => ({ A: tf.variable(rand([6, 5], 10 + i), true, `rc.A${i}`), B: tf.variable(rand([5, 6], 20 + i), true, `rc.B${i}`) }));
    let counter = 100;
    const random: ReplayableRandom = { get: () => counter, set: (s) => { counter = s; } };
    const block = (i: number) => (x: tf.Tensor2D) => {
      const d = tf.dropout(x, 0.3, undefined, counter++) as tf.Tensor2D;
      return tf.add(x, tf.matMul(tf.tanh(tf.matMul(d, vars[i].A)), vars[i].B)) as tf.Tensor2D; // [N, 6]
    };
    const x0 = rand([4, 6], 1);
    const loss = (wrap: boolean) => () => {
      let x = x0;
      for (let i = 0; i < 3; i++) x = wrap ? recomputed(block(i), [vars[i].A, vars[i].B], random)(x) : block(i)(x);
      return tf.sum(tf.square(x)) as tf.Scalar;
    };
    const all = vars.flatMap((v) => [v.A, v.B]);
    counter = 100;
    const plain = tf.variableGrads(loss(false), all);
    counter = 100;
    const before = tf.memory().numTensors;
    const rc = tf.variableGrads(loss(true), all);
    expect(tf.memory().numTensors).toBe(before + 1 + all.length); // the loss and one gradient per variable
    expect(rc.value.dataSync()[0]).toBeCloseTo(plain.value.dataSync()[0], 5);
    for (const v of all) {
      const a = rc.grads[v.name].dataSync();
      const b = plain.grads[v.name].dataSync();
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
      expect(err).toBeLessThan(1e-6);
      expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(0);
    }
    // The engine's tape is intact: another gradient works and frees its saved tensors.
    tf.dispose([rc.value, plain.value, ...Object.values(rc.grads), ...Object.values(plain.grads)]);
    const n = tf.memory().numTensors;
    const again = tf.variableGrads(loss(true), all);
    tf.dispose([again.value, ...Object.values(again.grads)]);
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose([x0, ...all]);
  });

  it('is the plain function outside a tape', () => {
    const A = tf.variable(rand([3, 3], 2), true, 'rc.plain');
    const x = rand([2, 3], 3);
    const f = (t: tf.Tensor2D) => tf.matMul(t, A) as tf.Tensor2D;
    const y = tf.tidy(() => recomputed(f, [A])(x));
    expect(Array.from(y.dataSync())).toEqual(Array.from(tf.tidy(() => f(x)).dataSync()));
    tf.dispose([A, x, y]);
  });
});
