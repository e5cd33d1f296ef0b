// Full fine-tuning on the real stories260K model (wasm): the trainable copy starts equal to the frozen
// base; autograd through every kind of weight (embedding tied to the head, a projection, a norm)
// matches central finite differences; 10 steps lower the loss more than LoRA at the same learning
// rate; steps leak no tensors; a run resumed from its checkpoint files ends on the same weights as an
// uninterrupted one; the exported Hugging Face folder reloads to the same logits; NF4 bases are refused;
// DPO's reference is the frozen base (ln 2 at step 0).
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../src/model/llama';
import type { ModelFileSet } from '../src/model/files';
import { loadModel } from '../src/model/load';
import { bufferSource, readHeader } from '../src/model/safetensors';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import { parseDatasetText } from '../src/data/dataset';
import { FullFineTune, FullFineTuneError } from '../src/train/full-finetune';
import { LoraAdapter } from '../src/train/lora';
import { Trainer, type TrainerState } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { checkpointFromFiles, checkpointToFiles, CHECKPOINT_FORMAT, emptyHistory } from '../src/train/checkpoint';
import { MemorySink } from '../src/export/sink';
import { writeHfModel } from '../src/export/hf-model';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories, textExamples, readAndDispose } from './stories-fixture';
import { maxAbsDiff } from '../src/util/compare';

const DRAGON = readFileSync(new URL('../public/examples/stories-dragon.jsonl', import.meta.url), 'utf8');
const SEQ = 32;
const SETTINGS: TrainSettings = { ...DEFAULT_TRAIN, steps: 10, batchSize: 4, seqLen: SEQ, learningRate: 3e-4, warmupSteps: 0, schedule: 'constant', seed: 3, divergenceFactor: 0 };
const LORA: LoraSpec = { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false, baseModel: 'stories260K' };


describe('full fine-tuning on stories260K', () => {
  let files: ModelFileSet;
  let base: LlamaModel;
  let tok: TextTokenizer;
  let examples: TokenizedExample[];
  const ids = () => tf.tensor2d([1, 291, 280, 294, 269, 261, 268, 414], [1, 8], 'int32');
  beforeAll(async () => {
    ({ files, model: base, tokenizer: tok } = await loadStories());
    examples = (await parseDatasetText(DRAGON, { fileName: 'stories-dragon.jsonl', tokenizer: tok, maxLength: SEQ + 1 })).examples;
  });

  it('starts from exactly the base: the trainable copy gives the frozen base logits', async () => {
    const full = await FullFineTune.create(files, base);
    expect(full.parameterCount()).toBe(full.variables().reduce((a, v) => a + v.size, 0));
    expect(maxAbsDiff(await readAndDispose(full.logits(ids())), await readAndDispose(base.forward(ids())))).toBeLessThan(1e-5);
    full.dispose();
  });

  it.each([
    ['model.embed_tokens.weight (tied to the head)', 'model.embed_tokens.weight'],
    ['a projection', 'model.layers.2.mlp.down_proj.weight'],
    ['a norm', 'model.layers.1.input_layernorm.weight'],
  ])('autograd matches central finite differences on %s', async (_label, name) => {
    const full = await FullFineTune.create(files, base);
    const w = full.variables().find((v) => v.name.endsWith(`.${name}`))!;
    const batch = makeBatch(examples.slice(0, 2), 16);
    const lossOf = () => maskedCrossEntropy(full.logits(tf.tensor2d(batch.inputs, [2, 16], 'int32')), tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
    const { value, grads } = tf.variableGrads(lossOf, full.variables());
    value.dispose();
    const g = await readAndDispose(grads[w.name]);
    tf.dispose(grads);
    const orig = (await w.data()) as Float32Array;
    const top = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 3);
    const lossAt = async (i: number, x: number) => {
      const c = orig.slice();
      c[i] = x;
      tf.tidy(() => w.assign(tf.tensor(c, w.shape)));
      return (await readAndDispose(tf.tidy(lossOf)))[0];
    };
    for (const i of top) {
      const eps = 1e-2;
      const fd = ((await lossAt(i, orig[i] + eps)) - (await lossAt(i, orig[i] - eps))) / (2 * eps);
      expect(Math.abs(fd - g[i])).toBeLessThan(0.03 * Math.abs(g[i]) + 2e-4);
    }
    expect(Math.abs(g[top[0]])).toBeGreaterThan(1e-3);
    full.dispose();
  });

  it('lowers the loss faster than LoRA (r 8, every projection) at the same learning rate, and leaks no tensors per step', async () => {
    const curve = async (adapter: FullFineTune | LoraAdapter, counts?: number[]) => {
      const t = new Trainer(base, adapter, examples, SETTINGS);
      const losses: number[] = [];
      await t.run((r) => {
        losses.push(r.loss);
        counts?.push(tf.memory().numTensors);
      });
      t.dispose();
      adapter.dispose();
      return losses;
    };
    const counts: number[] = [];
    const full = await curve(await FullFineTune.create(files, base), counts);
    const lora = await curve(LoraAdapter.create(base.config, LORA, SETTINGS.seed));
    expect(full[0]).toBeCloseTo(lora[0], 4); // both start at the base's loss
    // Same seed, same batches at each step: full is lower at every step after the first.
    for (let i = 1; i < full.length; i++) expect(full[i]).toBeLessThan(lora[i]);
    const tail = (l: number[]) => l.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(tail(full)).toBeLessThan(0.8 * full[0]);
    expect(counts.slice(2).every((c) => c === counts[1])).toBe(true);
  });

  it('resumed from checkpoint files after step 2, ends on the same weights as an uninterrupted run (1e-6)', async () => {
    const s = { ...SETTINGS, steps: 4, checkpointEvery: 2 };
    const a = await FullFineTune.create(files, base);
    const ta = new Trainer(base, a, examples, s);
    let saved: TrainerState | null = null;
    await ta.run({ onStep: () => {}, onCheckpoint: (st) => void (saved ??= st) });
    const straight = await a.toWeights();
    ta.dispose();
    a.dispose();
    const c = checkpointToFiles({ format: CHECKPOINT_FORMAT, runId: 'r', savedAt: 0, base: { source: 's', fingerprint: 'f' }, lora: LORA, full: { kind: 'full', baseModel: 's' }, settings: s, totalSteps: 4, elapsedMs: 0, state: saved!, history: emptyHistory() });
    const back = await checkpointFromFiles(c.json, c.tensors, 'mem');
    expect(back.state.step).toBe(2);
    const b = await FullFineTune.create(files, base); // fresh from the base: restore must overwrite it
    const tb = new Trainer(base, b, examples, s);
    tb.restore(back.state);
    await tb.run(() => {});
    const resumed = await b.toWeights();
    tb.dispose();
    b.dispose();
    expect(resumed.names).toEqual(straight.names);
    let worst = 0;
    straight.values.forEach((v, i) => (worst = Math.max(worst, maxAbsDiff(v, resumed.values[i]))));
    expect(worst).toBeLessThan(1e-6);
  });

  it('exports a Hugging Face folder that reloads to the same logits (1e-5, fp32)', async () => {
    const full = await FullFineTune.create(files, base);
    const t = new Trainer(base, full, examples, { ...SETTINGS, steps: 3, learningRate: 2e-3 });
    await t.run(() => {});
    t.dispose();
    const sink = new MemorySink();
    await writeHfModel(sink, { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tensors: await full.exportTensors(files) }, { dtype: 'auto' });
    expect([...sink.files.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const weights = bufferSource(sink.files.get('model.safetensors')!);
    const header = await readHeader(weights, 'model.safetensors');
    expect(header.tensors.get('model.layers.0.self_attn.q_proj.weight')?.dtype).toBe('F32'); // the checkpoint's torch_dtype float32
    expect(header.tensors.has('lm_head.weight')).toBe(false); // tied, as in the source
    const reloaded = await loadModel({ ...files, config: JSON.parse(sink.text('config.json')), shards: [{ name: 'model.safetensors', bytes: weights }] });
    const tuned = await readAndDispose(full.logits(ids()));
    expect(maxAbsDiff(await readAndDispose(reloaded.forward(ids())), tuned)).toBeLessThan(1e-5);
    expect(maxAbsDiff(tuned, await readAndDispose(base.forward(ids())))).toBeGreaterThan(1e-3); // it did train
    reloaded.dispose();
    full.dispose();
  });

  it('refuses an NF4 base with a message saying to load it in fp32', async () => {
    const nf4 = await loadModel(files, { precision: 'nf4' });
    await expect(FullFineTune.create(files, nf4)).rejects.toThrow(FullFineTuneError);
    await expect(FullFineTune.create(files, nf4)).rejects.toThrow(/loaded in fp32, not NF4/);
    nf4.dispose();
  });

  it('DPO with full fine-tuning uses the frozen base as its reference: ln 2 at step 0', async () => {
    const pairs = textExamples(tok, ['Zed the dragon was happy.', 'Lily ran to the park.']).map((e, i) => ({ ...e, rejected: textExamples(tok, ['The dog was sad.', 'Tom fell down.'])[i] }));
    const full = await FullFineTune.create(files, base);
    const t = new Trainer(base, full, pairs, { ...SETTINGS, steps: 2, batchSize: 2, objective: 'dpo', dpoBeta: 0.1, learningRate: 1e-3 });
    const losses: number[] = [];
    await t.run((r) => void losses.push(r.loss));
    expect(losses[0]).toBeCloseTo(Math.LN2, 5);
    expect(losses[1]).toBeLessThan(Math.LN2);
    t.dispose();
    full.dispose();
  });
});
