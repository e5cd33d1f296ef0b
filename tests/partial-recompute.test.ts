// Recomputing only some layers (the memory plan's count): the gradients equal those of no
// recomputation and of recomputing every layer, and the Trainer honours a count in its settings.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { LINEAR_MODULES } from '../src/model/config';
import { seededRandom } from '../src/util/random';
import { modelDir } from './families-fixture';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('partial recomputation', () => {
  it.each(['tiny-llama3', 'tiny-gemma3'])('%s: recomputing the first n layers gives the gradients of none and of all', async (name) => {
    const model = await loadModel(await openModelFiles(modelDir(name)));
    const L = model.config.numLayers;
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0.1, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: 'tiny' }, 7);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    const r = seededRandom(9);
    const ex: TokenizedExample[] = [0, 1].map(() => {
      const inputIds = Array.from({ length: 17 }, () => 1 + Math.floor(r() * 500));
      return { inputIds, lossMask: inputIds.map(() => 1) };
    });
    const trainer = new Trainer(model, adapter, ex, { ...DEFAULT_TRAIN, steps: 1, batchSize: 2, seqLen: 16, recompute: 2 });
    expect(trainer.recomputeLayers).toBe(2);
    const batch = makeBatch(ex, 16);
    // Dropout 0.1 draws masks in every layer: the same seed before each pass, so all three draw alike.
    // Each recomputed layer runs again in the backward (its forward, or layerVjp without the last product).
    let layerRuns = 0;
    const forward = model.layerForward.bind(model);
    const vjp = model.layerVjp.bind(model);
    model.layerForward = (...a) => { layerRuns++; return forward(...a); };
    model.layerVjp = (...a) => { layerRuns++; return vjp(...a); };
    const at = (n: boolean | number, runs: number) => {
      adapter.setDropoutSeed(11);
      layerRuns = 0;
      const g = trainer.batchGradients(batch, n);
      expect(layerRuns).toBe(runs);
      return g;
    };
    const none = at(0, L);
    const some = at(2, L + 2);
    const all = at(true, 2 * L);
    for (const got of [some, all]) {
      expect(Math.abs((await got.value.data())[0] - (await none.value.data())[0])).toBeLessThan(1e-5);
      for (let i = 0; i < none.grads.length; i++) {
        const a = await got.grads[i].data();
        const b = await none.grads[i].data();
        let err = 0;
        let ref = 0;
        b.forEach((t, j) => { err = Math.max(err, Math.abs(a[j] - t)); ref = Math.max(ref, Math.abs(t)); });
        expect(ref, adapter.variables()[i].name).toBeGreaterThan(0);
        expect(err / ref, adapter.variables()[i].name).toBeLessThan(1e-5);
      }
    }
    expect(L).toBeGreaterThan(2);
    tf.dispose([none, some, all].flatMap((g) => [g.value, ...g.grads]));
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  });
});
