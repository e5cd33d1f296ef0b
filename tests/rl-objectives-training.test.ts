// KTO, ORPO and GRPO through the Trainer on the real stories260K model (wasm): KTO's first loss is
// exactly 0.5 with a fresh adapter; KTO's and ORPO's batched loss and LoRA gradient equal a plain
// computation from separately computed per-sequence log-probs; GRPO steps leak no tensors, and a reward
// that throws, returns NaN or names no number stops the step with the row named and the adapter unchanged.
import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_GRPO, DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { parseDatasetText } from '../src/data/dataset';
import { parsePromptRows } from '../src/data/prompt-rows';
import { mismatchedRows } from '../src/train/objectives/kto';
import { functionScorer, RewardError } from '../src/train/objectives/reward';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories } from './stories-fixture';

const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' };
const PREFERENCES = readFileSync(new URL('../public/examples/stories-preference.jsonl', import.meta.url), 'utf8');
const SEQ = 56;

/** The shipped pairs unpaired: each chosen answer labelled true, each rejected answer false. */
function ktoLines(n: number): string {
  return PREFERENCES.trim().split('\n').slice(0, n).flatMap((l) => {
    const p = JSON.parse(l) as { prompt: string; chosen: string; rejected: string };
    return [JSON.stringify({ prompt: p.prompt, completion: p.chosen, label: true }), JSON.stringify({ prompt: p.prompt, completion: p.rejected, label: false })];
  }).join('\n');
}

function settings(p: Partial<TrainSettings>): TrainSettings {
  return { ...DEFAULT_TRAIN, batchSize: 4, seqLen: SEQ, warmupSteps: 0, ...p };
}

/** log p of one sequence's answer tokens, [1, T] forward, summed in float64; with its LoRA gradient when asked. */
async function plainLogp(model: LlamaModel, ex: TokenizedExample, lora: LoraAdapter | null): Promise<{ sum: number; count: number }> {
  const b = makeBatch([ex], SEQ);
  const row = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d(b.inputs, [1, SEQ], 'int32'), { lora })));
  const lp = (await row.data()) as Float32Array;
  row.dispose();
  const V = model.config.vocabSize;
  let sum = 0;
  let count = 0;
  for (let t = 0; t < SEQ; t++) if (b.weights[t]) { sum += lp[t * V + b.targets[t]]; count++; }
  return { sum, count };
}

function seqGrad(model: LlamaModel, adapter: LoraAdapter, ex: TokenizedExample): Float32Array[] {
  const e = makeBatch([ex], SEQ);
  const vars = adapter.variables();
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
    const lp = tf.logSoftmax(model.forward(tf.tensor2d(e.inputs, [1, SEQ], 'int32'), { lora: adapter }));
    return tf.sum(tf.mul(tf.sum(tf.mul(lp, tf.oneHot(tf.tensor1d(e.targets, 'int32'), model.config.vocabSize)), 1), tf.tensor1d(e.weights))) as tf.Scalar;
  }), vars);
  const out = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** Trainer's gradient for one step's micro-batch vs a sum of coefficient x per-sequence gradients. */
function compareGradients(got: Float32Array[], expected: Float64Array[]): void {
  let maxErr = 0;
  let maxAbs = 0;
  for (let k = 0; k < got.length; k++) {
    for (let j = 0; j < got[k].length; j++) {
      maxErr = Math.max(maxErr, Math.abs(got[k][j] - expected[k][j]));
      maxAbs = Math.max(maxAbs, Math.abs(expected[k][j]));
    }
  }
  expect(maxAbs).toBeGreaterThan(1e-5); // not trivially zero
  expect(maxErr).toBeLessThan(2e-3 * maxAbs);
}

/** The gradients the trainer's objective room produces for one micro-batch (no optimizer step). */
async function roomGradients(trainer: Trainer, rows: TokenizedExample[]): Promise<{ loss: number; grads: Float32Array[] }> {
  const room = (trainer as unknown as { room: { microBatch(r: TokenizedExample[]): Promise<{ f: () => tf.Scalar; dispose(): void }>; stepFigures(): Promise<unknown> } }).room;
  const vars = trainer.adapter.variables();
  const mb = await room.microBatch(rows);
  const { value, grads } = tf.variableGrads(mb.f, vars);
  mb.dispose();
  await room.stepFigures();
  const out = { loss: (await value.data())[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('KTO, ORPO and GRPO on stories260K', () => {
  let model: LlamaModel;
  let tok: TextTokenizer;
  let kto: TokenizedExample[];
  let pairs: TokenizedExample[];
  beforeAll(async () => {
    ({ model, tokenizer: tok } = await loadStories());
    const k = await parseDatasetText(ktoLines(8), { fileName: 'kto.jsonl', tokenizer: tok, maxLength: SEQ + 1 });
    expect(k.invalid).toBe(0);
    kto = k.examples;
    const p = await parseDatasetText(PREFERENCES, { fileName: 'pairs.jsonl', tokenizer: tok, maxLength: SEQ + 1 });
    pairs = p.examples;
  });

  it('KTO: the first loss is exactly 0.5 with a fresh adapter, every reward and the KL estimate 0', async () => {
    expect(kto.map((e) => e.label)).toEqual([true, false, true, false, true, false, true, false, true, false, true, false, true, false, true, false]);
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, kto, settings({ objective: 'kto', steps: 3, learningRate: 5e-3 }));
    const r = await trainer.trainStep();
    expect(r.loss).toBe(0.5);
    expect(r.figures).toMatchObject({ kl: 0, rewards_chosen: 0, rewards_rejected: 0, count_chosen: 2, count_rejected: 2 });
    const next = await trainer.trainStep();
    expect(next.loss).not.toBe(0.5); // the adapter moved
    trainer.dispose();
    adapter.dispose();
  });

  it('SFT refuses rows labelled false (it would learn the bad answers) and names them', () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const lines = kto.map((e, i) => ({ ...e, line: i + 1 }));
    expect(() => new Trainer(model, adapter, lines, settings({ objective: 'sft', steps: 1 }))).toThrow(
      /^8 rows are labelled false \(undesirable answers, e\.g\. lines 2, 4, 6, 8, 10\): supervised training would learn them\. Train with the KTO objective/,
    );
    const good = new Trainer(model, adapter, lines.filter((e) => e.label), settings({ objective: 'sft', steps: 1 }));
    good.dispose();
    adapter.dispose();
  });

  it('KTO: loss and LoRA gradient equal a plain computation (mismatched rows for the KL, detached)', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 2);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 7));
    const s = { beta: 0.2, desirableWeight: 1.25, undesirableWeight: 0.8 };
    const trainer = new Trainer(model, adapter, kto, settings({ objective: 'kto', kto: s }));
    const rows = kto.slice(0, 4);
    const got = await roomGradients(trainer, rows);
    let klSum = 0;
    for (const m of mismatchedRows(rows)) klSum += (await plainLogp(model, m, adapter)).sum - (await plainLogp(model, m, null)).sum;
    const kl = Math.max(0, klSum / 4);
    let plain = 0;
    const coef: number[] = [];
    for (const e of rows) {
      const ratio = (await plainLogp(model, e, adapter)).sum - (await plainLogp(model, e, null)).sum;
      const z = e.label ? sigmoid(s.beta * (ratio - kl)) : sigmoid(s.beta * (kl - ratio));
      const w = e.label ? s.desirableWeight : s.undesirableWeight;
      plain += (w * (1 - z)) / 4;
      coef.push(((e.label ? -1 : 1) * w * z * (1 - z) * s.beta) / 4); // d loss / d log p(row); z0 is detached
    }
    expect(got.loss).toBeCloseTo(plain, 5);
    const expected = adapter.variables().map((v) => new Float64Array(v.size));
    rows.forEach((e, i) => seqGrad(model, adapter, e).forEach((g, k) => g.forEach((x, j) => (expected[k][j] += coef[i] * x))));
    compareGradients(got.grads, expected);
    trainer.dispose();
    adapter.dispose();
  });

  it('ORPO: loss and LoRA gradient equal a plain computation from length-normalised log-probs', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 3);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 9));
    const lambda = 0.5;
    const trainer = new Trainer(model, adapter, pairs, settings({ objective: 'orpo', orpoLambda: lambda }));
    const rows = pairs.slice(0, 3);
    const got = await roomGradients(trainer, rows);
    // loss = -sum(chosen tokens)/N - lambda/P sum_i log sigmoid(lo_i), lo = (c - r) - (log(1-e^c) - log(1-e^r)).
    const chosen = await Promise.all(rows.map((e) => plainLogp(model, e, adapter)));
    const rejected = await Promise.all(rows.map((e) => plainLogp(model, e.rejected!, adapter)));
    const N = chosen.reduce((a, c) => a + c.count, 0);
    let plain = -chosen.reduce((a, c) => a + c.sum, 0) / N;
    const cc: number[] = [];
    const rc: number[] = [];
    rows.forEach((_, i) => {
      const c = chosen[i].sum / chosen[i].count;
      const r = rejected[i].sum / rejected[i].count;
      const lo = c - r - (Math.log(1 - Math.exp(c)) - Math.log(1 - Math.exp(r)));
      plain -= (lambda * Math.log(sigmoid(lo))) / rows.length;
      const dlo = (-lambda * (1 - sigmoid(lo))) / rows.length; // d loss / d lo
      // d lo / d c = 1 + e^c / (1 - e^c); d lo / d r = -(1 + e^r / (1 - e^r)); c = sum / count.
      cc.push(-1 / N + (dlo * (1 + Math.exp(c) / (1 - Math.exp(c)))) / chosen[i].count);
      rc.push((-dlo * (1 + Math.exp(r) / (1 - Math.exp(r)))) / rejected[i].count);
    });
    expect(got.loss).toBeCloseTo(plain, 4);
    const expected = adapter.variables().map((v) => new Float64Array(v.size));
    rows.forEach((e, i) => {
      seqGrad(model, adapter, e).forEach((g, k) => g.forEach((x, j) => (expected[k][j] += cc[i] * x)));
      seqGrad(model, adapter, e.rejected!).forEach((g, k) => g.forEach((x, j) => (expected[k][j] += rc[i] * x)));
    });
    compareGradients(got.grads, expected);
    trainer.dispose();
    adapter.dispose();
  });

  it('GRPO: steps report TRL\'s figures and leak no tensors', async () => {
    const { rows } = await parsePromptRows(['Once upon a time', 'The cat', 'Tom and his mom', 'Lily wanted to'].map((p) => JSON.stringify({ prompt: p })).join('\n'), tok);
    const adapter = LoraAdapter.create(model.config, SPEC, 4);
    const reward = functionScorer('says-the', ({ completion }) => (/\bthe\b/.test(completion) ? 1 : 0));
    const trainer = new Trainer(model, adapter, rows, settings({ objective: 'grpo', batchSize: 2, seqLen: 24, grpo: { ...DEFAULT_GRPO, numGenerations: 4, maxNewTokens: 12 } }), [], { reward, text: { eosTokenId: tok.eosTokenId, decode: (ids) => tok.decode(ids) } });
    // The model caches tables per sequence length it meets; sampling meets new lengths in the first steps (seeded: the same every run).
    for (let i = 0; i < 3; i++) await trainer.trainStep();
    const before = tf.memory().numTensors;
    const r = await trainer.trainStep();
    await trainer.trainStep();
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(r.figures!).sort()).toEqual(['completion_length', 'frac_reward_zero_std', 'kl', 'reward', 'reward_std']);
    expect(r.figures!.completion_length).toBeGreaterThan(0);
    expect(r.figures!.completion_length).toBeLessThanOrEqual(13);
    expect(r.tokens).toBe(2 * 4 * 24);
    trainer.dispose();
    adapter.dispose();
  });

  it('GRPO: a run resumed from a checkpoint samples and steps exactly as the uninterrupted run', async () => {
    const { rows } = await parsePromptRows(['Once upon a time', 'The cat', 'Tom and his mom'].map((p) => JSON.stringify({ prompt: p })).join('\n'), tok);
    const reward = functionScorer('says-a', ({ completion }) => (completion.match(/\ba\b/g) ?? []).length);
    const make = () => {
      const adapter = LoraAdapter.create(model.config, SPEC, 6);
      const trainer = new Trainer(model, adapter, rows, settings({ objective: 'grpo', steps: 3, batchSize: 2, seqLen: 20, learningRate: 1e-2, grpo: { ...DEFAULT_GRPO, numGenerations: 3, maxNewTokens: 8 } }), [], { reward, text: { eosTokenId: tok.eosTokenId, decode: (ids) => tok.decode(ids) } });
      return { adapter, trainer };
    };
    const a = make();
    const whole = [];
    for (let i = 0; i < 3; i++) whole.push(await a.trainer.trainStep());
    const b = make();
    await b.trainer.trainStep();
    const state = await b.trainer.state();
    const c = make();
    c.trainer.restore(state);
    const resumed = [await c.trainer.trainStep(), await c.trainer.trainStep()];
    expect(resumed.map((r) => [r.loss, r.figures!.reward, r.figures!.completion_length])).toEqual(whole.slice(1).map((r) => [r.loss, r.figures!.reward, r.figures!.completion_length]));
    expect(new Set(whole.map((r) => r.figures!.reward)).size).toBeGreaterThan(1); // the steps differ: a test of the seeds, not of a constant
    for (const x of [a, b, c]) {
      x.trainer.dispose();
      x.adapter.dispose();
    }
  });

  for (const [what, fn, failure] of [
    ['throws', () => { throw new TypeError('boom'); }, 'threw'],
    ['returns NaN', () => NaN, 'not-a-number'],
    ['returns a string', () => 'high', 'not-a-number'],
  ] as const) {
    it(`GRPO: a reward that ${what} stops the step, names the row, and leaves the adapter as it was`, async () => {
      const lines = ['{"prompt": "Once upon a time"}', '{"prompt": "The cat"}'].join('\n');
      const { rows } = await parsePromptRows(lines, tok);
      const adapter = LoraAdapter.create(model.config, SPEC, 5);
      let calls = 0;
      // Good for the whole first step (8 calls), then bad on the second prompt's rows.
      const reward = functionScorer('flaky', ({ prompt }) => (++calls > 8 && prompt === 'The cat' ? fn() : Math.random()));
      const trainer = new Trainer(model, adapter, rows, settings({ objective: 'grpo', batchSize: 2, seqLen: 20, learningRate: 1e-2, grpo: { ...DEFAULT_GRPO, numGenerations: 4, maxNewTokens: 8 } }), [], { reward, text: { eosTokenId: tok.eosTokenId, decode: (ids) => tok.decode(ids) } });
      await trainer.trainStep();
      const good = await adapter.toWeights();
      const tensors = tf.memory().numTensors;
      const err = await trainer.trainStep().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RewardError);
      expect((err as RewardError).line).toBe(2);
      expect((err as RewardError).failure).toBe(failure);
      expect((err as Error).message).toContain('data line 2');
      expect(trainer.step).toBe(1);
      expect(await adapter.toWeights()).toEqual(good);
      expect(tf.memory().numTensors).toBe(tensors);
      trainer.dispose();
      adapter.dispose();
    });
  }
});
