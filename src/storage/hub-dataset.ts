// A dataset from the Hugging Face hub by its id: the hub's Parquet listing
// (GET {hub}/api/datasets/{id}/parquet answers {config: {split: [file URLs]}}), then one file
// streamed with progress (the access token only where hub-auth.ts allows it) and kept in IndexedDB,
// so loading it again costs no download. The file is then read like a dropped Parquet file.
import { get, set } from 'idb-keyval';
import { hubAuthHeaders } from './hub-auth';
import { datasetFileKey, storeFor } from './keys';

export const HUB_URL = 'https://huggingface.co';

/** config -> split -> Parquet file URLs, as the hub lists them. */
export type ParquetListing = Record<string, Record<string, string[]>>;

export class HubDatasetError extends Error {
  override name = 'HubDatasetError';
}

const DATASET_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** "owner/name" or a hub dataset page (https://huggingface.co/datasets/owner/name[/...]) as the id. */
export function parseDatasetId(input: string): string {
  const s = input.trim().replace(/\/+$/, '');
  const page = /^https:\/\/huggingface\.co\/datasets\/([^/]+\/[^/]+)/.exec(s);
  const id = page ? page[1] : s;
  if (!DATASET_ID.test(id) || id.includes('..')) throw new HubDatasetError(`"${input.trim()}" is not a hub dataset id: expected owner/name, like HuggingFaceH4/no_robots.`);
  return id;
}

type Fetch = typeof fetch;

interface HubOptions {
  /** The hub's base URL (https://huggingface.co; a local server in tests). */
  hubUrl?: string;
  token?: string | null;
  fetch?: Fetch;
  signal?: AbortSignal;
}

/** What to tell someone refused (401/403); hub-auth's accessDeniedHint speaks of models, a dataset's page is /datasets/<id>. */
function denied(status: number, hadToken: boolean, id: string): HubDatasetError {
  const page = `https://huggingface.co/datasets/${id}`;
  return new HubDatasetError(hadToken
    ? `${id} refused your access token (HTTP ${status}). If the dataset is gated, accept its conditions on ${page} with the account the token belongs to, and check that the token may read it.`
    : `${id} is gated or private (HTTP ${status}). Accept its conditions on ${page}, then paste an access token in "Hugging Face access token" in the Model step and try again.`);
}

/** The hub's Parquet listing of a dataset, checked: every config has splits, every split file URLs. */
export async function listParquetFiles(id: string, opts: HubOptions = {}): Promise<ParquetListing> {
  const f = opts.fetch ?? fetch;
  const url = `${(opts.hubUrl ?? HUB_URL).replace(/\/+$/, '')}/api/datasets/${id}/parquet`;
  const headers = hubAuthHeaders(url, opts.token);
  let res: Response;
  try {
    res = await f(url, { headers, signal: opts.signal });
  } catch (e) {
    throw new HubDatasetError(`Could not reach the hub for ${id}: ${(e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) throw denied(res.status, 'Authorization' in headers, id);
  if (res.status === 404) throw new HubDatasetError(`The hub has no dataset ${id}, or no Parquet version of it (HTTP 404). Check the id, or download a file and drop it here.`);
  if (!res.ok) throw new HubDatasetError(`The hub answered HTTP ${res.status} for ${url}.`);
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    throw new HubDatasetError(`The hub's Parquet listing for ${id} is not JSON: ${(e as Error).message}`);
  }
  const ok = typeof body === 'object' && body !== null && !Array.isArray(body)
    && Object.values(body).every((splits) => typeof splits === 'object' && splits !== null && Object.values(splits).every((urls) => Array.isArray(urls) && urls.every((u) => typeof u === 'string')));
  if (!ok) throw new HubDatasetError(`The hub's Parquet listing for ${id} is not {config: {split: [urls]}}.`);
  const listing = body as ParquetListing;
  if (Object.keys(listing).length === 0) throw new HubDatasetError(`${id} has no Parquet files on the hub yet (the conversion may be pending).`);
  return listing;
}

export interface StoredDatasetFile {
  url: string;
  bytes: number;
  savedAt: number;
  blob: Blob;
}

export interface DatasetFileRef {
  id: string;
  config: string;
  split: string;
  url: string;
}

/** The file's name as shown and recorded: <id>/<config>/<split>/<file>. */
export function datasetFileName(ref: DatasetFileRef): string {
  const base = decodeURIComponent(new URL(ref.url).pathname.split('/').pop() || 'data.parquet');
  return `${ref.id}/${ref.config}/${ref.split}/${base}`;
}

/**
 * The file from IndexedDB when it was downloaded before, else streamed from the hub with progress
 * (bytes so far, total when the server says) and then stored. `fromCache` says which.
 */
export async function loadHubDatasetFile(ref: DatasetFileRef, opts: HubOptions & { onProgress?: (loaded: number, total: number | null) => void } = {}): Promise<{ blob: Blob; fromCache: boolean }> {
  const key = datasetFileKey(ref.id, ref.config, ref.split, ref.url);
  const stored = await get<StoredDatasetFile>(key, storeFor('datasetFiles')).catch(() => undefined);
  if (stored && stored.blob.size === stored.bytes) return { blob: stored.blob, fromCache: true };
  const f = opts.fetch ?? fetch;
  const headers = hubAuthHeaders(ref.url, opts.token);
  let res: Response;
  try {
    res = await f(ref.url, { headers, signal: opts.signal });
  } catch (e) {
    throw new HubDatasetError(`Could not download ${ref.url}: ${(e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) throw denied(res.status, 'Authorization' in headers, ref.id);
  if (!res.ok || !res.body) throw new HubDatasetError(`Downloading ${ref.url} failed: HTTP ${res.status}.`);
  const total = Number(res.headers.get('Content-Length')) || null;
  const parts: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    opts.onProgress?.(loaded, total);
  }
  if (total !== null && loaded !== total) throw new HubDatasetError(`Downloading ${ref.url} stopped after ${loaded} of ${total} bytes; try again.`);
  const blob = new Blob(parts as BlobPart[], { type: 'application/vnd.apache.parquet' });
  await set(key, { url: ref.url, bytes: blob.size, savedAt: Date.now(), blob } satisfies StoredDatasetFile, storeFor('datasetFiles'));
  return { blob, fromCache: false };
}
