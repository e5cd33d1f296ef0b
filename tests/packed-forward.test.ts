// Packed rows: two examples sharing one sequence give exactly the logits each gets alone, because
// attention stops at example boundaries and positions restart per example.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import type { LlamaModel } from '../src/model/llama';

const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;

describe('packed forward pass', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    model = await loadModel(await openModelFiles(STORIES));
  });

  it('matches separate forward passes of each example, and differs without the segment mask', async () => {
    const a = [1, 403, 407, 261, 378, 432];
    const b = [1, 317, 391, 266, 267];
    const T = a.length + b.length + 2; // two padding tokens at the end
    const ids = [...a, ...b, 0, 0];
    const positions = Int32Array.from([...a.map((_, i) => i), ...b.map((_, i) => i), 0, 0]);
    const segments = Int32Array.from([...a.map(() => 1), ...b.map(() => 2), 3, 3]);
    const packed = model.forward(tf.tensor2d(ids, [1, T], 'int32'), { packing: { positions, segments } });
    const alone = model.forward(tf.tensor2d(b, [1, b.length], 'int32'));
    const unmasked = model.forward(tf.tensor2d(ids, [1, T], 'int32'));
    const p = (await packed.slice([a.length, 0], [b.length, -1]).data()) as Float32Array;
    const q = (await alone.data()) as Float32Array;
    const u = (await unmasked.slice([a.length, 0], [b.length, -1]).data()) as Float32Array;
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
    expect(maxDiff(p, q)).toBeLessThan(1e-4);
    expect(maxDiff(u, q)).toBeGreaterThan(1e-2);
    // The first example is unaffected by what follows it.
    const first = (await packed.slice([0, 0], [a.length, -1]).data()) as Float32Array;
    const firstAlone = (await model.forward(tf.tensor2d(a, [1, a.length], 'int32')).data()) as Float32Array;
    expect(maxDiff(first, firstAlone)).toBeLessThan(1e-4);
  });
});
