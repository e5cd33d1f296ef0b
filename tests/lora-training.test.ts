// LoRA training on the real stories260K model (wasm backend): the loss falls on a small dataset,
// the trained adapter changes greedy generation, autograd's LoRA gradients agree with finite
// differences of the forward pass, no tensor leaks per step, and the adapter survives PEFT export.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { generate } from '../src/model/generate';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { toPeftFiles, fromPeftFiles } from '../src/adapters/peft';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories, textExamples } from './stories-fixture';

const TEXTS = [
  'Zed the purple dragon liked to fly over the green hill.',
  'Zed the purple dragon found a shiny red ball in the park.',
  'Zed the purple dragon was happy and sang a song with Lily.',
  'Zed the purple dragon ate a big cake and said thank you.',
];

function spec(targets: LoraSpec['targetModules'] = ['q_proj', 'v_proj']): LoraSpec {
  return { r: 4, alpha: 8, dropout: 0, targetModules: targets, useRslora: false, baseModel: 'stories260K' };
}

describe('LoRA training on stories260K', () => {
  let model: LlamaModel;
  let tok: TextTokenizer;
  let examples: TokenizedExample[];
  beforeAll(async () => {
    ({ model, tokenizer: tok } = await loadStories());
    examples = textExamples(tok, TEXTS);
  });

  it('lowers the loss, changes generation, leaks no tensors, and round-trips through PEFT files', async () => {
    const adapter = LoraAdapter.create(model.config, spec(), 1);
    const prompt = tok.encode('Zed');
    const before = await generate(model, prompt, { maxNewTokens: 12, lora: adapter });
    // B = 0 at initialisation: the adapted model equals the base.
    expect(before).toEqual(await generate(model, prompt, { maxNewTokens: 12 }));
    const trainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, steps: 40, batchSize: 4, seqLen: 24, learningRate: 1e-2, warmupSteps: 2 });
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    await trainer.run((r) => {
      losses.push(r.loss);
      if (r.step === 1) tensorsAfterFirst = tf.memory().numTensors;
    });
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    expect(losses).toHaveLength(40);
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(losses[0] * 0.6);
    const after = await generate(model, prompt, { maxNewTokens: 12, lora: adapter });
    expect(after).not.toEqual(before);
    expect(tok.decode([...prompt, ...after])).toContain('purple dragon');

    const weights = await adapter.toWeights();
    const files = toPeftFiles(adapter.spec, weights);
    const back = await fromPeftFiles(files.adapterConfigJson, files.adapterSafetensors, model.config);
    expect(back.weights.layers.length).toBe(weights.layers.length);
    for (const w of weights.layers) {
      const b = back.weights.layers.find((x) => x.layer === w.layer && x.module === w.module)!;
      expect(Buffer.from(b.A.buffer, b.A.byteOffset, b.A.byteLength).equals(Buffer.from(w.A.buffer, w.A.byteOffset, w.A.byteLength))).toBe(true);
      expect(Buffer.from(b.B.buffer, b.B.byteOffset, b.B.byteLength).equals(Buffer.from(w.B.buffer, w.B.byteOffset, w.B.byteLength))).toBe(true);
    }
    const reloaded = LoraAdapter.fromWeights(model.config, back.spec, back.weights);
    expect(await generate(model, prompt, { maxNewTokens: 12, lora: reloaded })).toEqual(after);
    reloaded.dispose();
    trainer.dispose();
    adapter.dispose();
  });

  it('LoRA gradients from autograd match central finite differences of the loss', async () => {
    const adapter = LoraAdapter.create(model.config, spec(['q_proj', 'v_proj', 'down_proj']), 7);
    // Give B non-zero values so gradients reach A too.
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    const batch = makeBatch(examples.slice(0, 2), 20);
    const lossOf = () => {
      const logits = model.forward(tf.tensor2d(batch.inputs, [2, 20], 'int32'), { lora: adapter });
      return maskedCrossEntropy(logits, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
    };
    const vars = adapter.variables();
    const { grads } = tf.variableGrads(lossOf, vars);
    const lossAt = async () => {
      const l = tf.tidy(lossOf);
      const x = (await l.data())[0];
      l.dispose();
      return x;
    };
    let checked = 0;
    for (const v of vars) {
      const g = (await grads[v.name].data()) as Float32Array;
      // The three largest-magnitude coordinates of each matrix: well above float32 noise.
      const top = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 3);
      const values = (await v.data()) as Float32Array;
      for (const i of top) {
        const eps = 1e-2;
        const orig = values[i];
        const set = (x: number) => { const c = values.slice(); c[i] = x; tf.tidy(() => v.assign(tf.tensor(c, v.shape))); };
        set(orig + eps);
        const up = await lossAt();
        set(orig - eps);
        const down = await lossAt();
        set(orig);
        const fd = (up - down) / (2 * eps);
        expect(Math.abs(fd - g[i])).toBeLessThan(0.03 * Math.abs(g[i]) + 2e-4);
        checked++;
      }
    }
    expect(checked).toBe(vars.length * 3);
    tf.dispose(Object.values(grads));
    adapter.dispose();
  });
});
