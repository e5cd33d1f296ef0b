// Training through every family's differences: the browser's Trainer lowers the loss with LoRA on
// all seven projections and leaks no tensors; autograd's LoRA gradients match central finite
// differences (through Gemma's offset and sandwich norms, gelu and q/k norms, Qwen2's frozen
// biases, Qwen3's non-square q/o); and Gemma's soft-capping computes cap * tanh(x / cap).
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { LINEAR_MODULES } from '../src/model/config';
import type { LlamaModel } from '../src/model/llama';
import type { LoraSpec } from '../src/adapters/lora-types';
import { FAMILY_MODELS, modelDir } from './families-fixture';
import { maxAbsDiff } from '../src/util/compare';
import { textExamples } from './stories-fixture';

const TEXTS = ['Zed the purple dragon liked to fly over the green hill.', 'Zed the purple dragon found a shiny red ball in the park.', 'Zed the purple dragon sang a song with Lily.'];
const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: 'tiny' };

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe.each(FAMILY_MODELS)('%s training', (name) => {
  it('the Trainer lowers the loss with LoRA on all seven projections, without leaking tensors', async () => {
    const files = await openModelFiles(modelDir(name));
    const model = await loadModel(files);
    const examples = textExamples(loadTokenizer(files.tokenizerJson, files.tokenizerConfig), TEXTS);
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, steps: 12, batchSize: 3, seqLen: 20, learningRate: 1e-2, warmupSteps: 1 });
    const losses: number[] = [];
    let tensors = 0;
    await trainer.run((r) => {
      losses.push(r.loss);
      if (r.step === 1) tensors = tf.memory().numTensors;
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(losses.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(losses[0] * 0.8);
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  });

  it('LoRA gradients match central finite differences', async () => {
    const files = await openModelFiles(modelDir(name));
    // Gemma: with attention soft-capping switched on, so its tanh is differentiated too.
    const config = name === 'tiny-gemma3' ? { ...(files.config as object), attn_logit_softcapping: 2.0 } : files.config;
    const model = await loadModel({ ...files, config });
    const examples = textExamples(loadTokenizer(files.tokenizerJson, files.tokenizerConfig), TEXTS);
    const adapter = LoraAdapter.create(model.config, SPEC, 7);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    const batch = makeBatch(examples.slice(0, 2), 16);
    const lossOf = () => maskedCrossEntropy(model.forward(tf.tensor2d(batch.inputs, [2, 16], 'int32'), { lora: adapter }), tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
    // Layer 0's query and output projections (non-square in Qwen3 and Gemma) and the last layer's MLP.
    const last = model.config.numLayers - 1;
    const vars = adapter.variables().filter((v) => /\.0\.(q_proj|o_proj)\.[AB]$/.test(v.name) || new RegExp(`\\.${last}\\.down_proj\\.A$`).test(v.name));
    expect(vars).toHaveLength(5);
    const { grads } = tf.variableGrads(lossOf, vars);
    const lossAt = async () => {
      const l = tf.tidy(lossOf);
      const x = (await l.data())[0];
      l.dispose();
      return x;
    };
    for (const v of vars) {
      const g = (await grads[v.name].data()) as Float32Array;
      const top = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 2);
      const values = (await v.data()) as Float32Array;
      for (const i of top) {
        const eps = 1e-2;
        const set = (x: number) => { const c = values.slice(); c[i] = x; tf.tidy(() => v.assign(tf.tensor(c, v.shape))); };
        set(values[i] + eps);
        const up = await lossAt();
        set(values[i] - eps);
        const down = await lossAt();
        set(values[i]);
        expect(Math.abs((up - down) / (2 * eps) - g[i]), `${v.name}[${i}]`).toBeLessThan(0.03 * Math.abs(g[i]) + 2e-4);
      }
    }
    tf.dispose(Object.values(grads));
    adapter.dispose();
    model.dispose();
  });
});

describe('Gemma soft-capping', () => {
  let files: Awaited<ReturnType<typeof openModelFiles>>;
  let plain: LlamaModel;
  const ids = [1, 403, 407, 261, 378, 432, 383, 286];
  const logits = async (m: LlamaModel) => {
    const y = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
    const d = (await y.data()) as Float32Array;
    y.dispose();
    return d;
  };
  beforeAll(async () => {
    files = await openModelFiles(modelDir('tiny-gemma3'));
    plain = await loadModel(files);
  });
  it('final_logit_softcapping gives cap * tanh(logits / cap)', async () => {
    const capped = await loadModel({ ...files, config: { ...(files.config as object), final_logit_softcapping: 3.0 } });
    const raw = await logits(plain);
    expect(maxAbsDiff(await logits(capped), raw.map((x) => 3 * Math.tanh(x / 3)))).toBeLessThan(1e-5);
    capped.dispose();
  });
  it('attn_logit_softcapping: a huge cap changes nothing, a small one changes the logits', async () => {
    const raw = await logits(plain);
    const loose = await loadModel({ ...files, config: { ...(files.config as object), attn_logit_softcapping: 1e6 } });
    const tight = await loadModel({ ...files, config: { ...(files.config as object), attn_logit_softcapping: 0.5 } });
    expect(maxAbsDiff(await logits(loose), raw)).toBeLessThan(1e-4);
    expect(maxAbsDiff(await logits(tight), raw)).toBeGreaterThan(1e-2);
    loose.dispose();
    tight.dispose();
  });
});
