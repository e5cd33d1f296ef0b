// The feedback slice over fake-indexeddb, with the rest of the store stubbed: a comparison's second
// verdict edits its one record, a thumb stores only the answer's context, and "train on this
// feedback" refuses too few pairs and otherwise reads the pairs as a dataset file and picks DPO.
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { create } from 'zustand';
import { createFeedbackSlice } from '../../src/store/feedback-slice';
import { listFeedback } from '../../src/storage/feedback-store';
import type { AppState, Comparison } from '../../src/store/types';
import type { FeedbackRecord } from '../../src/data/feedback';

function makeStore(opts: { datasetReads: boolean }) {
  const loaded: { name: string; text: Promise<string> }[] = [];
  const setTrain = vi.fn();
  const store = create<AppState>()((set, get, api) => ({
    ...({
      dataset: null,
      training: false,
      async loadDataset(file: Blob, fileName: string) {
        loaded.push({ name: fileName, text: file.text() });
        if (opts.datasetReads) set({ dataset: { fileName } as AppState['dataset'] });
      },
      setTrain,
    } as unknown as AppState),
    ...createFeedbackSlice(set, get, api),
  }));
  return { store, loaded, setTrain };
}

const answer = (text: string, seed: number) => ({ text, from: 'base' as const, temperature: 0.8, seed });
const comparison = (a: string, b: string): Comparison => ({ prompt: 'Once', chat: false, modelSource: 'm', adapter: null, mode: 'samples', a: answer(a, 1), b: answer(b, 2), running: false, recordId: null });
const single = (id: string, verdict: 'up' | 'down', correction: string): FeedbackRecord => ({ id, kind: 'single', prompt: 'Once', chat: false, modelSource: 'm', adapter: null, createdAtMs: 1, answer: answer(' bad', 1), verdict, correction });

describe('feedback slice', () => {
  it('a second verdict on the same comparison edits its record instead of adding one', async () => {
    const { store } = makeStore({ datasetReads: true });
    store.setState({ comparison: comparison(' a', ' b') });
    await store.getState().rateComparison('a');
    await store.getState().rateComparison('both-bad');
    const stored = (await listFeedback()).filter((r) => r.kind === 'pair');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ verdict: 'both-bad', a: { text: ' a' }, b: { text: ' b' } });
    expect(store.getState().feedback.map((r) => r.id)).toEqual(stored.map((r) => r.id));
  });

  it('a thumb on a compared answer stores the prompt and model, not the comparison', async () => {
    const { store } = makeStore({ datasetReads: true });
    const id = await store.getState().rateAnswer(comparison(' a', ' b'), answer(' a', 1), 'down');
    const r = store.getState().feedback.find((x) => x.id === id)!;
    expect(Object.keys(r).sort()).toEqual(['adapter', 'answer', 'chat', 'correction', 'createdAtMs', 'id', 'kind', 'modelSource', 'prompt', 'verdict']);
  });

  it('too few pairs: says what is needed and loads nothing', async () => {
    const { store, loaded, setTrain } = makeStore({ datasetReads: true });
    store.setState({ feedback: [single('1', 'down', ' good'), single('2', 'down', '')] });
    expect(await store.getState().trainOnFeedback()).toBe(false);
    expect(store.getState().feedbackNote).toContain('your feedback makes 1');
    expect(loaded).toEqual([]);
    expect(setTrain).not.toHaveBeenCalled();
  });

  it('enough pairs: the dataset path reads them as feedback-pairs.jsonl and the objective becomes DPO', async () => {
    const { store, loaded, setTrain } = makeStore({ datasetReads: true });
    store.setState({ feedback: [single('1', 'down', ' good'), single('2', 'down', ' fine')] });
    expect(await store.getState().trainOnFeedback()).toBe(true);
    expect(loaded.map((l) => l.name)).toEqual(['feedback-pairs.jsonl']);
    expect((await loaded[0]!.text).trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { prompt: 'Once', chosen: ' good', rejected: ' bad' },
      { prompt: 'Once', chosen: ' fine', rejected: ' bad' },
    ]);
    expect(setTrain).toHaveBeenCalledWith({ objective: 'dpo' });
  });

  it('pairs the dataset reader refuses: no DPO switch, and a note', async () => {
    const { store, setTrain } = makeStore({ datasetReads: false });
    store.setState({ feedback: [single('1', 'down', ' good'), single('2', 'down', ' fine')] });
    expect(await store.getState().trainOnFeedback()).toBe(false);
    expect(setTrain).not.toHaveBeenCalled();
    expect(store.getState().feedbackNote).toContain('could not be read');
  });

  it('KTO: every rated answer (good and bad) goes through the dataset path as feedback-unpaired.jsonl, and the objective becomes KTO', async () => {
    const { store, loaded, setTrain } = makeStore({ datasetReads: true });
    store.setState({ feedback: [single('1', 'down', ' good'), single('2', 'up', '')] });
    expect(await store.getState().trainOnFeedback('kto')).toBe(true);
    expect(loaded.map((l) => l.name)).toEqual(['feedback-unpaired.jsonl']);
    expect((await loaded[0]!.text).trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { prompt: 'Once', completion: ' bad', label: false },
      { prompt: 'Once', completion: ' good', label: true },
      { prompt: 'Once', completion: ' bad', label: true },
    ]);
    expect(setTrain).toHaveBeenCalledWith({ objective: 'kto' });
  });

  it('KTO with fewer than two rated answers: says what is needed and loads nothing', async () => {
    const { store, loaded } = makeStore({ datasetReads: true });
    store.setState({ feedback: [] });
    expect(await store.getState().trainOnFeedback('kto')).toBe(false);
    expect(store.getState().feedbackNote).toContain('KTO needs at least 2 rated answers');
    expect(loaded).toEqual([]);
  });
});
