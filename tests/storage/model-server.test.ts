// The test model server must behave like the hub where the downloader depends on it: CORS with
// exposed range headers, preflights that allow Range, 206/416 ranges, 404s, offline mode, cut-off bodies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseRange, startModelServer, type ModelServer } from '../../e2e/model-server';

const ROOT = '/work/shared/models/stories260K';
const CONFIG = readFileSync(`${ROOT}/config.json`);

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=90-500', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=5-2', 100, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, null],
    ['items=0-1', 100, null],
    [undefined, 100, null],
  ] as const)('%s of a %i-byte file -> %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('startModelServer', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer({ root: ROOT, prefix: '/org/model/resolve/main' });
  });
  afterAll(() => server.close());

  it('serves a whole file with CORS headers that expose the range headers', async () => {
    const res = await fetch(`${server.url}/config.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Content-Range/);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(CONFIG)).toBe(true);
  });

  it('answers a Range request with 206, Content-Range and exactly those bytes', async () => {
    const res = await fetch(`${server.url}/config.json`, { headers: { Range: 'bytes=100-' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-${CONFIG.length - 1}/${CONFIG.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(CONFIG.subarray(100))).toBe(true);
    expect(server.requests.at(-1)).toMatchObject({ path: '/org/model/resolve/main/config.json', range: 'bytes=100-', status: 206, bytesSent: CONFIG.length - 100 });
  });

  it('answers a range past the end with 416 and the size', async () => {
    const res = await fetch(`${server.url}/config.json`, { headers: { Range: `bytes=${CONFIG.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${CONFIG.length}`);
  });

  it('answers a CORS preflight allowing the Range header', async () => {
    const res = await fetch(`${server.url}/model.safetensors`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:5173', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/range/i);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/);
  });

  it.each([
    ['a missing file', '/org/model/resolve/main/nope.json'],
    ['a path outside the prefix', '/config.json'],
    ['a path escaping the root', '/org/model/resolve/main/..%2F..%2FDESIGN.md' /* /work/shared/DESIGN.md exists */],
  ])('answers 404 for %s', async (_what, path) => {
    const res = await fetch(`${server.url.replace(/\/org.*$/, '')}${path}`);
    expect(res.status).toBe(404);
  });

  it('HEAD gives the size without a body', async () => {
    const res = await fetch(`${server.url}/model.safetensors`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1044992');
  });

  it('offline mode makes fetch fail as an unreachable host does, and recovers', async () => {
    server.setOffline(true);
    await expect(fetch(`${server.url}/config.json`)).rejects.toThrow(TypeError);
    server.setOffline(false);
    expect((await fetch(`${server.url}/config.json`)).status).toBe(200);
  });

  it('failAfterBytes cuts the body mid-stream so reading it fails', async () => {
    server.setFailAfterBytes(100_000);
    const res = await fetch(`${server.url}/model.safetensors`);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(server.requests.at(-1)?.bytesSent).toBe(100_000);
    server.setFailAfterBytes(null);
    expect((await (await fetch(`${server.url}/model.safetensors`)).arrayBuffer()).byteLength).toBe(1044992);
  });
});
