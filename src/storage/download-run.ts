// One attempt at bringing a model's files into IndexedDB: config.json validated first, then tokenizer
// files and safetensors weights (single or sharded) streamed chunk by chunk, each chunk persisted with
// the manifest before the next is read, so any interruption resumes with an HTTP Range request.
// Over 400 lines on purpose: one attempt is one state machine (small files, shards, chunks, Range
// resume, quota and auth failures) that reads best in one place; its pure helpers come first.
import { parseConfig } from '../model/config';
import { accessDeniedHint, hubAuthHeaders, isHubHost } from './hub-auth';
import type { ModelFileSet } from '../model/files';
import {
  deleteFileChunks, putChunk, readWholeFile, recordBytes, storedBytes, writeManifest, type ModelManifest, type StoredFileRecord,
} from './chunk-store';

export const DEFAULT_DOWNLOAD = {
  /** 4 MiB: ~70 IndexedDB writes for a 270 MB model, and at most one chunk of a file held in memory. */
  chunkBytes: 4 * 1024 * 1024,
  /** Progress events at most this often (a file's end always reports): cheap to post from a worker. */
  progressIntervalMs: 100,
  /** Chunks a stored file keeps decoded per ByteSource: neighbouring tensors share boundary chunks. */
  readCacheChunks: 4,
};

export type DownloadProgress =
  | { status: 'progress'; file: string; loaded: number; total: number | null; overallLoaded: number; overallTotal: number | null }
  | { status: 'done'; source: string; overallLoaded: number; overallTotal: number; fetchedBytes: number; resumedFromBytes: number };

export interface DownloadOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
  /** Only used when a model's download starts from nothing; a resumed one keeps its first chunk size. */
  chunkBytes?: number;
  progressIntervalMs?: number;
  /** Hugging Face access token, sent only to huggingface.co hosts (hub-auth.ts). */
  hubToken?: string | null;
}

/** An HTTP status, 'unreachable' (no response at all), 'interrupted' (the body stopped), or 'invalid' content. */
export type DownloadFailure = number | 'unreachable' | 'interrupted' | 'invalid';

export class ModelDownloadError extends Error {
  override name = 'ModelDownloadError';
  constructor(readonly file: string, readonly url: string, readonly failure: DownloadFailure, message: string) {
    super(message);
  }
}

export class StorageQuotaError extends Error {
  override name = 'StorageQuotaError';
  constructor(readonly source: string, readonly bytesNeeded: number | null, readonly bytesStored: number) {
    super(
      `Not enough browser storage to save ${source}: ${bytesNeeded === null ? 'more space is' : `${formatBytes(bytesNeeded)} more are`} needed. ` +
        `The ${formatBytes(bytesStored)} already saved are kept; free some space and load the model again to resume.`,
    );
  }
}

function parseJson(file: string, url: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelDownloadError(file, url, 'invalid', `${file} from ${url} is not valid JSON (${(e as Error).message}); is this the base URL of a Hugging Face-format model?`);
  }
}

const SHARD_NAME = /^[\w.-]+\.safetensors$/;

function shardNames(indexJson: unknown, url: string): string[] {
  const map = (indexJson as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null) {
    throw new ModelDownloadError('model.safetensors.index.json', url, 'invalid', `model.safetensors.index.json at ${url} has no "weight_map" object`);
  }
  const names = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  const bad = names.find((n) => !SHARD_NAME.test(n) || n.includes('..'));
  if (bad !== undefined || names.length === 0) {
    throw new ModelDownloadError('model.safetensors.index.json', url, 'invalid', `model.safetensors.index.json at ${url}: ${bad === undefined ? 'weight_map is empty' : `shard name "${bad}" is not a plain .safetensors file name`}`);
  }
  return names;
}

export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) } : null;
}

function contentLength(res: Response): number | null {
  const v = res.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

function isAbortError(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'AbortError';
}

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} bytes`;
}

function describeNetworkError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause ? `: ${cause}` : ''}`;
}

const CONFIG = 'config.json';
const SMALL_FILES = [CONFIG, 'tokenizer.json', 'tokenizer_config.json'];

/** One attempt at completing a manifest; every completed chunk is persisted before the next is read. */
export class DownloadRun {
  private readonly fetchImpl: typeof fetch;
  private readonly intervalMs: number;
  /** Bytes of each file in hand during this run (may run ahead of the stored chunks by < 1 chunk). */
  private readonly loaded = new Map<string, number>();
  private lastEmitMs = -Infinity;
  private fetchedBytes = 0;
  private resumedFromBytes = 0;

  constructor(
    private readonly m: ModelManifest,
    private readonly opts: DownloadOptions,
    /** Opens the completed manifest (model-store's openFromManifest; passed in to avoid an import cycle). */
    private readonly open: (m: ModelManifest) => Promise<ModelFileSet>,
  ) {
    this.fetchImpl = opts.fetchImpl ?? globalThis.fetch.bind(globalThis);
    this.intervalMs = opts.progressIntervalMs ?? DEFAULT_DOWNLOAD.progressIntervalMs;
    this.resumedFromBytes = storedBytes(m);
  }

  async run(): Promise<ModelFileSet> {
    const m = this.m;
    // config.json first, and validated before anything is stored, so an unsupported model fails fast.
    const configRec = m.files[CONFIG];
    if (configRec?.done) {
      parseConfig(parseJson(CONFIG, this.url(CONFIG), new TextDecoder().decode(await readWholeFile(m, CONFIG))));
    } else {
      const bytes = await this.fetchWhole(CONFIG);
      parseConfig(parseJson(CONFIG, this.url(CONFIG), new TextDecoder().decode(bytes)));
      await this.storeWhole(CONFIG, bytes);
    }
    await this.streamFile('tokenizer.json', false);
    await this.streamFile('tokenizer_config.json', true);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      if (!m.files[f].absent) parseJson(f, this.url(f), new TextDecoder().decode(await readWholeFile(m, f)));
    }
    if (!m.weightFiles) {
      if ((await this.streamFile('model.safetensors', true)) === 'stored') {
        m.weightFiles = ['model.safetensors'];
      } else {
        const indexFile = 'model.safetensors.index.json';
        const bytes = await this.fetchWhole(indexFile, true);
        if (!bytes) {
          throw new ModelDownloadError('model.safetensors', this.url('model.safetensors'), 404,
            `Neither model.safetensors nor model.safetensors.index.json exists at ${m.baseUrl} (HTTP 404): only safetensors checkpoints can be loaded.`);
        }
        m.weightFiles = shardNames(parseJson(indexFile, this.url(indexFile), new TextDecoder().decode(bytes)), this.url(indexFile));
      }
      await this.save();
    }
    await this.probeSizes(m.weightFiles);
    for (const f of m.weightFiles) await this.streamFile(f, false);

    m.complete = true;
    const files = await this.open(m);
    m.fingerprint = files.fingerprint;
    await this.save();
    const total = storedBytes(m);
    this.opts.onProgress?.({ status: 'done', source: m.source, overallLoaded: total, overallTotal: total, fetchedBytes: this.fetchedBytes, resumedFromBytes: this.resumedFromBytes });
    return files;
  }

  private url(file: string): string {
    return `${this.m.baseUrl}/${file}`;
  }

  private async fetch(file: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const url = this.url(file);
    this.opts.signal?.throwIfAborted();
    try {
      const headers = { ...init.headers, ...hubAuthHeaders(url, this.opts.hubToken) };
      return await this.fetchImpl(url, { ...init, headers, signal: this.opts.signal });
    } catch (e) {
      if (this.opts.signal?.aborted || isAbortError(e)) throw e;
      throw new ModelDownloadError(file, url, 'unreachable',
        `Could not reach ${url} (${describeNetworkError(e)}). Check the address and your connection; a server must also allow cross-origin requests (CORS).`);
    }
  }

  private httpError(file: string, res: Response): ModelDownloadError {
    const url = this.url(file);
    const hint = res.status === 401 || res.status === 403
      ? accessDeniedHint(url, res.status, Boolean(this.opts.hubToken) && isHubHost(url))
      : res.status === 404 && file === CONFIG ? ' Is this a Hugging Face model repository (or the base URL of one)?' : '';
    return new ModelDownloadError(file, url, res.status, `Could not download ${file}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${url}.${hint}`);
  }

  /** A small file fetched whole (config, index); null when optional and the server says 404. */
  private async fetchWhole(file: string): Promise<Uint8Array>;
  private async fetchWhole(file: string, optional: true): Promise<Uint8Array | null>;
  private async fetchWhole(file: string, optional = false): Promise<Uint8Array | null> {
    const res = await this.fetch(file);
    if (res.status === 404 && optional) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw this.httpError(file, res);
    }
    try {
      const bytes = new Uint8Array(await res.arrayBuffer());
      this.fetchedBytes += bytes.byteLength;
      return bytes;
    } catch (e) {
      throw this.bodyError(e, file, 0);
    }
  }

  private async storeWhole(file: string, bytes: Uint8Array): Promise<void> {
    const rec: StoredFileRecord = { size: bytes.byteLength, chunksDone: 0, done: false };
    this.m.files[file] = rec;
    for (let i = 0; i * this.m.chunkBytes < bytes.byteLength; i++) {
      await this.persistChunk(file, rec, i, bytes.subarray(i * this.m.chunkBytes, (i + 1) * this.m.chunkBytes));
    }
    rec.done = true;
    await this.save();
    this.progress(file, bytes.byteLength, bytes.byteLength, true);
  }

  /** Sizes of shards not started yet, so overall progress has a total from the first shard on. */
  private async probeSizes(files: string[]): Promise<void> {
    for (const f of files) {
      if (this.m.files[f]) continue;
      let size: number | null = null;
      try {
        const res = await this.fetch(f, { method: 'HEAD' });
        if (res.ok) size = contentLength(res);
      } catch (e) {
        if (this.opts.signal?.aborted || isAbortError(e)) throw e;
      }
      if (size !== null) this.m.files[f] = { size, chunksDone: 0, done: false };
    }
  }

  /** Streams one file into chunks, continuing after its last stored chunk; 'absent' for an optional 404. */
  private async streamFile(file: string, optional: boolean): Promise<'stored' | 'absent'> {
    const m = this.m;
    const chunkBytes = m.chunkBytes;
    const rec: StoredFileRecord = (m.files[file] ??= { size: null, chunksDone: 0, done: false });
    if (rec.done) return rec.absent ? 'absent' : 'stored';
    let offset = rec.chunksDone * chunkBytes;
    const res = await this.fetch(file, offset > 0 ? { headers: { Range: `bytes=${offset}-` } } : {});
    const drop = (): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();
    if (res.status === 404 && optional && offset === 0) {
      await drop();
      m.files[file] = { size: 0, chunksDone: 0, done: true, absent: true };
      await this.save();
      return 'absent';
    }
    if (res.status === 416 && offset > 0) {
      // The stored part is longer than the file is now: it changed upstream.
      await drop();
      await this.restartFile(file);
      return this.streamFile(file, optional);
    }
    if (!res.ok) {
      await drop();
      throw this.httpError(file, res);
    }
    const etag = res.headers.get('etag') ?? undefined;
    let skip = 0;
    let total: number | null;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== offset) {
        await drop();
        throw new ModelDownloadError(file, this.url(file), 'invalid',
          `${this.url(file)} answered a request for bytes ${offset}- with Content-Range "${res.headers.get('content-range') ?? '(none)'}"`);
      }
      total = range.total;
    } else {
      total = contentLength(res);
      skip = offset; // the server ignored Range and sent the whole file: skip what is stored
    }
    const changed = offset > 0 && ((rec.etag !== undefined && etag !== undefined && rec.etag !== etag) || (rec.size !== null && total !== null && rec.size !== total));
    if (changed) {
      if (res.status === 206) {
        await drop();
        await this.restartFile(file);
        return this.streamFile(file, optional);
      }
      await this.restartFile(file); // a whole-file answer can be used from its first byte
      offset = 0;
      skip = 0;
    }
    if (rec.size !== total || rec.etag !== etag) {
      rec.size = total;
      rec.etag = etag;
      await this.save();
    }

    const buf = new Uint8Array(chunkBytes);
    let fill = 0;
    let index = rec.chunksDone;
    let position = offset; // bytes of the file in hand
    this.progress(file, position, total, true);
    const reader = res.body?.getReader();
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        this.fetchedBytes += value.byteLength;
        let v = value;
        if (skip > 0) {
          const n = Math.min(skip, v.byteLength);
          v = v.subarray(n);
          skip -= n;
        }
        while (v.byteLength > 0) {
          const n = Math.min(chunkBytes - fill, v.byteLength);
          buf.set(v.subarray(0, n), fill);
          fill += n;
          position += n;
          v = v.subarray(n);
          if (fill === chunkBytes) {
            await this.persistChunk(file, rec, index++, buf);
            fill = 0;
          }
        }
        this.progress(file, position, total, false);
      }
    } catch (e) {
      await reader?.cancel().catch(() => undefined);
      throw this.bodyError(e, file, position);
    }
    if (skip > 0 || (total !== null && position < total)) {
      throw new ModelDownloadError(file, this.url(file), 'interrupted',
        `Download of ${file} from ${this.url(file)} ended early at ${position} of ${total ?? offset} bytes; load the model again to resume.`);
    }
    if (fill > 0) await this.persistChunk(file, rec, index++, buf.subarray(0, fill));
    rec.size = position; // a compressed response's Content-Length is not the file's size; the bytes are
    rec.done = true;
    await this.save();
    this.progress(file, position, position, true);
    return 'stored';
  }

  private async restartFile(file: string): Promise<void> {
    await deleteFileChunks(this.m.source, file);
    this.m.files[file] = { size: null, chunksDone: 0, done: false };
    this.loaded.delete(file);
    await this.save();
  }

  private bodyError(e: unknown, file: string, position: number): unknown {
    if (this.opts.signal?.aborted) return this.opts.signal.reason ?? e;
    if (isAbortError(e) || e instanceof StorageQuotaError || e instanceof ModelDownloadError || isQuotaError(e)) return e;
    if (e instanceof TypeError || (e as { name?: string } | null)?.name === 'NetworkError') {
      return new ModelDownloadError(file, this.url(file), 'interrupted',
        `Download of ${file} from ${this.url(file)} was interrupted at ${position} bytes (${describeNetworkError(e)}); load the model again to resume from there.`);
    }
    return e;
  }

  private async persistChunk(file: string, rec: StoredFileRecord, index: number, bytes: Uint8Array): Promise<void> {
    try {
      await putChunk(this.m.source, file, index, bytes);
    } catch (e) {
      throw this.quotaOr(e, file);
    }
    rec.chunksDone = index + 1;
    await this.save();
  }

  private async save(): Promise<void> {
    try {
      await writeManifest(this.m);
    } catch (e) {
      throw this.quotaOr(e, '');
    }
  }

  private quotaOr(e: unknown, file: string): unknown {
    if (!isQuotaError(e)) return e;
    const stored = storedBytes(this.m);
    const total = this.overallTotal();
    const rec = this.m.files[file];
    const needed = total !== null ? total - stored : rec?.size != null ? rec.size - recordBytes(rec, this.m.chunkBytes) : null;
    return new StorageQuotaError(this.m.source, needed, stored);
  }

  /** Sum of every file's size once all are known (absent optional files count 0), else null. */
  private overallTotal(): number | null {
    const m = this.m;
    const single = m.files['model.safetensors'];
    const weights = m.weightFiles ?? (single && !single.absent ? ['model.safetensors'] : null);
    if (!weights) return null;
    let total = 0;
    for (const f of [...SMALL_FILES, ...weights]) {
      const size = m.files[f]?.size;
      if (size == null) return null;
      total += size;
    }
    return total;
  }

  private progress(file: string, loaded: number, total: number | null, force: boolean): void {
    this.loaded.set(file, loaded);
    const onProgress = this.opts.onProgress;
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastEmitMs < this.intervalMs) return;
    this.lastEmitMs = now;
    let overallLoaded = 0;
    for (const [f, rec] of Object.entries(this.m.files)) overallLoaded += this.loaded.get(f) ?? recordBytes(rec, this.m.chunkBytes);
    const shownTotal = total !== null && loaded > total ? null : total;
    onProgress({ status: 'progress', file, loaded, total: shownTotal, overallLoaded, overallTotal: this.overallTotal() });
  }
}
