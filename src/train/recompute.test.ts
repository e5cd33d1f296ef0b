// Recomputation on small blocks (the nested-tape mechanism alone): gradients of the input and of
// the block's variables equal plain autograd's, for stacked blocks, with seeded dropout replayed,
// leaking no tensors, and leaving tfjs able to take further gradients afterwards; a stack of
// blocks as one node (recomputedStack) gives the chain's gradients bit for bit.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../cli/node-runtime';
import { recomputed, recomputedStack, type ReplayableRandom } from './recompute';
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

  it('recomputes a stack as one node: the gradients of a chain bit for bit, dropout replayed, no leak', () => {
    const vars = [0, 1, 2, 3].map((i) => ({ A: tf.variable(rand([6, 5], 30 + i), true, `st.A${i}`), B: tf.variable(rand([5, 6], 40 + i), true, `st.B${i}`) }));
    let counter = 500;
    const random: ReplayableRandom = { get: () => counter, set: (s) => { counter = s; } };
    const block = (i: number) => (x: tf.Tensor2D) => {
      const d = tf.dropout(x, 0.3, undefined, counter++) as tf.Tensor2D;
      return tf.add(x, tf.matMul(tf.tanh(tf.matMul(d, vars[i].A)), vars[i].B)) as tf.Tensor2D; // [N, 6]
    };
    // The last block's vjp objective: Σ fn(x) ⊙ dy (the same gradients as the recomputed forward).
    const vjp = (x: tf.Tensor2D, dy: tf.Tensor2D) => tf.sum(tf.mul(block(3)(x), dy)) as tf.Scalar;
    const x0 = rand([4, 6], 7);
    const all = vars.flatMap((v) => [v.A, v.B]);
    const loss = (stack: boolean) => () => {
      let x = tf.mul(x0, 1.5) as tf.Tensor2D; // a tape-recorded input, as the embedding is
      if (stack) x = recomputedStack(vars.map((v, i) => ({ fn: block(i), vars: [v.A, v.B], vjp: i === 3 ? vjp : undefined })), random)(x);
      else for (let i = 0; i < 4; i++) x = recomputed(block(i), [vars[i].A, vars[i].B], random, i === 3 ? vjp : undefined)(x);
      return tf.sum(tf.square(x)) as tf.Scalar;
    };
    counter = 500;
    const chain = tf.variableGrads(loss(false), all);
    const counterAfter = counter;
    counter = 500;
    const before = tf.memory().numTensors;
    const stack = tf.variableGrads(loss(true), all);
    expect(tf.memory().numTensors).toBe(before + 1 + all.length);
    expect(counter).toBe(counterAfter); // the random state ends where the forward left it
    const bits = (t: tf.Tensor) => Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
    expect(bits(stack.value)).toEqual(bits(chain.value));
    for (const v of all) {
      expect(bits(stack.grads[v.name])).toEqual(bits(chain.grads[v.name]));
      expect(Math.max(...Array.from(chain.grads[v.name].dataSync(), Math.abs))).toBeGreaterThan(0);
    }
    tf.dispose([stack.value, chain.value, ...Object.values(stack.grads), ...Object.values(chain.grads), x0, ...all]);
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
