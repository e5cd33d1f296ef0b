// The trainer on the real stories260K model (wasm backend): a seed fixes the whole loss curve
// (initialisation, data order, dropout); a run interrupted at step K and resumed from its checkpoint
// files gives the same losses as an uninterrupted one; evaluation reports loss and perplexity;
// no tensor leaks with eval and checkpoints on; a huge learning rate ends in TrainingDivergedError.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import { Trainer, TrainingDivergedError, type EvalReport, type TrainerState } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import type { TokenizedExample } from '../src/train/batches';
import { checkpointFromFiles, checkpointToFiles, CHECKPOINT_FORMAT, emptyHistory } from '../src/train/checkpoint';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories, textExamples } from './stories-fixture';

const TEXTS = [
  'Zed the purple dragon liked to fly over the green hill.',
  'Zed the purple dragon found a shiny red ball in the park.',
  'Zed the purple dragon was happy and sang a song with Lily.',
  'Zed the purple dragon ate a big cake and said thank you.',
  'Lily and Zed played in the sun all day long.',
  'The dragon was tired, so he went to sleep under a tree.',
];
const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: true, baseModel: 'stories260K' };
const SETTINGS: TrainSettings = { ...DEFAULT_TRAIN, steps: 10, batchSize: 2, seqLen: 24, learningRate: 1e-2, warmupSteps: 2, gradAccum: 2, seed: 7 };

describe('reproducible and resumable training on stories260K', () => {
  let model: LlamaModel;
  let examples: TokenizedExample[];
  beforeAll(async () => {
    const s = await loadStories();
    model = s.model;
    examples = textExamples(s.tokenizer, TEXTS);
  });

  async function runLosses(settings: TrainSettings, spec = SPEC): Promise<number[]> {
    const adapter = LoraAdapter.create(model.config, spec, settings.seed);
    const trainer = new Trainer(model, adapter, examples, settings);
    const losses: number[] = [];
    await trainer.run((r) => void losses.push(r.loss));
    trainer.dispose();
    adapter.dispose();
    return losses;
  }

  it('gives the same loss curve for the same seed (dropout on) and a different one for another seed', async () => {
    const a = await runLosses(SETTINGS);
    const b = await runLosses(SETTINGS);
    expect(b).toEqual(a);
    const c = await runLosses({ ...SETTINGS, seed: 8 });
    expect(c).not.toEqual(a);
  });

  it('resumes from checkpoint files at step K with the same losses as an uninterrupted run', async () => {
    const full = await runLosses(SETTINGS);
    const K = 4;
    // First half: stop after K steps and keep the checkpoint handed to onCheckpoint.
    const a1 = LoraAdapter.create(model.config, SPEC, SETTINGS.seed);
    const t1 = new Trainer(model, a1, examples, { ...SETTINGS, checkpointEvery: K });
    const first: number[] = [];
    let saved: TrainerState | null = null;
    await t1.run({
      onStep: (r) => {
        first.push(r.loss);
      },
      onCheckpoint: (s) => {
        saved = s;
        t1.requestStop();
      },
    });
    t1.dispose();
    a1.dispose();
    expect(first).toEqual(full.slice(0, K));
    // Through the on-disk format, into a fresh adapter initialised from another seed (restore must overwrite it).
    const files = checkpointToFiles({ format: CHECKPOINT_FORMAT, runId: 'r', savedAt: 0, base: { source: 's', fingerprint: 'f' }, lora: SPEC, settings: SETTINGS, totalSteps: 10, elapsedMs: 0, state: saved!, history: emptyHistory() });
    const back = await checkpointFromFiles(files.json, files.tensors, 'mem');
    const a2 = LoraAdapter.create(model.config, SPEC, 999);
    const t2 = new Trainer(model, a2, examples, SETTINGS);
    t2.restore(back.state);
    const rest: number[] = [];
    await t2.run((r) => void rest.push(r.loss));
    t2.dispose();
    a2.dispose();
    expect(rest).toHaveLength(10 - K);
    rest.forEach((l, i) => expect(Math.abs(l - full[K + i])).toBeLessThan(1e-6));
  });

  it('evaluates loss and perplexity every N steps and after the last, leaking no tensors', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, examples.slice(0, 4), { ...SETTINGS, steps: 7, evalEvery: 3, checkpointEvery: 2, sampleEvery: 5 }, examples.slice(4));
    const evals: EvalReport[] = [];
    const samples: number[] = [];
    let checkpoints = 0;
    let afterFirst = 0;
    await trainer.run({
      onStep: (r) => {
        if (r.step === 1) afterFirst = tf.memory().numTensors;
      },
      onEval: (e) => void evals.push(e),
      onSample: (s) => void samples.push(s),
      onCheckpoint: () => void checkpoints++,
    });
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(evals.map((e) => e.step)).toEqual([3, 6, 7]);
    expect(samples).toEqual([5, 7]);
    expect(checkpoints).toBe(3);
    for (const e of evals) {
      expect(e.loss).toBeGreaterThan(0);
      expect(e.perplexity).toBeCloseTo(Math.exp(e.loss), 6);
    }
    trainer.dispose();
    adapter.dispose();
  });

  it('derives the step count from epochs', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, examples, { ...SETTINGS, epochs: 2 }); // 12 examples / (2 x 2) = 3 steps
    const steps: number[] = [];
    expect(await trainer.run((r) => void steps.push(r.step))).toBe('completed');
    expect(steps).toEqual([1, 2, 3]);
    expect(trainer.epoch).toBe(2);
    trainer.dispose();
    adapter.dispose();
  });

  it('stops a runaway loss (learning rate 1e6) with TrainingDivergedError naming the ratio', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, examples, { ...SETTINGS, steps: 30, learningRate: 1e6, warmupSteps: 0, schedule: 'constant' });
    const losses: number[] = [];
    const err = await trainer.run((r) => void losses.push(r.loss)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/step 2: the loss rose to [\d.]+, [\d.]+x the first step's/);
    expect(losses).toHaveLength(1);
    trainer.dispose();
    adapter.dispose();
  });

  it('stops a NaN loss with TrainingDivergedError and leaves the weights as they were', async () => {
    const adapter = LoraAdapter.create(model.config, SPEC, 1);
    const trainer = new Trainer(model, adapter, examples, SETTINGS);
    const state = await trainer.state();
    state.adapter.layers[0].B = state.adapter.layers[0].B.map(() => NaN);
    trainer.restore(state);
    const err = await trainer.trainStep().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/step 1: the loss or gradient became NaN/);
    expect(trainer.step).toBe(0);
    const after = await adapter.toWeights();
    expect(Array.from(after.layers[1].A)).toEqual(Array.from(state.adapter.layers[1].A));
    trainer.dispose();
    adapter.dispose();
  });
});
