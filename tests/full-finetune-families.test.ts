// Full fine-tuning on every tiny family model (Llama 3, Qwen2 with biases, Qwen3 with q/k norms,
// Gemma 3 with sandwich norms and 1 + w scales): the trainable copy starts at the base's logits, one
// step changes them, and the exported Hugging Face folder reloads to the trained logits (1e-5, fp32).
import { readAndDispose } from './stories-fixture';
import { maxAbsDiff } from '../src/util/compare';
import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { FullFineTune } from '../src/train/full-finetune';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { MemorySink } from '../src/export/sink';
import { writeHfModel } from '../src/export/hf-model';
import { bufferSource } from '../src/model/safetensors';

const MODELS = ['tiny-llama3', 'tiny-qwen2', 'tiny-qwen3', 'tiny-gemma3'];


describe.each(MODELS)('full fine-tuning on %s', (name) => {
  it('starts at the base, trains, and its exported folder reloads to the trained logits', async () => {
    await initNodeBackend('wasm');
    const files = await openModelFiles(new URL(`../../shared/models/${name}/`, import.meta.url).pathname);
    const base = await loadModel(files);
    const ids = () => tf.tensor2d([[1, 5, 9, 13, 17, 21]], [1, 6], 'int32');
    const full = await FullFineTune.create(files, base);
    const baseLogits = await readAndDispose(base.forward(ids()));
    expect(maxAbsDiff(await readAndDispose(full.logits(ids())), baseLogits)).toBeLessThan(1e-5);
    const rows = [2, 3].map((k) => Array.from({ length: 12 }, (_, i) => 1 + ((i * k + 3) % 40)));
    const t = new Trainer(base, full, rows.map((r) => ({ inputIds: r, lossMask: r.map((_, i) => (i === 0 ? 0 : 1)) })), { ...DEFAULT_TRAIN, steps: 1, batchSize: 2, seqLen: 11, learningRate: 1e-2, warmupSteps: 0 });
    await t.run(() => {});
    t.dispose();
    const tuned = await readAndDispose(full.logits(ids()));
    expect(maxAbsDiff(tuned, baseLogits)).toBeGreaterThan(1e-4);
    const sink = new MemorySink();
    await writeHfModel(sink, { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tensors: await full.exportTensors(files) }, { dtype: 'F32' });
    const reloaded = await loadModel({ ...files, config: JSON.parse(sink.text('config.json')), shards: [{ name: 'model.safetensors', bytes: bufferSource(sink.files.get('model.safetensors')!) }] });
    expect(maxAbsDiff(await readAndDispose(reloaded.forward(ids())), tuned)).toBeLessThan(1e-5);
    reloaded.dispose();
    full.dispose();
    base.dispose();
  });
});
