// A training run with its checkpoints in IndexedDB (fake-indexeddb), as the worker drives it: pause
// at step K, then a fresh run built only from what IndexedDB holds (checkpoint + stored data)
// continues with the same losses as an uninterrupted run; a diverging run goes back to its last
// good checkpoint; the run list shows settings, status and final losses.
import 'fake-indexeddb/auto';
import { describe, it, expect, beforeAll } from 'vitest';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import { TrainingDivergedError } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import type { TokenizedExample } from '../src/train/batches';
import { TrainingRun, type SampleReport } from '../src/train/training-run';
import { indexedDbRunStore, isResumable, listRuns, loadCheckpoint, loadRunData, loadRunRecord, saveRunData } from '../src/storage/checkpoints';
import type { LoraSpec } from '../src/adapters/lora-types';
import type { LoraAdapter } from '../src/train/lora';
import { loadStories, textExamples } from './stories-fixture';
import { heldOutLoss } from '../src/eval/heldout';

const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' };
const SETTINGS: TrainSettings = { ...DEFAULT_TRAIN, steps: 9, batchSize: 2, seqLen: 24, learningRate: 1e-2, warmupSteps: 2, seed: 11, checkpointEvery: 4, evalEvery: 3, sampleEvery: 9 };
const BASE = { source: 'stories260K', fingerprint: 'f' };

describe('TrainingRun with IndexedDB checkpoints', () => {
  let model: LlamaModel;
  let tok: TextTokenizer;
  let train: TokenizedExample[];
  let validation: TokenizedExample[];
  beforeAll(async () => {
    ({ model, tokenizer: tok } = await loadStories());
    train = textExamples(tok, ['Zed the dragon liked to fly.', 'Zed the dragon found a ball.', 'Zed the dragon sang a song.', 'Zed the dragon ate a cake.', 'Lily met Zed in the park.'], 3);
    validation = textExamples(tok, ['Zed the dragon was happy.'], 3);
  });

  const setup = (runId: string, settings = SETTINGS) => ({ model, base: BASE, lora: SPEC, settings, train, validation, runId, store: indexedDbRunStore, decode: (ids: number[]) => tok.decode(ids) });

  it('pauses at step K and resumes from IndexedDB alone with the same losses', async () => {
    const full = new TrainingRun(setup('full'));
    const fullLosses: number[] = [];
    const samples: SampleReport[] = [];
    expect(await full.run({ onStep: (r) => void fullLosses.push(r.loss), onSample: (s) => void samples.push(s) })).toBe('completed');
    full.dispose();
    full.adapter.dispose();
    expect(samples.map((s) => s.step)).toEqual([9]);
    expect(samples[0].samples[0].text.startsWith(samples[0].samples[0].prompt)).toBe(true);

    await saveRunData('paused', { train, validation });
    const first = new TrainingRun(setup('paused'));
    const firstLosses: number[] = [];
    const status = await first.run({
      onStep: (r) => {
        firstLosses.push(r.loss);
        if (r.step === 6) first.pause();
      },
    });
    first.dispose();
    first.adapter.dispose();
    expect(status).toBe('paused');
    expect(firstLosses).toEqual(fullLosses.slice(0, 6));
    const rec = await loadRunRecord('paused');
    expect(rec).toMatchObject({ status: 'paused', step: 6, checkpointStep: 6, totalSteps: 9 });
    expect(isResumable(rec!)).toBe(true);

    // "After a reload": nothing but IndexedDB and the model.
    const ckpt = await loadCheckpoint('paused');
    const data = await loadRunData('paused');
    const second = new TrainingRun({ ...setup('paused', ckpt.settings), lora: ckpt.lora, train: data.train, validation: data.validation }, ckpt);
    second.adoptRecord(rec!);
    const rest: number[] = [];
    expect(await second.run({ onStep: (r) => void rest.push(r.loss) })).toBe('completed');
    second.dispose();
    second.adapter.dispose();
    rest.forEach((l, i) => expect(Math.abs(l - fullLosses[6 + i])).toBeLessThan(1e-6));
    expect(second.history.loss).toHaveLength(9); // the chart's series continues
    const done = await loadRunRecord('paused');
    expect(done).toMatchObject({ status: 'completed', step: 9 });
    expect(done!.finalLoss).toBeCloseTo(fullLosses[8], 6);
    expect(isResumable(done!)).toBe(false);
  });

  it('on divergence restores the last good checkpoint and records why', async () => {
    const run = new TrainingRun(setup('diverge', { ...SETTINGS, steps: 20, checkpointEvery: 1, learningRate: 1e6, warmupSteps: 0, schedule: 'constant' }));
    const err = await run.run({ onStep: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const d = (err as TrainingDivergedError).step;
    const ckpt = await loadCheckpoint('diverge');
    // Step d's runaway loss came from the weights after step d-1: the good state is d-2's.
    expect(ckpt.state.step).toBe(Math.max(0, d - 2));
    expect(run.trainer.step).toBe(ckpt.state.step);
    expect(ckpt.history.steps.at(-1) ?? 0).toBe(ckpt.state.step);
    const now = await (run.adapter as LoraAdapter).toWeights();
    expect(Array.from(now.layers[0].B)).toEqual(Array.from(ckpt.state.adapter.layers[0].B));
    const rec = await loadRunRecord('diverge');
    expect(rec!.status).toBe('diverged');
    expect(rec!.message).toMatch(new RegExp(`Restored the checkpoint of step ${ckpt.state.step}`));
    run.dispose();
    run.adapter.dispose();
    const runs = await listRuns();
    expect(runs.map((r) => r.runId).sort()).toEqual(['diverge', 'full', 'paused']);
    expect(runs.find((r) => r.runId === 'full')!.settings.learningRate).toBe(1e-2);
  });

  it('knows the held-out loss at its last step (Evaluate’s tuned loss), and only when the last step was evaluated', async () => {
    const run = new TrainingRun(setup('end-loss', { ...SETTINGS, steps: 4, checkpointEvery: 0, sampleEvery: 0 }));
    expect(await run.run({ onStep: () => undefined })).toBe('completed');
    const end = run.heldOutAtEnd();
    expect(end).not.toBeNull();
    expect(end!.validation).toBe(validation);
    expect(end!.seqLen).toBe(24);
    expect(end!.loss).toBe(run.history.evalLoss.at(-1));
    expect(run.history.evalSteps.at(-1)).toBe(4);
    // What Evaluate would measure on the same adapter (dropout off, strength 1): the same figure.
    expect(end!.loss).toBeCloseTo((await heldOutLoss(model, run.adapter as LoraAdapter, validation, 24, 4)).loss, 5);
    run.dispose();
    run.adapter.dispose();

    const paused = new TrainingRun(setup('end-loss-paused', { ...SETTINGS, checkpointEvery: 0, sampleEvery: 0 }));
    expect(await paused.run({ onStep: (r) => void (r.step === 5 && paused.pause()) })).toBe('paused');
    expect(paused.history.evalSteps.at(-1)).toBe(3);
    expect(paused.heldOutAtEnd()).toBeNull(); // step 5's weights were never evaluated
    paused.dispose();
    paused.adapter.dispose();
  });
});
