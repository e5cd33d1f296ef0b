// Blocked attention (online softmax over key blocks, probabilities rebuilt in the backward) equals
// the dense reference (plain tfjs ops + autograd over attention-mask.ts's dense mask) within 1e-5
// relative, values and dq, dk, dv, for every mask the decoder builds: causal with GQA, sliding
// windows (Gemma 3), soft-capped scores, packed rows, keys before the input (prefix / cache), with
// blocks that do not divide T, backward key chunks smaller than the forward's, per (batch, kv
// head) slice and batched; and it leaks no tensors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../cli/node-runtime';
import { attentionReference } from './attention-core';
import { attentionMask, maskBlock, type MaskRequest } from './attention-mask';
import { blockedAttention, type BlockedAttentionOptions } from './blocked-attention';
import { seededRandom } from '../util/random';
import { maxRelativeError } from '../util/compare';

function rand(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const r = seededRandom(seed);
  return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1), shape);
}

/** Two examples per row: lengths 4 + rest, and 7 + rest. */
function segments(B: number, T: number): Int32Array {
  const s = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) s[b * T + t] = t < (b === 0 ? 4 : 7) ? 0 : 1;
  return s;
}

/** Max |a - b| over max |b| (NaN or Infinity, so never under a bound, when b is all zeros). */
async function relErr(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  return maxRelativeError(await a.data(), await b.data());
}

describe('blocked attention', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });
  const cases = [
    { name: 'causal, GQA (3 kv heads x 2), uneven blocks', B: 2, K: 3, G: 2, T: 11, D: 4, past: 0, window: null, softcap: null, packed: false },
    { name: 'sliding window 4 (Gemma 3 local layers)', B: 1, K: 2, G: 2, T: 13, D: 8, past: 0, window: 4, softcap: null, packed: false },
    { name: 'soft-capped scores and a window', B: 1, K: 1, G: 4, T: 10, D: 8, past: 0, window: 5, softcap: 2, packed: false },
    { name: 'packed rows (two examples each)', B: 2, K: 1, G: 3, T: 12, D: 4, past: 0, window: null, softcap: null, packed: true },
    { name: 'packed rows with a window', B: 2, K: 2, G: 1, T: 12, D: 4, past: 0, window: 3, softcap: null, packed: true },
    { name: 'keys before the input (prefix / cache)', B: 2, K: 1, G: 2, T: 7, D: 4, past: 5, window: null, softcap: null, packed: false },
  ];
  for (const units of ['slices', 'batch'] as const) {
    // The last: one key chunk forward, chunks of 3 keys backward (as the default 4,096 / 512 splits long rows).
    for (const blocks of [{ queryBlock: 3, keyBlock: 4 }, { queryBlock: 64, keyBlock: 64 }, { queryBlock: 5, keyBlock: 64, backwardKeyBlock: 3 }]) {
      it.each(cases)(`equals the dense reference, ${units}, blocks ${blocks.queryBlock}/${blocks.keyBlock}/${blocks.backwardKeyBlock ?? blocks.keyBlock}: $name`, async ({ B, K, G, T, D, past, window, softcap, packed }) => {
        const S = past + T;
        const r: MaskRequest = { B, T, G, past, window, packing: packed ? { segments: segments(B, T) } : undefined };
        const q = rand([B, K, G * T, D], 1);
        const k = rand([B, K, S, D], 2);
        const v = rand([B, K, S, D], 3);
        const w = rand([B, K, G * T, D], 4); // a fixed cotangent
        const mask = attentionMask(r);
        const o: BlockedAttentionOptions = { scale: 1 / Math.sqrt(D), softcap, units, ...blocks };
        const before = tf.memory().numTensors;
        const got = tf.grads((a, b, c) => tf.sum(tf.mul(blockedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, r, o), w)))([q, k, v]);
        const yGot = tf.tidy(() => blockedAttention(q, k, v, r, o));
        expect(tf.memory().numTensors).toBe(before + 4);
        const want = tf.grads((a, b, c) => tf.sum(tf.mul(attentionReference(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask, o), w)))([q, k, v]);
        const yWant = tf.tidy(() => attentionReference(q, k, v, mask, o));
        for (const [a, b] of [[yGot, yWant], ...got.map((g, i) => [g, want[i]])] as [tf.Tensor, tf.Tensor][]) expect(await relErr(a, b)).toBeLessThan(1e-5);
        tf.dispose([...got, ...want, yGot, yWant, q, k, v, w, mask]);
      });
    }
  }

  it('classifies blocks: after the causal line hidden, below it visible, cut by it dense', () => {
    const r: MaskRequest = { B: 1, T: 8, G: 1, past: 0, window: null };
    expect(maskBlock(r, 0, 0, 4, 4, 8)).toBe('hidden');
    expect(maskBlock(r, 0, 4, 8, 0, 4)).toBe('visible');
    const cut = maskBlock(r, 0, 0, 4, 0, 4) as Float32Array;
    expect(Array.from(cut).map((x) => (x === 0 ? 1 : 0))).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]);
    const windowed: MaskRequest = { ...r, window: 2 };
    expect(maskBlock(windowed, 0, 4, 8, 0, 2)).toBe('hidden'); // query 4 sees keys 3 and 4 only
  });
});
