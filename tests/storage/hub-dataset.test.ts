// A hub dataset by id, against a local server laid out like the hub (no network): the Parquet
// listing, a download with progress into (fake) IndexedDB and a second load from there, the file
// parsed like a dropped one, the token sent to huggingface.co only, and what a refusal says.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startModelServer, type ModelServer } from '../../e2e/model-server';
import { HubDatasetError, datasetFileName, listParquetFiles, loadHubDatasetFile, parseDatasetId } from '../../src/storage/hub-dataset';
import { writeParquetFixture } from '../../src/data/parquet-fixture';
import { parseDataset } from '../../src/data/dataset';
import { blobRandomAccess } from '../../src/data/parquet';

const TOKEN = 'hf_abcdefghijklmnopqrstuvwxyz012345';
const rows = 30;
const PARQUET = writeParquetFixture([
  { name: 'question', type: 'string', values: Array.from({ length: rows }, (_, i) => `Question ${i}?`) },
  { name: 'answer', type: 'string', values: Array.from({ length: rows }, (_, i) => `Answer ${i}.`) },
], 8);

let server: ModelServer;
beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'hub-'));
  server = await startModelServer({ root });
  const file = (split: string) => `${server.url}/datasets/zed/talk/resolve/refs%2Fconvert%2Fparquet/default/${split}/0000.parquet`;
  mkdirSync(join(root, 'api/datasets/zed/talk'), { recursive: true });
  writeFileSync(join(root, 'api/datasets/zed/talk/parquet'), JSON.stringify({ default: { train: [file('train')], test: [file('test')] } }));
  for (const split of ['train', 'test']) {
    // The server decodes %2F as the hub does: the branch refs/convert/parquet is a path on disk.
    mkdirSync(join(root, `datasets/zed/talk/resolve/refs/convert/parquet/default/${split}`), { recursive: true });
    writeFileSync(join(root, `datasets/zed/talk/resolve/refs/convert/parquet/default/${split}/0000.parquet`), PARQUET);
  }
});
afterAll(async () => server.close());

describe('parseDatasetId', () => {
  it.each([
    ['HuggingFaceH4/no_robots', 'HuggingFaceH4/no_robots'],
    [' zed/talk/ ', 'zed/talk'],
    ['https://huggingface.co/datasets/ibm/duorc/viewer/SelfRC/train', 'ibm/duorc'],
  ])('%j is %s', (input, id) => expect(parseDatasetId(input)).toBe(id));

  it.each(['zed', 'a/b/c', '../x', 'https://example.com/datasets/a/b'])('%j is refused', (input) => {
    expect(() => parseDatasetId(input)).toThrow(HubDatasetError);
  });
});

describe('a hub dataset from a local hub', () => {
  it('lists configs and splits, downloads one split with progress, then loads it from IndexedDB', async () => {
    const listing = await listParquetFiles('zed/talk', { hubUrl: server.url });
    expect(Object.keys(listing)).toEqual(['default']);
    expect(Object.keys(listing.default)).toEqual(['train', 'test']);
    const ref = { id: 'zed/talk', config: 'default', split: 'train', url: listing.default.train[0] };
    expect(datasetFileName(ref)).toBe('zed/talk/default/train/0000.parquet');

    const seen: number[] = [];
    const first = await loadHubDatasetFile(ref, { onProgress: (loaded, total) => {
      expect(total).toBe(PARQUET.length);
      seen.push(loaded);
    } });
    expect(first.fromCache).toBe(false);
    expect(seen.at(-1)).toBe(PARQUET.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const downloads = () => server.requests.filter((r) => r.path.endsWith('.parquet')).length;
    expect(downloads()).toBe(1);

    const again = await loadHubDatasetFile(ref);
    expect(again.fromCache).toBe(true);
    expect(downloads()).toBe(1); // no second download
    expect(new Uint8Array(await again.blob.arrayBuffer())).toEqual(PARQUET);

    // Read as a dropped Parquet file: three row groups, question/answer mapped by name.
    const s = await parseDataset(again.blob.stream(), { fileName: datasetFileName(ref), bytesTotal: again.blob.size, randomAccess: blobRandomAccess(again.blob) });
    expect({ kind: s.fileKind, format: s.format, valid: s.valid, mapped: s.mapping?.source }).toEqual({ kind: 'parquet', format: 'prompt-completion', valid: rows, mapped: 'detected' });
  });

  it('an unknown dataset is a 404 that says so', async () => {
    await expect(listParquetFiles('zed/none', { hubUrl: server.url })).rejects.toThrow('The hub has no dataset zed/none, or no Parquet version of it (HTTP 404).');
  });
});

describe('the access token and gated datasets', () => {
  const calls: { url: string; auth: string | null }[] = [];
  const fakeFetch = (status: number, body: unknown = {}) => (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), auth: new Headers(init?.headers).get('Authorization') });
    return new Response(JSON.stringify(body), { status });
  }) as typeof fetch;

  it('goes to huggingface.co over https, and never to another host', async () => {
    calls.length = 0;
    await listParquetFiles('zed/talk', { token: TOKEN, fetch: fakeFetch(200, { default: { train: ['https://huggingface.co/x.parquet'] } }) });
    await listParquetFiles('zed/talk', { token: TOKEN, hubUrl: 'http://127.0.0.1:9', fetch: fakeFetch(200, { default: { train: ['x'] } }) });
    expect(calls).toEqual([
      { url: 'https://huggingface.co/api/datasets/zed/talk/parquet', auth: `Bearer ${TOKEN}` },
      { url: 'http://127.0.0.1:9/api/datasets/zed/talk/parquet', auth: null },
    ]);
  });

  it('a gated dataset without a token says where to accept the conditions and where the token goes', async () => {
    await expect(listParquetFiles('zed/gated', { fetch: fakeFetch(401) })).rejects.toThrow('zed/gated is gated or private (HTTP 401). Accept its conditions on https://huggingface.co/datasets/zed/gated, then paste an access token in "Hugging Face access token" in the Model step and try again.');
    await expect(loadHubDatasetFile({ id: 'zed/gated', config: 'default', split: 'train', url: 'https://huggingface.co/api/datasets/zed/gated/parquet/default/train/0.parquet' }, { token: TOKEN, fetch: fakeFetch(403) }))
      .rejects.toThrow(/^zed\/gated refused your access token \(HTTP 403\)\./);
  });

  it('a listing that is not {config: {split: [urls]}} is refused', async () => {
    await expect(listParquetFiles('zed/talk', { fetch: fakeFetch(200, ['a']) })).rejects.toThrow("The hub's Parquet listing for zed/talk is not {config: {split: [urls]}}.");
  });
});
