// Golden tests per family: the one decoder, loaded and run the way the worker does (loadModel,
// fromPeftFiles + LoraAdapter, KV-cached generate), reproduces the greedy ids and last-position
// logits that Hugging Face transformers computed for each tiny model in ../shared/models
// (FAMILIES.md), with and without the PEFT adapter saved by PEFT itself.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { fromPeftFiles } from '../src/adapters/peft';
import { LoraAdapter } from '../src/train/lora';
import { newKvCache, disposeKvCache, type LlamaModel } from '../src/model/llama';
import { FAMILY_MODELS, modelDir, readReference, type Reference } from './families-fixture';
import { maxAbsDiff } from '../src/util/compare';


describe.each(FAMILY_MODELS)('%s matches transformers', (name) => {
  let model: LlamaModel;
  let adapter: LoraAdapter;
  let ref: Reference;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    ref = await readReference(name);
    model = await loadModel(await openModelFiles(modelDir(name)));
    const dir = `${modelDir(name)}peft-adapter/`;
    const peft = await fromPeftFiles(await readFile(`${dir}adapter_config.json`, 'utf8'), new Uint8Array(await readFile(`${dir}adapter_model.safetensors`)), model.config);
    adapter = LoraAdapter.fromWeights(model.config, peft.spec, peft.weights);
  });
  afterAll(() => {
    adapter?.dispose();
    model?.dispose();
  });

  it('last-position logits of prompt 0 within 1e-4', async () => {
    const ids = ref.base[0].prompt_ids;
    const logits = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')); // [T, V]
    const last = (await logits.slice([ids.length - 1, 0], [1, -1]).data()) as Float32Array;
    logits.dispose();
    expect(last.length).toBe(ref.last_logits_prompt0.length);
    expect(maxAbsDiff(last, ref.last_logits_prompt0)).toBeLessThan(1e-4);
  });

  it('every greedy id of the three prompts, base model', async () => {
    for (const r of ref.base) {
      expect(await generate(model, r.prompt_ids, { maxNewTokens: r.output_ids.length })).toEqual(r.output_ids);
    }
  });

  it('every greedy id of the three prompts with the PEFT adapter', async () => {
    for (const r of ref.adapter) {
      expect(await generate(model, r.prompt_ids, { maxNewTokens: r.output_ids.length, lora: adapter })).toEqual(r.output_ids);
    }
  });

  it('KV-cached decoding equals the full recompute at every position (past any sliding window)', async () => {
    const r = ref.base[0];
    const ids = [...r.prompt_ids, ...r.output_ids.slice(0, 30)]; // 35 tokens: windows of 12 slide
    const full = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { lora: adapter }); // [T, V]
    const fullRows = (await full.data()) as Float32Array;
    full.dispose();
    const V = model.config.vocabSize;
    const cache = newKvCache(model.config);
    let worst = 0;
    try {
      const first = model.forward(tf.tensor2d(ids.slice(0, 3), [1, 3], 'int32'), { lora: adapter, cache });
      worst = Math.max(worst, maxAbsDiff((await first.data()) as Float32Array, fullRows.subarray(0, 3 * V)));
      first.dispose();
      for (let t = 3; t < ids.length; t++) {
        const step = model.forward(tf.tensor2d([ids[t]], [1, 1], 'int32'), { lora: adapter, cache }); // [1, V]
        worst = Math.max(worst, maxAbsDiff((await step.data()) as Float32Array, fullRows.subarray(t * V, (t + 1) * V)));
        step.dispose();
      }
    } finally {
      disposeKvCache(cache);
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
