// A full fine-tuning run as the worker drives it, checkpoints in IndexedDB (fake-indexeddb): paused at
// step K and rebuilt from IndexedDB alone ("after a reload"), it continues with the losses of an
// uninterrupted run and ends on its weights; a diverging run goes back to its last good weights.
import 'fake-indexeddb/auto';
import { describe, it, expect, beforeAll } from 'vitest';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import type { ModelFileSet } from '../src/model/files';
import { TrainingDivergedError } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import type { TokenizedExample } from '../src/train/batches';
import { TrainingRun } from '../src/train/training-run';
import { FullFineTune, type FullSpec } from '../src/train/full-finetune';
import { indexedDbRunStore, loadCheckpoint, loadRunData, loadRunRecord, saveRunData } from '../src/storage/checkpoints';
import type { LoraSpec } from '../src/adapters/lora-types';
import { loadStories, textExamples } from './stories-fixture';

const LORA: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' };
const SETTINGS: TrainSettings = { ...DEFAULT_TRAIN, steps: 5, batchSize: 2, seqLen: 24, learningRate: 2e-3, warmupSteps: 1, seed: 5, checkpointEvery: 2, evalEvery: 0, sampleEvery: 0 };
const BASE = { source: 'stories260K', fingerprint: 'f' };
const SPEC: FullSpec = { kind: 'full', baseModel: 'stories260K' };

describe('full fine-tuning TrainingRun with IndexedDB checkpoints', () => {
  let files: ModelFileSet;
  let model: LlamaModel;
  let tok: TextTokenizer;
  let train: TokenizedExample[];
  beforeAll(async () => {
    ({ files, model, tokenizer: tok } = await loadStories());
    train = textExamples(tok, ['Zed the dragon liked to fly.', 'Zed the dragon found a ball.', 'Zed the dragon sang a song.', 'Lily met Zed in the park.'], 3);
  });

  const setup = async (runId: string, settings = SETTINGS) => ({
    model, base: BASE, lora: LORA, settings, train, validation: [], runId, store: indexedDbRunStore, decode: (ids: number[]) => tok.decode(ids),
    full: { spec: SPEC, adapter: await FullFineTune.create(files, model) },
  });

  it('pauses at step 3 and resumes from IndexedDB alone with the same losses and final weights', async () => {
    const straight = new TrainingRun(await setup('full-straight'));
    const losses: number[] = [];
    await straight.run({ onStep: (r) => void losses.push(r.loss) });
    const want = await (straight.adapter as FullFineTune).toWeights();
    straight.dispose();
    straight.adapter.dispose();

    await saveRunData('full-paused', { train, validation: [] });
    const first = new TrainingRun(await setup('full-paused'));
    expect(await first.run({ onStep: (r) => { if (r.step === 3) first.pause(); } })).toBe('paused');
    first.dispose();
    first.adapter.dispose();
    const ckpt = await loadCheckpoint('full-paused');
    expect(ckpt.full).toEqual(SPEC);
    expect(ckpt.state.step).toBe(3);
    expect(ckpt.state.full!.names.length).toBe(47);

    const data = await loadRunData('full-paused');
    const second = new TrainingRun({ ...(await setup('full-paused', ckpt.settings)), train: data.train }, ckpt);
    second.adoptRecord((await loadRunRecord('full-paused'))!);
    const rest: number[] = [];
    expect(await second.run({ onStep: (r) => void rest.push(r.loss) })).toBe('completed');
    rest.forEach((l, i) => expect(Math.abs(l - losses[3 + i])).toBeLessThan(1e-6));
    const got = await (second.adapter as FullFineTune).toWeights();
    let worst = 0;
    got.values.forEach((v, i) => v.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - want.values[i][j])))));
    expect(worst).toBeLessThan(1e-6);
    expect(await loadRunRecord('full-paused')).toMatchObject({ status: 'completed', step: 5, full: SPEC });
    second.dispose();
    second.adapter.dispose();
  });

  it('on divergence goes back to the last good weights', async () => {
    const run = new TrainingRun(await setup('full-diverge', { ...SETTINGS, steps: 20, checkpointEvery: 1, learningRate: 1e3, warmupSteps: 0, schedule: 'constant' }));
    const err = await run.run({ onStep: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const ckpt = await loadCheckpoint('full-diverge');
    expect(run.trainer.step).toBe(ckpt.state.step);
    const now = await (run.adapter as FullFineTune).toWeights();
    expect(Array.from(now.values[3])).toEqual(Array.from(ckpt.state.full!.values[3]));
    run.dispose();
    run.adapter.dispose();
  });
});
