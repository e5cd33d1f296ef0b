// Training runs in IndexedDB: each run's record (settings, status, final losses), its newest
// checkpoint, and its tokenized data, so a run survives a reload, a crash or a closed tab and
// can be resumed with nothing but the base model. Works in the worker, the page and Node (fake-indexeddb).
import { del, entries, get, set } from 'idb-keyval';
import { storeFor, trainRunKey } from './keys';
import type { TrainCheckpoint } from '../train/checkpoint';
import type { RunRecord, RunStore } from '../train/training-run';
import type { TokenizedExample } from '../train/batches';

export interface RunData {
  train: TokenizedExample[];
  validation: TokenizedExample[];
}

export class StoredRunError extends Error {
  override name = 'StoredRunError';
}

/** The RunStore a TrainingRun writes through. */
export const indexedDbRunStore: RunStore = {
  saveCheckpoint: (c) => set(trainRunKey(c.runId), c, storeFor('trainCheckpoints')),
  saveRecord: (r) => set(trainRunKey(r.runId), r, storeFor('trainRuns')),
};

export async function saveRunData(runId: string, data: RunData): Promise<void> {
  // Only what the trainer reads: examples may carry extra fields (line numbers) that we do not need.
  const strip = (es: TokenizedExample[]) =>
    es.map((e) => (e.positions ? { inputIds: e.inputIds, lossMask: e.lossMask, positions: e.positions, segments: e.segments } : { inputIds: e.inputIds, lossMask: e.lossMask }));
  await set(trainRunKey(runId), { train: strip(data.train), validation: strip(data.validation) }, storeFor('trainData'));
}

export async function loadRunData(runId: string): Promise<RunData> {
  const d = await get<RunData>(trainRunKey(runId), storeFor('trainData'));
  if (!d) throw new StoredRunError(`Run ${runId}: its training data is no longer stored (IndexedDB database studio-train-data-v1).`);
  return d;
}

export async function loadCheckpoint(runId: string): Promise<TrainCheckpoint> {
  const c = await get<TrainCheckpoint>(trainRunKey(runId), storeFor('trainCheckpoints'));
  if (!c) throw new StoredRunError(`Run ${runId} has no checkpoint yet (IndexedDB database studio-train-checkpoints-v1).`);
  return c;
}

export async function loadRunRecord(runId: string): Promise<RunRecord | null> {
  return (await get<RunRecord>(trainRunKey(runId), storeFor('trainRuns'))) ?? null;
}

/** Every run, newest first. */
export async function listRuns(): Promise<RunRecord[]> {
  const all = await entries<IDBValidKey, RunRecord>(storeFor('trainRuns'));
  return all.map(([, r]) => r).sort((a, b) => b.createdAt - a.createdAt);
}

/** A run left 'running' (reload, crash, closed tab) or 'paused' with a checkpoint can be resumed. */
export function isResumable(r: RunRecord): boolean {
  return (r.status === 'running' || r.status === 'paused' || r.status === 'diverged') && r.checkpointStep !== null && r.step < r.totalSteps;
}

export async function deleteRun(runId: string): Promise<void> {
  const k = trainRunKey(runId);
  await Promise.all([del(k, storeFor('trainRuns')), del(k, storeFor('trainCheckpoints')), del(k, storeFor('trainData'))]);
}
