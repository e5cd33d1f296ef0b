// Every IndexedDB database, object store and key the app uses is named here, and nowhere else.
// idb-keyval's createStore opens one database holding one object store, created on first open only,
// so each purpose gets its own database name: adding a store to an existing database would never run.
import { createStore, type UseStore } from 'idb-keyval';

/** Bump a database's name suffix (never reuse a name) when its value format changes incompatibly. */
export const DATABASES = {
  /** Raw bytes of model files, one value per fixed-size chunk: key ModelChunkKey, value ArrayBuffer. */
  modelChunks: { dbName: 'studio-model-chunks-v1', storeName: 'chunks' },
  /** One ModelManifest per model: key modelManifestKey(source). */
  modelManifests: { dbName: 'studio-model-manifests-v1', storeName: 'manifests' },
  /** NF4-quantized linear weights (src/storage/quantized-cache.ts): key QuantizedTensorKey, value StoredNf4Weight. */
  quantizedWeights: { dbName: 'studio-quantized-weights-v1', storeName: 'nf4' },
  /** One RunRecord per training run: key trainRunKey(runId). */
  trainRuns: { dbName: 'studio-train-runs-v1', storeName: 'runs' },
  /** The newest TrainCheckpoint of each run (structured clone, Float32Arrays inside): key trainRunKey(runId). */
  trainCheckpoints: { dbName: 'studio-train-checkpoints-v1', storeName: 'checkpoints' },
  /** The tokenized training and validation examples of each run, so it resumes without the file: key trainRunKey(runId). */
  trainData: { dbName: 'studio-train-data-v1', storeName: 'data' },
  /** The Hugging Face access token (a string), alone in its database so nothing else ever reads or exports it: key HUB_TOKEN_KEY. */
  hubToken: { dbName: 'studio-hub-token-v1', storeName: 'token' },
  /** People's ratings of generated answers (src/data/feedback.ts FeedbackRecord): key feedbackKey(id). */
  feedback: { dbName: 'studio-feedback-v1', storeName: 'ratings' },
  /** Dataset files downloaded from the hub (src/storage/hub-dataset.ts), a StoredDatasetFile each: key datasetFileKey(...). */
  datasetFiles: { dbName: 'studio-dataset-files-v1', storeName: 'files' },
} as const;

export type DatabasePurpose = keyof typeof DATABASES;

const opened = new Map<DatabasePurpose, UseStore>();

/**
 * The idb-keyval store for one purpose. Created lazily (the database opens on first use), so importing
 * this module costs nothing and works where `indexedDB` is installed later (fake-indexeddb in tests).
 */
export function storeFor(purpose: DatabasePurpose): UseStore {
  let store = opened.get(purpose);
  if (!store) {
    const { dbName, storeName } = DATABASES[purpose];
    store = createStore(dbName, storeName);
    opened.set(purpose, store);
  }
  return store;
}

/** [source, file name, chunk index]: arrays sort element-wise, so one model's chunks form one key range. */
export type ModelChunkKey = [source: string, file: string, index: number];

export function modelChunkKey(source: string, file: string, index: number): ModelChunkKey {
  return [source, file, index];
}

/** Every chunk of one model: [source] sorts before [source, ...], and any string sorts before []. */
export function modelChunkRange(source: string): IDBKeyRange {
  return IDBKeyRange.bound([source], [source, []]);
}

/** Every chunk of one file of one model. */
export function modelFileChunkRange(source: string, file: string): IDBKeyRange {
  return IDBKeyRange.bound([source, file], [source, file, []]);
}

export function modelManifestKey(source: string): string {
  return `model:${source}`;
}

/** Inverse of modelManifestKey, for listing; null for keys some other writer put there. */
export function sourceFromManifestKey(key: IDBValidKey): string | null {
  return typeof key === 'string' && key.startsWith('model:') ? key.slice('model:'.length) : null;
}

/**
 * [model fingerprint, quantization tag, tensor name]: one model's quantized tensors under one tag
 * form a key range, and a different block size or double-quant setting never reads another's bytes.
 */
export type QuantizedTensorKey = [fingerprint: string, quantTag: string, tensor: string];

/** The tag of a quantization setting; bump the leading format name when the stored layout changes. */
export function quantizationTag(opts: { doubleQuant: boolean }): string {
  return `nf4-b64${opts.doubleQuant ? '-dq8b256' : ''}`;
}

export function quantizedTensorKey(fingerprint: string, opts: { doubleQuant: boolean }, tensor: string): QuantizedTensorKey {
  return [fingerprint, quantizationTag(opts), tensor];
}

/**
 * One record per model holding its small fp32 tensors (norms, biases): read from the weights file,
 * each sits in its own 4 MB chunk between the projections, so an NF4 load read ~8 MB a layer for them.
 */
export function frozenVectorsKey(fingerprint: string): QuantizedTensorKey {
  return [fingerprint, 'fp32-vectors-v1', '*'];
}

/** Every quantized tensor of one model, under any quantization setting. */
export function quantizedModelRange(fingerprint: string): IDBKeyRange {
  return IDBKeyRange.bound([fingerprint], [fingerprint, []]);
}

export function trainRunKey(runId: string): string {
  return `run:${runId}`;
}

/** The one key of the hubToken store. */
export const HUB_TOKEN_KEY = 'hf-token';

export function feedbackKey(id: string): string {
  return `feedback:${id}`;
}

/** One hub dataset file: the dataset id, its config and split, and the file's URL (a split may have several shards). */
export function datasetFileKey(id: string, config: string, split: string, url: string): string {
  return `dataset:${id}:${config}:${split}:${url}`;
}
