// Low-level IndexedDB I/O for stored models: the per-model manifest, fixed-size file chunks, and a
// ByteSource that reads a stored file back chunk by chunk (with a small cache) so a tensor is read
// without loading its whole file. model-store.ts builds downloading and opening on top of this.
import { del, entries, get, getMany, promisifyRequest, set } from 'idb-keyval';
import type { ByteSource } from '../model/safetensors';
import { modelChunkKey, modelChunkRange, modelFileChunkRange, modelManifestKey, sourceFromManifestKey, storeFor } from './keys';

/** What is known about one file of a model, persisted after every chunk so a download can resume. */
export interface StoredFileRecord {
  /** Bytes in the whole file; null until a response said so (final once done). */
  size: number | null;
  /** Chunks 0 .. chunksDone-1 are in IndexedDB; every one but the file's last is exactly chunkBytes. */
  chunksDone: number;
  done: boolean;
  /** An optional file (tokenizer_config.json, or model.safetensors of a sharded repo) the server does not have. */
  absent?: boolean;
  /** ETag of the response the stored bytes came from, to notice a file that changed between attempts. */
  etag?: string;
}

export interface ModelManifest {
  formatVersion: 1;
  source: string;
  baseUrl: string;
  /** Chunk size of every file of this model; fixed at the first attempt since chunk indices depend on it. */
  chunkBytes: number;
  /** Safetensors files in order (one, or the index's shards); null until resolved. */
  weightFiles: string[] | null;
  files: Record<string, StoredFileRecord>;
  complete: boolean;
  /** ms since epoch of the last write. */
  savedAt: number;
  /** modelFingerprint, set when complete. */
  fingerprint: string | null;
}

export class StoredModelError extends Error {
  override name = 'StoredModelError';
}

export function storedBytes(m: ModelManifest): number {
  let total = 0;
  for (const rec of Object.values(m.files)) total += recordBytes(rec, m.chunkBytes);
  return total;
}

export function recordBytes(rec: StoredFileRecord, chunkBytes: number): number {
  if (rec.done) return rec.size ?? 0;
  return rec.chunksDone * chunkBytes;
}

export async function readManifest(source: string): Promise<ModelManifest | null> {
  const m = await get<ModelManifest>(modelManifestKey(source), storeFor('modelManifests'));
  return m && m.formatVersion === 1 ? m : null;
}

export async function writeManifest(m: ModelManifest): Promise<void> {
  m.savedAt = Date.now();
  await set(modelManifestKey(m.source), m, storeFor('modelManifests'));
}

export async function listManifests(): Promise<ModelManifest[]> {
  const all = await entries<IDBValidKey, ModelManifest>(storeFor('modelManifests'));
  return all.filter(([k, m]) => sourceFromManifestKey(k) !== null && m?.formatVersion === 1).map(([, m]) => m);
}

/** Stores one chunk; IndexedDB copies it (structured clone), so the caller may reuse `bytes`. */
export async function putChunk(source: string, file: string, index: number, bytes: Uint8Array): Promise<void> {
  // Structured clone of a view clones its whole ArrayBuffer: store a view that spans exactly its buffer.
  const tight = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  await set(modelChunkKey(source, file, index), tight, storeFor('modelChunks'));
}

async function getChunks(source: string, file: string, indices: number[]): Promise<Uint8Array[]> {
  const values = await getMany<Uint8Array | undefined>(indices.map((i) => modelChunkKey(source, file, i)), storeFor('modelChunks'));
  return values.map((v, k) => {
    if (!(v instanceof Uint8Array)) {
      throw new StoredModelError(`${source}: chunk ${indices[k]} of ${file} is missing from browser storage; delete the model and load it again`);
    }
    return v;
  });
}

export async function deleteFileChunks(source: string, file: string): Promise<void> {
  await storeFor('modelChunks')('readwrite', (s) => promisifyRequest(s.delete(modelFileChunkRange(source, file))));
}

export async function deleteModelData(source: string): Promise<void> {
  await storeFor('modelChunks')('readwrite', (s) => promisifyRequest(s.delete(modelChunkRange(source))));
  await del(modelManifestKey(source), storeFor('modelManifests'));
}

/** Concatenates a small stored file (config, tokenizer) into one buffer. */
export async function readWholeFile(m: ModelManifest, file: string): Promise<Uint8Array> {
  const rec = m.files[file];
  if (!rec?.done || rec.absent) throw new StoredModelError(`${m.source}: ${file} is not stored`);
  return chunkedFileSource(m, file, 0).read(0, rec.size ?? 0);
}

/** Chunks read per IndexedDB transaction when one read spans many chunks (e.g. a 100 MB embedding). */
const CHUNKS_PER_BATCH = 8;

/**
 * Random access to a stored file. Reads inside one chunk return a view into a cached chunk (no copy:
 * callers must not write into it); reads spanning chunks are assembled into a fresh buffer, and only
 * their two boundary chunks (the ones neighbouring tensors share) go through the cache.
 */
export function chunkedFileSource(m: ModelManifest, file: string, cacheChunks = 4): ByteSource {
  const rec = m.files[file];
  if (!rec?.done || rec.size === null) throw new StoredModelError(`${m.source}: ${file} is not completely stored`);
  const { source, chunkBytes } = m;
  const size = rec.size;
  // Map insertion order is the LRU order; promises dedupe concurrent reads of one chunk.
  const cache = new Map<number, Promise<Uint8Array>>();
  const cached = (i: number): Promise<Uint8Array> => {
    let p = cache.get(i);
    if (p) {
      cache.delete(i);
    } else {
      p = getChunks(source, file, [i]).then(([c]) => c);
      p.catch(() => cache.delete(i));
    }
    cache.set(i, p);
    while (cache.size > cacheChunks) cache.delete(cache.keys().next().value as number);
    return p;
  };
  return {
    size,
    read: async (offset, length) => {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new StoredModelError(`${source}: read of ${length} bytes at ${offset} is outside ${file} (${size} bytes)`);
      }
      if (length === 0) return new Uint8Array(0);
      const first = Math.floor(offset / chunkBytes);
      const last = Math.floor((offset + length - 1) / chunkBytes);
      if (first === last) {
        const c = await cached(first);
        const at = offset - first * chunkBytes;
        return c.subarray(at, at + length);
      }
      const out = new Uint8Array(length);
      const copy = (i: number, c: Uint8Array): void => {
        const chunkStart = i * chunkBytes;
        const from = Math.max(offset, chunkStart);
        const to = Math.min(offset + length, chunkStart + c.byteLength);
        out.set(c.subarray(from - chunkStart, to - chunkStart), from - offset);
      };
      copy(first, await cached(first));
      for (let i = first + 1; i < last; i += CHUNKS_PER_BATCH) {
        const ids = Array.from({ length: Math.min(CHUNKS_PER_BATCH, last - i) }, (_, k) => i + k);
        const chunks = await getChunks(source, file, ids);
        ids.forEach((id, k) => copy(id, chunks[k]));
      }
      copy(last, await cached(last));
      return out;
    },
  };
}
