// The Hugging Face folder exporter on every family's tiny reference model: the written folder
// reloads through src/model/load.ts to bit-identical logits (biases, q/k norms and Gemma's four
// norms included), and merging the PEFT-saved adapter gives transformers' reference tokens.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { FAMILY_MODELS, modelDir, readReference } from './families-fixture';
import { greedyIds, memoryModelFiles } from './export-fixture';
import { MemorySink } from '../src/export/sink';
import { listModelTensors } from '../src/export/model-tensors';
import { writeHfModel } from '../src/export/hf-model';
import { mergedTensors } from '../src/export/merge';
import { fromPeftFiles } from '../src/adapters/peft';
import { loadModel } from '../src/model/load';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe.each(FAMILY_MODELS)('Hugging Face export of %s', (name) => {
  it('reloads to identical logits, and the merged adapter gives the reference tokens', async () => {
    const files = await openModelFiles(modelDir(name));
    const tensors = await listModelTensors(files);
    const input = { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tensors };
    const sink = new MemorySink();
    await writeHfModel(sink, input);
    const [orig, copy] = [await loadModel(files), await loadModel(await memoryModelFiles(sink))];
    const ref = await readReference(name);
    const ids = ref.base[0]!.prompt_ids;
    const logits = async (m: typeof orig) => {
      const t = tf.tidy(() => m.forward(tf.tensor2d(ids, [1, ids.length], 'int32')));
      const d = (await t.data()) as Float32Array;
      t.dispose();
      return d;
    };
    expect(await logits(copy)).toEqual(await logits(orig));
    const p = `${modelDir(name)}peft-adapter/`;
    const adapter = await fromPeftFiles(await readFile(`${p}adapter_config.json`, 'utf8'), new Uint8Array(await readFile(`${p}adapter_model.safetensors`)));
    const mergedSink = new MemorySink();
    await writeHfModel(mergedSink, { ...input, tensors: mergedTensors(tensors, adapter.spec, adapter.weights) });
    const merged = await loadModel(await memoryModelFiles(mergedSink));
    const r = ref.adapter[0]!;
    expect(await greedyIds(merged, r.prompt_ids, r.output_ids.length)).toEqual(r.output_ids);
    for (const m of [orig, copy, merged]) m.dispose();
  });
});
