// A stored file read back through chunkedFileSource must equal the original for any window: inside
// one chunk, across a boundary, and across more chunks than one IndexedDB batch, with an odd chunk size.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startModelServer, type ModelServer } from '../../e2e/model-server';
import { StoredModelError } from '../../src/storage/chunk-store';
import { downloadModel } from '../../src/storage/model-store';
import type { ByteSource } from '../../src/model/safetensors';

const ROOT = '/work/shared/models/stories260K';
const WEIGHTS = readFileSync(`${ROOT}/model.safetensors`);
const CHUNK = 1000; // not a power of two, so tensor boundaries never line up with chunks

describe('chunkedFileSource over a stored model', () => {
  let server: ModelServer;
  let src: ByteSource;
  beforeAll(async () => {
    server = await startModelServer({ root: ROOT });
    src = (await downloadModel(server.url, { chunkBytes: CHUNK })).shards[0].bytes;
  });
  afterAll(() => server.close());

  it.each([
    ['the first bytes', 0, 8],
    ['one whole chunk', 3 * CHUNK, CHUNK],
    ['a window ending on a chunk boundary', 3 * CHUNK + 10, CHUNK - 10],
    ['two bytes straddling a boundary', 5 * CHUNK - 1, 2],
    ['a window over three chunks', 7 * CHUNK - 1, CHUNK + 2],
    ['more chunks than one batch', 12_345, 25 * CHUNK + 17],
    ['the last partial chunk', WEIGHTS.byteLength - 7, 7],
    ['the whole file', 0, WEIGHTS.byteLength],
    ['nothing', 500, 0],
  ])('%s (offset %i, %i bytes) equals the file', async (_what, offset, length) => {
    const got = await src.read(offset, length);
    expect(got.byteLength).toBe(length);
    expect(Buffer.from(got).equals(WEIGHTS.subarray(offset, offset + length))).toBe(true);
  });

  it('200 random windows equal the file, read concurrently', async () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const windows = Array.from({ length: 200 }, () => {
      const offset = rand(WEIGHTS.byteLength);
      return [offset, rand(Math.min(30 * CHUNK, WEIGHTS.byteLength - offset))] as const;
    });
    const got = await Promise.all(windows.map(([o, n]) => src.read(o, n)));
    windows.forEach(([o, n], k) => expect(Buffer.from(got[k]).equals(WEIGHTS.subarray(o, o + n)), `${o}+${n}`).toBe(true));
  });

  it.each([
    [-1, 4],
    [WEIGHTS.byteLength - 2, 4],
    [1.5, 4],
  ])('refuses a read at %d of %d bytes outside the file with StoredModelError', async (offset, length) => {
    await expect(src.read(offset, length)).rejects.toThrow(StoredModelError);
  });
});
