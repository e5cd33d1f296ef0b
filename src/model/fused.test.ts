// The decoder's ops off WebGPU (src/model/fused.ts) that carry their own gradient to keep fewer
// tensors alive: silu's gate gives autograd's values bit for bit, RMSNorm autograd's within 1e-6
// relative (its dx is one closed form where autograd chains mean, rsqrt and two products), RoPE's
// gradient (the rotation's transpose) autograd's bit for bit, on cpu
// and on wasm, with a frozen weight and a trainable one, Gemma's offset, rank 2 and rank 4.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../cli/node-runtime';
import { applyRope, applyRopeHeadsFirst, gatedActivation, rmsNorm } from './fused';
import { uniformValues } from '../util/random';
import { maxRelativeError } from '../util/compare';

const bits = (t: tf.Tensor) => Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));

afterAll(async () => {
  await initNodeBackend('cpu');
});

describe.each(['cpu', 'wasm'] as const)('silu gate on %s', (backend) => {
  it('forward and both gradients equal the autograd composition bit for bit', async () => {
    expect(await initNodeBackend(backend)).toBe(backend);
    const [N, I] = [37, 70];
    const g = tf.mul(tf.tensor2d(uniformValues(N * I, 1), [N, I]), 6) as tf.Tensor2D;
    const u = tf.mul(tf.tensor2d(uniformValues(N * I, 2), [N, I]), 2) as tf.Tensor2D;
    const dy = tf.tensor2d(uniformValues(N * I, 3), [N, I]);
    const composed = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.mul(a, tf.sigmoid(a)), b);
    const before = tf.memory().numTensors;
    const [y, dg, du] = tf.tidy(() => [gatedActivation(g, u, 'silu'), ...tf.grads((a, b) => tf.sum(tf.mul(gatedActivation(a as tf.Tensor2D, b as tf.Tensor2D, 'silu'), dy)))([g, u])]);
    const [yr, dgr, dur] = tf.tidy(() => [composed(g, u), ...tf.grads((a, b) => tf.sum(tf.mul(composed(a, b), dy)))([g, u])]);
    expect(tf.memory().numTensors - before).toBe(6); // nothing left behind but the six results
    expect(bits(y)).toEqual(bits(yr));
    expect(bits(dg)).toEqual(bits(dgr));
    expect(bits(du)).toEqual(bits(dur));
    tf.dispose([g, u, dy, y, dg, du, yr, dgr, dur]);
  });
});

describe.each(['cpu', 'wasm'] as const)('RMSNorm under a tape on %s', (backend) => {
  const cases = [
    { shape: [37, 70], offset: 0, trainable: false },
    { shape: [2, 5, 3, 16], offset: 1, trainable: false }, // q/k norm over D, Gemma's 1 + w
    { shape: [9, 33], offset: 0, trainable: true }, // full fine-tuning trains w
    { shape: [9, 33], offset: 1, trainable: true },
    { shape: [4, 2, 33], offset: 0, trainable: 'grads' as const }, // w a plain tensor differentiated by tf.grads
  ];
  it.each(cases)('x $shape, offset $offset, trainable w $trainable: values and gradients equal autograd', async ({ shape, offset, trainable }) => {
    expect(await initNodeBackend(backend)).toBe(backend);
    const n = shape.reduce((a, b) => a * b, 1);
    const C = shape[shape.length - 1];
    const x = tf.tensor(uniformValues(n, 4), shape);
    const dy = tf.tensor(uniformValues(n, 5), shape);
    const w0 = tf.add(tf.tensor1d(uniformValues(C, 6)), 1) as tf.Tensor1D;
    const w = trainable === true ? tf.variable(w0) : w0;
    const eps = 1e-5;
    const composed = (a: tf.Tensor, ww: tf.Tensor) => tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), eps))), offset ? tf.add(ww, offset) : ww);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => {
      const f = (a: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, ww as tf.Tensor1D, eps, offset), dy));
      if (trainable === 'grads') return tf.grads((a, ww) => f(a, ww))([x, w]);
      return trainable ? tf.grads((a) => f(a, w))([x]).concat(Object.values(tf.variableGrads(() => f(x, w) as tf.Scalar, [w as tf.Variable]).grads)) : tf.grads((a) => f(a, w))([x]);
    });
    const want = tf.tidy(() => {
      const f = (a: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(composed(a, ww), dy));
      if (trainable === 'grads') return tf.grads((a, ww) => f(a, ww))([x, w]);
      return trainable ? tf.grads((a) => f(a, w))([x]).concat(tf.grads((ww) => f(x, ww))([w])) : tf.grads((a) => f(a, w))([x]);
    });
    expect(tf.memory().numTensors - before).toBe(2 * got.length);
    const y = tf.tidy(() => rmsNorm(x, w as tf.Tensor1D, eps, offset));
    const yr = tf.tidy(() => composed(x, w));
    expect(Array.from(y.dataSync())).toEqual(Array.from(yr.dataSync()));
    for (let i = 0; i < want.length; i++) expect(maxRelativeError(got[i].dataSync(), want[i].dataSync()), `gradient ${i}`).toBeLessThan(1e-6);
    tf.dispose([x, dy, w0, w, y, yr, ...got, ...want]);
  });
});

describe.each(['cpu', 'wasm'] as const)('RoPE under a tape on %s', (backend) => {
  it.each([false, true])('heads first %s: values and the gradient equal autograd bit for bit', async (headsFirst) => {
    expect(await initNodeBackend(backend)).toBe(backend);
    const [B, T, H, D] = [2, 5, 3, 8];
    const n = B * T * H * D;
    const q = tf.tensor4d(uniformValues(n, 7), [B, T, H, D]);
    const dy = tf.tensor4d(uniformValues(n, 8), headsFirst ? [B, H, T, D] : [B, T, H, D]);
    const angles = tf.tensor4d(uniformValues(B * T * D, 9), [B, T, 1, D]);
    const rope = { cos: tf.cos(angles) as tf.Tensor4D, sin: tf.sin(angles) as tf.Tensor4D };
    const composed = (x: tf.Tensor4D) => {
      const [x1, x2] = tf.split(x, [D / 2, D / 2], 3);
      const y = tf.add(tf.mul(x, rope.cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), rope.sin));
      return headsFirst ? tf.transpose(y, [0, 2, 1, 3]) : y;
    };
    const op = (x: tf.Tensor4D) => (headsFirst ? applyRopeHeadsFirst(x, rope) : applyRope(x, rope));
    const before = tf.memory().numTensors;
    const [got] = tf.grads((x) => tf.sum(tf.mul(op(x as tf.Tensor4D), dy)))([q]);
    const [want] = tf.grads((x) => tf.sum(tf.mul(composed(x as tf.Tensor4D), dy)))([q]);
    expect(tf.memory().numTensors - before).toBe(2);
    expect(bits(got)).toEqual(bits(want));
    tf.dispose([q, dy, angles, rope.cos, rope.sin, got, want]);
  });
});
