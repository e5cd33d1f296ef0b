// A recomputed layer's backward without its last product (LlamaModel.layerVjp): LoRA gradients on
// all seven projections, dropout live, equal the full recomputation's and those of no recomputation
// within 1e-5, per family (Gemma's sandwich norms keep the full recomputation), on fp32 and NF4
// bases; and the step frees everything it made.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch } from '../src/train/batches';
import { setRecomputeSkipsLastProduct } from '../src/train/recompute';
import { LINEAR_MODULES } from '../src/model/config';
import { FAMILY_MODELS, modelDir } from './families-fixture';
import { textExamples } from './stories-fixture';

const TEXTS = ['Zed the purple dragon liked to fly over the green hill.', 'Lily found a shiny red ball in the park.', 'The cat sang a song.'];

beforeAll(async () => {
  await initNodeBackend('wasm');
});
afterEach(() => setRecomputeSkipsLastProduct(true));

function maxRel(a: Float32Array[], b: Float32Array[]): number {
  let err = 0;
  let ref = 0;
  a.forEach((x, i) => x.forEach((v, j) => { err = Math.max(err, Math.abs(v - b[i][j])); ref = Math.max(ref, Math.abs(b[i][j])); }));
  return err / ref;
}

describe.each(FAMILY_MODELS.flatMap((name) => (['fp32', 'nf4'] as const).map((precision) => ({ name, precision }))))('$name ($precision base)', ({ name, precision }) => {
  it('recomputation without the last product gives the gradients of the full recomputation and of none', async () => {
    const files = await openModelFiles(modelDir(name));
    const model = await loadModel(files, { precision });
    const examples = textExamples(loadTokenizer(files.tokenizerJson, files.tokenizerConfig), TEXTS);
    expect(model.hasLayerVjp(0)).toBe(!model.config.sandwichNorms);
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0.1, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: 'tiny' }, 5);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 8));
    const batch = makeBatch(examples, 20);
    const run = async (recompute: boolean, skip: boolean) => {
      setRecomputeSkipsLastProduct(skip);
      const t = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN });
      adapter.training = true;
      adapter.setDropoutSeed(21);
      const r = t.batchGradients(batch, recompute);
      adapter.training = false;
      const out = { loss: (await r.value.data())[0], g: await Promise.all(r.grads.map(async (x) => (await x.data()) as Float32Array)) };
      tf.dispose([r.value, ...r.grads]);
      t.dispose();
      return out;
    };
    const none = await run(false, true); // also fills the model's rope cache for this T
    const n0 = tf.memory().numTensors;
    const full = await run(true, false);
    const skipped = await run(true, true);
    expect(tf.memory().numTensors).toBe(n0);
    expect(skipped.loss).toBe(none.loss);
    expect(maxRel(full.g, none.g)).toBeLessThan(1e-5);
    expect(maxRel(skipped.g, none.g)).toBeLessThan(1e-5);
    // down_proj's own LoRA gradients come from the Σ delta⊙dy term: they are there and not zero.
    const downB = adapter.variables().findIndex((v) => /\.down_proj\.B$/.test(v.name));
    expect(Math.max(...skipped.g[downB].map(Math.abs))).toBeGreaterThan(0);
    adapter.dispose();
    model.dispose();
  });
});
