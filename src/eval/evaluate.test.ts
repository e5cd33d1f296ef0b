// The Evaluate figures on stories260K (wasm, Node) after a short run on the bundled dragon stories:
// the held-out loss equals the trainer's own validation loss, tuning lowers it, generations change,
// strength 0 gives the base text exactly and strength 1 the tuned text; plus the score rules.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadStories } from '../../tests/stories-fixture';
import type { LlamaModel } from '../model/llama';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import { LoraAdapter } from '../train/lora';
import { Trainer } from '../train/trainer';
import { DEFAULT_TRAIN } from '../train/settings';
import { prepareDataset, DEFAULT_DATASET_OPTIONS } from '../data/prepare';
import { streamFromBytes } from '../data/jsonl';
import type { TrainingExample } from '../data/render';
import { heldOutLoss } from './heldout';
import { compareGenerations, evaluateAdapter, type EvalOptions } from './evaluate';
import { evalPrompts, generateSideBySide, scoreGeneration } from './generations';
import { LossMemo } from './loss-memo';
import { stopTokenIds } from '../tokenizer/stop-tokens';

const DRAGON = readFileSync(new URL('../../public/examples/stories-dragon.jsonl', import.meta.url), 'utf8');
const GENERAL = readFileSync(new URL('../../public/eval/general-text.txt', import.meta.url), 'utf8');
const OPTS: EvalOptions = { seqLen: 48, batchSize: 4, prompts: 3, maxNewTokens: 16, generalText: GENERAL };

describe('evaluate on stories260K after the dragon run', () => {
  let model: LlamaModel;
  let tok: TextTokenizer;
  let adapter: LoraAdapter;
  let trainer: Trainer;
  let validation: TrainingExample[];
  beforeAll(async () => {
    ({ model, tokenizer: tok } = await loadStories());
    const p = await prepareDataset({ stream: streamFromBytes(DRAGON), fileName: 'stories-dragon.jsonl' }, null, tok, DEFAULT_DATASET_OPTIONS);
    validation = p.validation;
    adapter = LoraAdapter.create(model.config, { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' }, 42);
    trainer = new Trainer(model, adapter, p.train, { ...DEFAULT_TRAIN, steps: 16, batchSize: 4, seqLen: 48, learningRate: 1e-2 }, p.validation);
    await trainer.run(() => undefined);
  }, 120_000);

  it('held-out loss equals the trainer’s validation loss, and tuning lowered it', async () => {
    const tuned = await heldOutLoss(model, adapter, validation, 48, 4);
    // The same tokens summed in another order (batches of the run's size vs the trainer's): a few ulps apart.
    expect(tuned.loss).toBeCloseTo(await trainer.evaluate(), 5);
    // Batching does not change the figure, only memory.
    expect((await heldOutLoss(model, adapter, validation, 48, 1)).loss).toBeCloseTo(tuned.loss, 5);
    const s = await evaluateAdapter(model, tok, adapter, validation, OPTS);
    expect(s.heldOut!.tuned.loss).toBe(tuned.loss);
    expect(s.heldOut!.tuned.loss).toBeLessThan(s.heldOut!.base.loss);
    expect(s.heldOut!.base.perplexity).toBeCloseTo(Math.exp(s.heldOut!.base.loss), 9);
    expect(s.general!.paragraphs).toBe(10);
    expect(s.general!.change).toBeCloseTo(s.general!.tuned.loss - s.general!.base.loss, 12);
    expect(s.generations).toHaveLength(3);
    expect(s.generations.some((g) => g.tuned.text !== g.base.text)).toBe(true);
    expect(s.scores.tuned.of).toBe(3);
  }, 120_000);

  it('measures no loss twice: what the memo knows (an earlier Evaluate, the trainer’s last evaluation) is used as given', async () => {
    const memo = new LossMemo();
    const forward = vi.spyOn(model, 'forwardHidden');
    // Loss passes: forwards without a KV cache (generation always decodes with one).
    const lossPasses = () => forward.mock.calls.filter(([, o]) => !o?.cache).length;
    try {
      const first = await evaluateAdapter(model, tok, adapter, validation, OPTS, undefined, memo);
      const calls = lossPasses();
      expect(calls).toBeGreaterThan(0);
      const again = await evaluateAdapter(model, tok, adapter, validation, OPTS, undefined, memo);
      expect(lossPasses()).toBe(calls);
      expect(again.heldOut).toEqual(first.heldOut);
      expect(again.general).toEqual(first.general);
      // Another sequence length is another figure: measured.
      await evaluateAdapter(model, tok, adapter, validation, { ...OPTS, seqLen: 32, generalText: undefined }, undefined, memo);
      expect(lossPasses()).toBeGreaterThan(calls);
      const known = new LossMemo();
      known.set(adapter, validation, OPTS.seqLen, { loss: 1.5, perplexity: Math.exp(1.5), tokens: 7 });
      const s = await evaluateAdapter(model, tok, adapter, validation, { ...OPTS, generalText: undefined }, undefined, known);
      expect(s.heldOut!.tuned).toEqual({ loss: 1.5, perplexity: Math.exp(1.5), tokens: 7 });
      expect(s.heldOut!.base).toEqual(first.heldOut!.base);
    } finally {
      forward.mockRestore();
    }
  }, 120_000);

  it('base and tuned decoded side by side give the texts of one generation each', async () => {
    const stops = new Set(stopTokenIds(model.config.eosTokenIds, tok));
    const rows = await compareGenerations(model, tok, adapter, validation, OPTS);
    const prompts = evalPrompts(validation, tok, stops, OPTS.prompts);
    expect(rows).toHaveLength(prompts.length);
    for (const [i, p] of prompts.entries()) {
      // Each column alone: a batch of one row.
      expect([rows[i].base]).toEqual(await generateSideBySide(model, [null], tok, p, stops, OPTS.maxNewTokens));
      expect([rows[i].tuned]).toEqual(await generateSideBySide(model, [adapter], tok, p, stops, OPTS.maxNewTokens));
    }
  }, 120_000);

  it('strength 0 reproduces the base text exactly, 1 the tuned text, and leaks no tensors', async () => {
    // Rope tables the model caches for positions it has not seen yet are not a leak (the cache is bounded).
    const live = () => tf.memory().numTensors - model.cachedTensorCount();
    const before = live();
    const at1 = await compareGenerations(model, tok, adapter, validation, { ...OPTS, strength: 1 });
    const at0 = await compareGenerations(model, tok, adapter, validation, { ...OPTS, strength: 0 });
    const atHalf = await compareGenerations(model, tok, adapter, validation, { ...OPTS, strength: 0.5 });
    for (let i = 0; i < at0.length; i++) {
      expect(at0[i].tuned.text).toBe(at0[i].base.text);
      expect(at1[i].base.text).toBe(at0[i].base.text);
    }
    const full = await evaluateAdapter(model, tok, adapter, validation, { ...OPTS, generalText: undefined });
    expect(at1.map((g) => g.tuned.text)).toEqual(full.generations.map((g) => g.tuned.text));
    expect(atHalf.length).toBe(at1.length);
    expect(adapter.strength).toBe(1);
    expect(live()).toBe(before);
  }, 120_000);
});

describe('generation scores', () => {
  const TABLE: [string, string, string, boolean, { exact: boolean; startsLike: boolean; stopped: boolean }][] = [
    ['same text', ' Paris.', 'Paris.', true, { exact: true, startsLike: true, stopped: true }],
    ['fourth word differs', ' the cat sat on the mat and slept', 'the cat sat in the rug', false, { exact: false, startsLike: false, stopped: false }],
    ['five words agree', ' the cat sat on the mat and slept', 'the cat sat on the mat', false, { exact: false, startsLike: true, stopped: false }],
    ['short reference', ' Yes, it is.', 'Yes,', true, { exact: false, startsLike: true, stopped: true }],
    ['different', ' No.', 'Yes.', true, { exact: false, startsLike: false, stopped: true }],
  ];
  for (const [name, text, ref, stopped, want] of TABLE) it(name, () => expect(scoreGeneration(text, ref, stopped)).toEqual(want));
});
