// DPO on the real stories260K model (wasm): the loss is exactly ln 2 at step 0, the batched loss and
// its LoRA gradient equal a plain computation from separately computed sequence log-probabilities,
// and on the shipped preference set (happy endings chosen over sad ones) held-out accuracy and margin
// rise while greedy continuations of held-out prompts move toward the chosen style.
import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { generate } from '../src/model/generate';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { dpoLoss, pairBatch, sequenceLogProbs } from '../src/train/dpo';
import { parseDatasetText, splitTrainValidation } from '../src/data/dataset';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories } from './stories-fixture';
import { loadModel } from '../src/model/load';
import type { ModelFileSet } from '../src/model/files';

const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' };
const PREFERENCES = readFileSync(new URL('../public/examples/stories-preference.jsonl', import.meta.url), 'utf8');
const SEQ = 56;

function settings(p: Partial<TrainSettings>): TrainSettings {
  return { ...DEFAULT_TRAIN, objective: 'dpo', dpoBeta: 0.1, batchSize: 4, seqLen: SEQ, warmupSteps: 0, ...p };
}

/** log p(answer tokens) of one sequence on its own: a [1, T] forward, summed in float64. */
async function plainLogp(model: LlamaModel, ex: TokenizedExample, lora: LoraAdapter | null): Promise<number> {
  const b = makeBatch([ex], SEQ);
  const row = tf.tidy(() => {
    const logits = model.forward(tf.tensor2d(b.inputs, [1, SEQ], 'int32'), { lora });
    return tf.logSoftmax(logits);
  });
  const lp = (await row.data()) as Float32Array;
  row.dispose();
  const V = model.config.vocabSize;
  let s = 0;
  for (let t = 0; t < SEQ; t++) if (b.weights[t]) s += lp[t * V + b.targets[t]];
  return s;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('DPO on stories260K', () => {
  let model: LlamaModel;
  let files: ModelFileSet;
  let tok: TextTokenizer;
  let pairs: TokenizedExample[];
  beforeAll(async () => {
    ({ model, files, tokenizer: tok } = await loadStories());
    const s = await parseDatasetText(PREFERENCES, { fileName: 'stories-preference.jsonl', tokenizer: tok, maxLength: SEQ + 1 });
    expect(s.invalid).toBe(0);
    pairs = s.examples;
  });

  it('is exactly ln 2 at step 0, where the adapter (B = 0) equals the reference', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, pairs, settings({ steps: 1 }));
    const r = await trainer.trainStep();
    expect(r.loss).toBeCloseTo(Math.LN2, 6);
    expect(r.dpo).toMatchObject({ rewardChosen: 0, rewardRejected: 0, margin: 0, accuracy: 0, pairs: 4 });
    trainer.dispose();
    adapter.dispose();
  });

  it('trains over the NF4 base too: ln 2 at step 0, then the loss falls and pairs rank right', async () => {
    const nf4 = await loadModel(files, { precision: 'nf4' });
    const adapter = LoraAdapter.create(nf4.config, SPEC, 4);
    const trainer = new Trainer(nf4, adapter, pairs, settings({ steps: 6, learningRate: 4e-3 }));
    const reports = [];
    for (let i = 0; i < 6; i++) reports.push(await trainer.trainStep());
    expect(reports[0].loss).toBeCloseTo(Math.LN2, 6);
    expect(reports[5].loss).toBeLessThan(Math.LN2 - 0.1);
    expect(reports[5].dpo!.accuracy).toBeGreaterThanOrEqual(0.75);
    trainer.dispose();
    adapter.dispose();
    nf4.dispose();
  });

  it('loss and LoRA gradient equal a plain computation from separately computed sequence log-probs', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 2);
    // Move B off zero so policy and reference differ.
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 5));
    const beta = 0.5;
    const batchPairs = pairs.slice(0, 3);
    // Batched, as the trainer computes it.
    const b = pairBatch(batchPairs, SEQ);
    const reference = tf.tidy(() => sequenceLogProbs(model.forward(tf.tensor2d(b.inputs, [6, SEQ], 'int32'), { lora: null }), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights), 6));
    const vars = adapter.variables();
    const { value, grads } = tf.variableGrads(() => {
      const policy = sequenceLogProbs(model.forward(tf.tensor2d(b.inputs, [6, SEQ], 'int32'), { lora: adapter }), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights), 6);
      return dpoLoss(policy, reference, beta).loss;
    }, vars);
    const loss = (await value.data())[0];

    // Plain: one sequence at a time, combined in float64.
    let plainLoss = 0;
    const coef: number[] = [];
    for (const p of batchPairs) {
      const z = beta * ((await plainLogp(model, p, adapter)) - (await plainLogp(model, p, null)) - ((await plainLogp(model, p.rejected!, adapter)) - (await plainLogp(model, p.rejected!, null))));
      plainLoss += softplus(-z) / batchPairs.length;
      coef.push((-beta * sigmoid(-z)) / batchPairs.length); // d loss / d log p(chosen); minus that for rejected
    }
    // The trainer combines float32 sequence log-probs of magnitude ~100 (one ulp ~8e-6) in float32:
    // agreement to 5e-5 is that noise floor, not a looser check of the formula.
    expect(loss).toBeCloseTo(plainLoss, 4);
    // d loss = sum_i coef_i * (d log p(chosen_i) - d log p(rejected_i)), each gradient from its own [1, T] forward.
    const seqGrad = (ex: TokenizedExample) => {
      const e = makeBatch([ex], SEQ);
      return tf.variableGrads(() => sequenceLogProbs(model.forward(tf.tensor2d(e.inputs, [1, SEQ], 'int32'), { lora: adapter }), tf.tensor1d(e.targets, 'int32'), tf.tensor1d(e.weights), 1).sum() as tf.Scalar, vars).grads;
    };
    const expected = vars.map((v) => new Float64Array(v.size));
    for (let i = 0; i < batchPairs.length; i++) {
      for (const [ex, sign] of [[batchPairs[i], 1], [batchPairs[i].rejected!, -1]] as const) {
        const g = seqGrad(ex);
        for (let k = 0; k < vars.length; k++) {
          const d = g[vars[k].name].dataSync();
          for (let j = 0; j < d.length; j++) expected[k][j] += sign * coef[i] * d[j];
        }
        tf.dispose(Object.values(g));
      }
    }
    let maxErr = 0;
    let maxAbs = 0;
    for (let k = 0; k < vars.length; k++) {
      const got = grads[vars[k].name].dataSync();
      for (let j = 0; j < got.length; j++) {
        maxErr = Math.max(maxErr, Math.abs(got[j] - expected[k][j]));
        maxAbs = Math.max(maxAbs, Math.abs(expected[k][j]));
      }
    }
    expect(maxAbs).toBeGreaterThan(1e-4); // the gradient is not trivially zero
    expect(maxErr).toBeLessThan(1e-3 * maxAbs);
    tf.dispose([value, reference, ...Object.values(grads)]);
    adapter.dispose();
  });

  it('raises held-out accuracy and margin on the shipped set, and greedy answers turn happy', async () => {
    const { train, validation } = splitTrainValidation(pairs, 20, 42);
    const adapter = LoraAdapter.create(model.config, SPEC, 3);
    const trainer = new Trainer(model, adapter, train, settings({ steps: 12, learningRate: 4e-3, evalEvery: 4 }), validation);
    const before = await trainer.evaluateDpo();
    // Greedy continuation of each held-out prompt (the tokens before the answer).
    const greedy = async (lora: LoraAdapter | null) => {
      let happy = 0;
      let sad = 0;
      for (const v of validation) {
        const k = v.lossMask.indexOf(1);
        const text = tok.decode(await generate(model, v.inputIds.slice(0, k), { maxNewTokens: 32, lora }));
        if (process.env.DPO_DEBUG) console.log(JSON.stringify(text));
        if (/happy/.test(text)) happy++;
        if (/sad|cried/.test(text)) sad++;
      }
      return { happy, sad };
    };
    const g0 = await greedy(null);
    const evals: number[] = [];
    let tensors = 0;
    await trainer.run({
      onStep: (r) => {
        if (r.step === 1) tensors = tf.memory().numTensors;
      },
      onEval: (e) => {
        evals.push(e.dpo!.margin);
      },
    });
    expect(tf.memory().numTensors).toBe(tensors);
    const after = await trainer.evaluateDpo();
    const g1 = await greedy(adapter);
    console.log('held-out before', before, 'after', after, 'evals', evals, 'greedy', g0, g1);
    expect(before.metrics.accuracy).toBe(0);
    expect(after.metrics.accuracy).toBeGreaterThanOrEqual(0.75);
    expect(after.metrics.margin).toBeGreaterThan(0.5);
    expect(after.loss).toBeLessThan(before.loss - 0.2);
    expect(g1.happy - g1.sad).toBeGreaterThan(g0.happy - g0.sad);
    trainer.dispose();
    adapter.dispose();
  });
});
