// The model library in IndexedDB: download (or resume) a Hugging Face-format model, open a stored one
// with no network, list and delete them. The same code runs in a dedicated worker, on the main thread
// and in Node tests (fake-indexeddb). Errors and progress types are re-exported as part of this API.
import type { ModelFileSet } from '../model/files';
import { modelFingerprint } from '../model/fingerprint';
import {
  chunkedFileSource, deleteModelData, listManifests, readManifest, readWholeFile, storedBytes, StoredModelError, type ModelManifest,
} from './chunk-store';
import { DEFAULT_DOWNLOAD, DownloadRun, type DownloadOptions } from './download-run';
import { resolveModelSource, storedIdentity } from './model-source';
import { IdbQuantizedCache } from './quantized-cache';

export { DEFAULT_DOWNLOAD, ModelDownloadError, parseContentRange, StorageQuotaError } from './download-run';
export type { DownloadFailure, DownloadOptions, DownloadProgress } from './download-run';
export { ModelSourceError, resolveModelSource } from './model-source';
export { StoredModelError } from './chunk-store';

export interface StoredModelSummary {
  source: string;
  bytes: number;
  complete: boolean;
  savedAt: number;
}

/** Downloads (or resumes, or simply opens when already complete) a model into IndexedDB. */
export async function downloadModel(input: string, opts: DownloadOptions = {}): Promise<ModelFileSet> {
  const { source, baseUrl } = resolveModelSource(input);
  let manifest = await readManifest(source);
  if (manifest && manifest.baseUrl !== baseUrl) {
    await deleteModelData(source);
    manifest = null;
  }
  if (manifest?.complete) {
    const total = storedBytes(manifest);
    opts.onProgress?.({ status: 'done', source, overallLoaded: total, overallTotal: total, fetchedBytes: 0, resumedFromBytes: total });
    return openFromManifest(manifest);
  }
  const fresh: ModelManifest = {
    formatVersion: 1, source, baseUrl, chunkBytes: opts.chunkBytes ?? DEFAULT_DOWNLOAD.chunkBytes,
    weightFiles: null, files: {}, complete: false, savedAt: 0, fingerprint: null,
  };
  if (!Number.isInteger(fresh.chunkBytes) || fresh.chunkBytes <= 0) throw new RangeError(`chunkBytes must be a positive integer, got ${fresh.chunkBytes}`);
  return new DownloadRun(manifest ?? fresh, opts, openFromManifest).run();
}

/** A complete stored model, read from IndexedDB only; null when none (or only part of one) is stored. */
export async function openStoredModel(source: string): Promise<ModelFileSet | null> {
  const m = await readManifest(storedIdentity(source));
  return m?.complete ? openFromManifest(m) : null;
}

export async function listStoredModels(): Promise<StoredModelSummary[]> {
  const all = await listManifests();
  return all
    .map((m) => ({ source: m.source, bytes: storedBytes(m), complete: m.complete, savedAt: m.savedAt }))
    .sort((a, b) => b.savedAt - a.savedAt);
}

/** Deletes a model's files and the NF4 projections quantized from them. */
export async function deleteStoredModel(source: string): Promise<void> {
  const identity = storedIdentity(source);
  const fingerprint = (await readManifest(identity))?.fingerprint;
  await deleteModelData(identity);
  if (fingerprint) await new IdbQuantizedCache().deleteModel(fingerprint);
}

async function openFromManifest(m: ModelManifest): Promise<ModelFileSet> {
  const configText = new TextDecoder().decode(await readWholeFile(m, 'config.json'));
  const config = parseStoredJson(m, 'config.json', configText);
  const tokenizerJson = parseStoredJson(m, 'tokenizer.json', new TextDecoder().decode(await readWholeFile(m, 'tokenizer.json')));
  const tc = m.files['tokenizer_config.json'];
  const tokenizerConfig = tc && !tc.absent
    ? parseStoredJson(m, 'tokenizer_config.json', new TextDecoder().decode(await readWholeFile(m, 'tokenizer_config.json')))
    : {};
  const shards = (m.weightFiles ?? []).map((name) => ({ name, bytes: chunkedFileSource(m, name, DEFAULT_DOWNLOAD.readCacheChunks) }));
  const fingerprint = m.fingerprint ?? (await modelFingerprint(configText, shards));
  return { source: m.source, config, tokenizerJson, tokenizerConfig, shards, fingerprint };
}

function parseStoredJson(m: ModelManifest, file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StoredModelError(`${m.source}: stored ${file} is not valid JSON (${(e as Error).message}); delete the model and load it again`);
  }
}
