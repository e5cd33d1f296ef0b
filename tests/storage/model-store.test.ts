// Downloading a real model into (fake) IndexedDB and reading it back: byte-exact tensors, monotonic
// progress, resumption with Range after a cut, abort or full quota, sharded checkpoints, and the
// named errors a person sees for a missing, unreachable or unsupported model.
import 'fake-indexeddb/auto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startModelServer, type ModelServer } from '../../e2e/model-server';
import { UnsupportedModelError } from '../../src/model/config';
import { modelFingerprint } from '../../src/model/fingerprint';
import { bufferSource, readHeader, readTensorF32, writeSafetensors, type ByteSource } from '../../src/model/safetensors';
import {
  deleteStoredModel, downloadModel, listStoredModels, ModelDownloadError, openStoredModel, StorageQuotaError, type DownloadProgress,
} from '../../src/storage/model-store';
import { IdbQuantizedCache } from '../../src/storage/quantized-cache';
import { quantizeNf4 } from '../../src/model/nf4';

const ROOT = '/work/shared/models/stories260K';
const WEIGHTS = new Uint8Array(readFileSync(join(ROOT, 'model.safetensors')));
const CONFIG_TEXT = readFileSync(join(ROOT, 'config.json'), 'utf8');
const SMALL_FILES_BYTES = 628 + 14760 + 824;
const MODEL_BYTES = WEIGHTS.byteLength + SMALL_FILES_BYTES;
const CHUNK = 64 * 1024;
const opts = { chunkBytes: CHUNK, progressIntervalMs: 0 };

const servers: ModelServer[] = [];
async function serve(root = ROOT): Promise<ModelServer> {
  const s = await startModelServer({ root });
  servers.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function bytesSent(server: ModelServer, from = 0): number {
  return server.requests.slice(from).reduce((a, r) => a + r.bytesSent, 0);
}

async function readAll(src: ByteSource): Promise<Uint8Array> {
  return new Uint8Array(await src.read(0, src.size));
}

/** Every tensor of the stored shard equals the file on disk, compared as raw bytes. */
async function expectSameTensors(stored: ByteSource, disk: Uint8Array): Promise<number> {
  const a = await readHeader(stored);
  const b = await readHeader(bufferSource(disk));
  expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
  for (const name of b.tensors.keys()) {
    const x = await readTensorF32(stored, a, name);
    const y = await readTensorF32(bufferSource(disk), b, name);
    expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), name).toBe(true);
  }
  return b.tensors.size;
}

describe('downloadModel from a range-capable server', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await serve();
  });

  it('stores stories260K so that every tensor reads back byte for byte, with no network', async () => {
    const events: DownloadProgress[] = [];
    const files = await downloadModel(server.url, { ...opts, onProgress: (p) => events.push(p) });
    expect(files.source).toBe(server.url);
    expect(files.shards.map((s) => s.name)).toEqual(['model.safetensors']);
    expect(files.tokenizerConfig).toEqual(JSON.parse(readFileSync(join(ROOT, 'tokenizer_config.json'), 'utf8')));

    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('openStoredModel must not use the network'));
    try {
      const stored = await openStoredModel(server.url);
      expect(stored).not.toBeNull();
      expect((stored!.config as { hidden_size: number }).hidden_size).toBe(64);
      expect((stored!.tokenizerJson as { model: { type: string } }).model.type).toBe('BPE');
      expect(stored!.shards[0].bytes.size).toBe(WEIGHTS.byteLength);
      expect(await expectSameTensors(stored!.shards[0].bytes, WEIGHTS)).toBe(47);
      expect(Buffer.from(await readAll(stored!.shards[0].bytes)).equals(Buffer.from(WEIGHTS))).toBe(true);
      expect(stored!.fingerprint).toBe(await modelFingerprint(CONFIG_TEXT, [{ name: 'model.safetensors', bytes: bufferSource(WEIGHTS) }]));
      expect(stored!.fingerprint).toBe(files.fingerprint);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('reports progress that never goes back and ends at the total', async () => {
    const s = await serve();
    const events: DownloadProgress[] = [];
    await downloadModel(s.url, { ...opts, onProgress: (p) => events.push(p) });
    const progress = events.filter((e) => e.status === 'progress');
    const done = events.at(-1);
    expect(done).toMatchObject({ status: 'done', overallLoaded: MODEL_BYTES, overallTotal: MODEL_BYTES, fetchedBytes: MODEL_BYTES, resumedFromBytes: 0 });
    for (let i = 1; i < progress.length; i++) expect(progress[i].overallLoaded).toBeGreaterThanOrEqual(progress[i - 1].overallLoaded);
    const weights = progress.filter((e) => e.file === 'model.safetensors');
    expect(weights.length).toBeGreaterThan(WEIGHTS.byteLength / CHUNK / 2); // per network read, not once per file
    expect(weights.at(-1)).toMatchObject({ loaded: WEIGHTS.byteLength, total: WEIGHTS.byteLength, overallLoaded: MODEL_BYTES, overallTotal: MODEL_BYTES });
    for (const e of weights) expect(e.overallTotal).toBe(MODEL_BYTES);
  });

  it('loads a complete model again without any request', async () => {
    const s = await serve();
    await downloadModel(s.url, opts);
    s.setOffline(true);
    const before = s.requests.length;
    const again = await downloadModel(s.url, opts);
    expect(s.requests.length).toBe(before);
    expect(again.shards[0].bytes.size).toBe(WEIGHTS.byteLength);
  });

  it('lists stored models with their size and deletes them', async () => {
    const s = await serve();
    await downloadModel(s.url, opts);
    expect(await listStoredModels()).toContainEqual(expect.objectContaining({ source: s.url, bytes: MODEL_BYTES, complete: true }));
    await deleteStoredModel(s.url);
    expect(await openStoredModel(s.url)).toBeNull();
    expect((await listStoredModels()).map((m) => m.source)).not.toContain(s.url);
  });

  it('deleting a model also drops the NF4 projections quantized from it', async () => {
    const s = await serve();
    const files = await downloadModel(s.url, opts);
    const cache = new IdbQuantizedCache();
    const q = quantizeNf4(new Float32Array(64).fill(0.5), 1, 64);
    await cache.put(files.fingerprint, { doubleQuant: false }, 'model.layers.0.self_attn.q_proj.weight', q);
    expect(await cache.get(files.fingerprint, { doubleQuant: false }, 'model.layers.0.self_attn.q_proj.weight')).not.toBeNull();
    await deleteStoredModel(s.url);
    expect(await cache.get(files.fingerprint, { doubleQuant: false }, 'model.layers.0.self_attn.q_proj.weight')).toBeNull();
  });

  it('returns null for a model never downloaded', async () => {
    expect(await openStoredModel('http://127.0.0.1:1/never')).toBeNull();
    expect(await openStoredModel('Never/Downloaded')).toBeNull();
  });
});

describe('resuming an interrupted download', () => {
  it('continues a cut-off download with a Range request, fetching less and storing identical bytes', async () => {
    const s = await serve();
    s.setFailAfterBytes(300_000);
    const err = await downloadModel(s.url, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect((err as ModelDownloadError).failure).toBe('interrupted');
    expect((err as Error).message).toContain(`${s.url}/model.safetensors`);
    const partial = (await listStoredModels()).find((m) => m.source === s.url);
    expect(partial).toMatchObject({ complete: false });
    expect(await openStoredModel(s.url)).toBeNull();

    s.setFailAfterBytes(null);
    const from = s.requests.length;
    const events: DownloadProgress[] = [];
    const files = await downloadModel(s.url, { ...opts, onProgress: (p) => events.push(p) });
    const resumed = s.requests.slice(from).filter((r) => r.path.endsWith('model.safetensors'));
    // Only whole chunks survive a cut, and only those the client had received and stored when the
    // connection died: at most the chunks inside the 300,000 bytes sent, at least one of them.
    expect(resumed).toEqual([expect.objectContaining({ range: expect.stringMatching(/^bytes=\d+-$/), status: 206 })]);
    const storedBefore = Number(/^bytes=(\d+)-$/.exec(resumed[0]!.range!)![1]);
    expect(storedBefore % CHUNK).toBe(0);
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThanOrEqual(Math.floor(300_000 / CHUNK) * CHUNK);
    expect(bytesSent(s, from)).toBe(WEIGHTS.byteLength - storedBefore);
    expect(bytesSent(s, from)).toBeLessThan(MODEL_BYTES);
    expect(events.at(-1)).toMatchObject({ status: 'done', overallLoaded: MODEL_BYTES, resumedFromBytes: SMALL_FILES_BYTES + storedBefore });
    expect(Buffer.from(await readAll(files.shards[0].bytes)).equals(Buffer.from(WEIGHTS))).toBe(true);
  });

  it('resumes correctly when the server ignores Range and answers 200 with the whole file', async () => {
    const s = await serve();
    s.setFailAfterBytes(500_000);
    await expect(downloadModel(s.url, opts)).rejects.toThrow(ModelDownloadError);
    s.setFailAfterBytes(null);
    const ignoreRange: typeof fetch = (url, init) => fetch(url, { ...init, headers: {} });
    const files = await downloadModel(s.url, { ...opts, fetchImpl: ignoreRange });
    expect(s.requests.at(-1)).toMatchObject({ status: 200 });
    expect(await expectSameTensors(files.shards[0].bytes, WEIGHTS)).toBe(47);
    expect(Buffer.from(await readAll(files.shards[0].bytes)).equals(Buffer.from(WEIGHTS))).toBe(true);
  });

  it('keeps what was stored when aborted, and resumes from there', async () => {
    const s = await serve();
    const ctrl = new AbortController();
    const err = await downloadModel(s.url, {
      ...opts,
      signal: ctrl.signal,
      onProgress: (p) => {
        if (p.status === 'progress' && p.file === 'model.safetensors' && p.loaded > 400_000) ctrl.abort();
      },
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    const from = s.requests.length;
    const files = await downloadModel(s.url, opts);
    const range = s.requests.slice(from).find((r) => r.path.endsWith('model.safetensors'))?.range;
    expect(range).toMatch(/^bytes=\d+-$/);
    expect(Number(range!.slice(6, -1))).toBeGreaterThanOrEqual(5 * CHUNK);
    expect(Buffer.from(await readAll(files.shards[0].bytes)).equals(Buffer.from(WEIGHTS))).toBe(true);
  });

  describe('when browser storage is full', () => {
    const proto = IDBObjectStore.prototype;
    const realPut = proto.put;
    afterEach(() => {
      proto.put = realPut;
    });

    it('fails with StorageQuotaError saying how much more is needed, and resumes once space is back', async () => {
      const s = await serve();
      let chunkPuts = 0;
      proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
        if (Array.isArray(key) && key[1] === 'model.safetensors' && ++chunkPuts > 3) throw new DOMException('full', 'QuotaExceededError');
        return realPut.call(this, value, key);
      };
      const err = await downloadModel(s.url, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageQuotaError);
      const q = err as StorageQuotaError;
      expect(q.bytesNeeded).toBe(WEIGHTS.byteLength - 3 * CHUNK);
      expect(q.message).toMatch(/^Not enough browser storage to save http:.*: 848\.4 kB more are needed\. The 212\.8 kB already saved are kept/);
      proto.put = realPut;
      const from = s.requests.length;
      const files = await downloadModel(s.url, opts);
      expect(s.requests.slice(from).find((r) => r.path.endsWith('model.safetensors'))?.range).toBe(`bytes=${3 * CHUNK}-`);
      expect(Buffer.from(await readAll(files.shards[0].bytes)).equals(Buffer.from(WEIGHTS))).toBe(true);
    });
  });
});

describe('a sharded checkpoint (model.safetensors.index.json)', () => {
  it('downloads both shards and every tensor reads back as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sharded-'));
    writeFileSync(join(dir, 'config.json'), CONFIG_TEXT);
    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(ROOT, 'tokenizer.json')));
    // No tokenizer_config.json: optional, so it becomes {}.
    const header = await readHeader(bufferSource(WEIGHTS));
    const names = [...header.tensors.keys()];
    const shards = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
    const weightMap: Record<string, string> = {};
    const shardBytes: Uint8Array[] = [];
    for (const [k, group] of shards.entries()) {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      const tensors = await Promise.all(group.map(async (name) => ({ name, shape: header.tensors.get(name)!.shape, data: await readTensorF32(bufferSource(WEIGHTS), header, name) })));
      shardBytes.push(writeSafetensors(tensors));
      writeFileSync(join(dir, file), shardBytes[k]);
      for (const name of group) weightMap[name] = file;
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: WEIGHTS.byteLength - 8 }, weight_map: weightMap }));

    const s = await serve(dir);
    const events: DownloadProgress[] = [];
    const files = await downloadModel(s.url, { ...opts, onProgress: (p) => events.push(p) });
    expect(files.shards.map((x) => x.name)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(files.tokenizerConfig).toEqual({});
    for (const [k, shard] of files.shards.entries()) await expectSameTensors(shard.bytes, shardBytes[k]);
    const total = 628 + 14760 + shardBytes[0].byteLength + shardBytes[1].byteLength;
    // Shard sizes are probed first, so the overall total is known while the first shard streams.
    for (const e of events.filter((x) => x.status === 'progress' && x.file.startsWith('model-'))) expect(e.status === 'progress' && e.overallTotal).toBe(total);
    expect(events.at(-1)).toMatchObject({ status: 'done', overallLoaded: total });
    expect(files.fingerprint).toBe(await modelFingerprint(CONFIG_TEXT, files.shards.map((x, k) => ({ name: x.name, bytes: bufferSource(shardBytes[k]) }))));
  });
});

describe('bad input gets a named error with a clear message', () => {
  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }
  const tokenizer = readFileSync(join(ROOT, 'tokenizer.json'), 'utf8');

  it('404 on config.json: ModelDownloadError naming the URL and status', async () => {
    const s = await serve(folder({}));
    const err = (await downloadModel(s.url, opts).catch((e: unknown) => e)) as ModelDownloadError;
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err.failure).toBe(404);
    expect(err.message).toContain(`HTTP 404`);
    expect(err.message).toContain(`${s.url}/config.json`);
    expect(await listStoredModels()).not.toContainEqual(expect.objectContaining({ source: s.url }));
  });

  it.each([
    ['a closed port', async () => {
      const s = await startModelServer({ root: ROOT });
      await s.close();
      return s.url;
    }],
    ['a server gone offline', async () => {
      const s = await serve();
      s.setOffline(true);
      return s.url;
    }],
  ])('%s: ModelDownloadError "unreachable" naming the URL', async (_what, makeUrl) => {
    const url = await makeUrl();
    const err = (await downloadModel(url, opts).catch((e: unknown) => e)) as ModelDownloadError;
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err.failure).toBe('unreachable');
    expect(err.message).toMatch(new RegExp(`^Could not reach ${url.replace(/[.]/g, '\\.')}/config\\.json`));
  });

  it('an unsupported architecture fails on config.json, before any other file is fetched', async () => {
    const s = await serve(folder({ 'config.json': JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }), 'tokenizer.json': tokenizer }));
    const err = await downloadModel(s.url, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect((err as Error).message).toMatch(/Unsupported model architecture "GPT2LMHeadModel".*LlamaForCausalLM/);
    expect(s.requests.map((r) => r.path)).toEqual(['/config.json']);
    expect(await listStoredModels()).not.toContainEqual(expect.objectContaining({ source: s.url }));
  });

  it.each([
    ['config.json that is an HTML page', { 'config.json': '<!doctype html><html>', 'tokenizer.json': tokenizer }, /config\.json from .* is not valid JSON/, 'invalid'],
    ['no tokenizer.json', { 'config.json': CONFIG_TEXT }, /Could not download tokenizer\.json: HTTP 404/, 404],
    ['no weights at all', { 'config.json': CONFIG_TEXT, 'tokenizer.json': tokenizer }, /Neither model\.safetensors nor model\.safetensors\.index\.json exists/, 404],
    ['an index with a path in a shard name', { 'config.json': CONFIG_TEXT, 'tokenizer.json': tokenizer, 'model.safetensors.index.json': '{"weight_map":{"a":"../x.safetensors"}}' }, /not a plain \.safetensors file name/, 'invalid'],
  ])('%s: ModelDownloadError', async (_what, files, message, failure) => {
    const s = await serve(folder(files));
    const err = (await downloadModel(s.url, opts).catch((e: unknown) => e)) as ModelDownloadError;
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err.message).toMatch(message);
    expect(err.failure).toBe(failure);
  });
});
