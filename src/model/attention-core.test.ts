// The attention core with its own gradient equals plain tfjs ops + autograd (value and dq, dk, dv)
// within 1e-5 relative, on wasm: causal and packed (per-row) masks, GQA stacking, soft-capped scores.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../cli/node-runtime';
import { attentionCore, attentionReference, type AttentionCoreOptions } from './attention-core';
import { seededRandom } from '../util/random';

function rand(shape: number[], seed: number): tf.Tensor4D {
  const r = seededRandom(seed);
  return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1), shape as [number, number, number, number]);
}

function causal(M: number, S: number, T: number): tf.Tensor {
  const m = new Float32Array(M * S);
  for (let i = 0; i < M; i++) for (let s = 0; s < S; s++) if (s > (i % T)) m[i * S + s] = -1e9;
  return tf.tensor2d(m, [M, S]);
}

describe('attention core', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });
  it.each([
    { name: 'causal, 2 query heads per kv head, per-slice', B: 2, K: 3, G: 2, T: 5, D: 4, softcap: null, packed: false, slice: 0 },
    { name: 'causal, 2 query heads per kv head, batched', B: 2, K: 3, G: 2, T: 5, D: 4, softcap: null, packed: false, slice: Infinity },
    { name: 'soft-capped scores (Gemma), per-slice', B: 1, K: 2, G: 1, T: 6, D: 8, softcap: 3, packed: false, slice: 0 },
    { name: 'soft-capped scores (Gemma), batched', B: 1, K: 2, G: 1, T: 6, D: 8, softcap: 3, packed: false, slice: Infinity },
    { name: 'per-row masks (packed rows), per-slice', B: 2, K: 1, G: 3, T: 4, D: 4, softcap: null, packed: true, slice: 0 },
    { name: 'per-row masks (packed rows), batched', B: 2, K: 1, G: 3, T: 4, D: 4, softcap: null, packed: true, slice: Infinity },
  ])('equals tfjs ops and autograd: $name', async ({ B, K, G, T, D, softcap, packed, slice }) => {
    const M = G * T;
    const q = rand([B, K, M, D], 1);
    const k = rand([B, K, T, D], 2);
    const v = rand([B, K, T, D], 3);
    const mask = packed ? tf.tidy(() => tf.stack([causal(M, T, T), tf.zeros([M, T])]).reshape([B, 1, M, T])) : causal(M, T, T);
    const o: AttentionCoreOptions = { scale: 1 / Math.sqrt(D), softcap, sliceMinWork: slice };
    const w = rand([B, K, M, D], 4); // a fixed cotangent
    const lossOf = (f: typeof attentionCore) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask, o), w));
    const before = tf.memory().numTensors;
    const got = tf.grads(lossOf(attentionCore))([q, k, v]);
    const want = tf.grads(lossOf(attentionReference))([q, k, v]);
    const yGot = tf.tidy(() => attentionCore(q, k, v, mask, o));
    const yWant = tf.tidy(() => attentionReference(q, k, v, mask, o));
    for (const [a, b] of [[yGot, yWant], ...got.map((g, i) => [g, want[i]])] as [tf.Tensor, tf.Tensor][]) {
      const x = await a.data();
      const y = await b.data();
      let err = 0;
      let ref = 0;
      y.forEach((t, i) => { err = Math.max(err, Math.abs(x[i] - t)); ref = Math.max(ref, Math.abs(t)); });
      expect(ref).toBeGreaterThan(0);
      expect(err / ref).toBeLessThan(1e-5);
    }
    tf.dispose([...got, ...want, yGot, yWant]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, v, mask, w]);
  });
});
