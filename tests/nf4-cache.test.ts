// The IndexedDB cache of quantized weights (fake-indexeddb): the first NF4 load of stories260K
// quantizes and stores every projection; the second reads them all back (never touching the fp32
// projections in the checkpoint) and gives bit-identical codes and logits; another quantization
// setting or another fingerprint misses; a corrupt record is ignored and rewritten. The norms come
// back from one cached record, so a cached load reads only the header and the token table.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { set } from 'idb-keyval';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModelWithReport, type QuantizationOptions, type QuantizedWeightCache } from '../src/model/load';
import { LINEAR_MODULES, linearKey, linearShape, parseConfig } from '../src/model/config';
import { quantizeNf4 } from '../src/model/nf4';
import { readHeader, readTensorF32, type ByteSource } from '../src/model/safetensors';
import type { ModelFileSet } from '../src/model/files';
import { IdbQuantizedCache } from '../src/storage/quantized-cache';
import { quantizedTensorKey, storeFor } from '../src/storage/keys';

const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;
const PLAIN: QuantizationOptions = { doubleQuant: false };

/** The same files, counting the bytes read from the weights file. */
function counting(files: ModelFileSet): { files: ModelFileSet; bytesRead: () => number } {
  let n = 0;
  const inner = files.shards[0]!.bytes;
  const bytes: ByteSource = { size: inner.size, read: async (o, l) => { n += l; return inner.read(o, l); } };
  return { files: { ...files, shards: [{ name: files.shards[0]!.name, bytes }] }, bytesRead: () => n };
}

async function logits(model: Awaited<ReturnType<typeof loadModelWithReport>>['model']): Promise<Float32Array> {
  const y = model.forward(tf.tensor2d([[1, 403, 407, 261, 378]], [1, 5], 'int32'));
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

describe('quantized-weight cache in IndexedDB', () => {
  let files: ModelFileSet;
  let layers: number;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    files = await openModelFiles(STORIES);
    layers = parseConfig(files.config).numLayers;
  });

  it('second NF4 load reads every projection from the cache and gives bit-identical codes and logits', async () => {
    const cache = new IdbQuantizedCache();
    const first = await loadModelWithReport(files, { precision: 'nf4', cache });
    expect(first.report).toMatchObject({ precision: 'nf4', linearPath: 'js-dequant', cacheHits: 0, quantized: layers * 7 });
    const a = await logits(first.model);
    first.model.dispose();

    const c = counting(files);
    const second = await loadModelWithReport(c.files, { precision: 'nf4', cache });
    expect(second.report).toMatchObject({ cacheHits: layers * 7, quantized: 0 });
    const b = await logits(second.model);
    second.model.dispose();
    expect(b).toEqual(a);
    // Only the header and the token table were read: the norms come from the cache's one record of
    // small tensors (in the app each sits in its own 4 MB chunk of the stored file).
    const header = await readHeader(files.shards[0]!.bytes);
    const cfg = parseConfig(files.config);
    expect(c.bytesRead()).toBe(header.dataStart + cfg.vocabSize * cfg.hiddenSize * 4);
    expect((await cache.getVectors(files.fingerprint))!.size).toBe(1 + layers * 2);

    // The stored codes are exactly what quantizing the checkpoint gives.
    for (const i of [0, layers - 1]) {
      for (const m of LINEAR_MODULES) {
        const { out, in: inF } = linearShape(cfg, m);
        const fresh = quantizeNf4(await readTensorF32(files.shards[0]!.bytes, header, linearKey(i, m)), out, inF);
        const stored = (await cache.get(files.fingerprint, PLAIN, linearKey(i, m)))!;
        expect(stored.codes).toEqual(fresh.codes);
        expect(stored.absmax).toEqual(fresh.absmax);
      }
    }
  });

  it('a cache with only get and put (no batched reads, no small tensors) loads the same model', async () => {
    const idb = new IdbQuantizedCache();
    await loadModelWithReport(files, { precision: 'nf4', cache: idb }).then((r) => r.model.dispose());
    const plain: QuantizedWeightCache = { get: (f, o, n) => idb.get(f, o, n), put: (f, o, n, w) => idb.put(f, o, n, w) };
    const a = await loadModelWithReport(files, { precision: 'nf4', cache: idb });
    const b = await loadModelWithReport(files, { precision: 'nf4', cache: plain });
    expect(b.report).toMatchObject({ cacheHits: layers * 7, quantized: 0 });
    expect(await logits(b.model)).toEqual(await logits(a.model));
    a.model.dispose();
    b.model.dispose();
  });

  it.each([
    ['another quantization setting (double quant)', { doubleQuant: true }, false],
    ['another model fingerprint', PLAIN, true],
  ] as const)('misses under %s', async (_what, quantization, otherFingerprint) => {
    const cache = new IdbQuantizedCache();
    await loadModelWithReport(files, { precision: 'nf4', cache }).then((r) => r.model.dispose());
    const f = otherFingerprint ? { ...files, fingerprint: 'ffffffffffffffff' } : files;
    const r = await loadModelWithReport(f, { precision: 'nf4', cache, quantization });
    r.model.dispose();
    expect(r.report).toMatchObject({ cacheHits: 0, quantized: layers * 7 });
  });

  it('ignores and rewrites a corrupt record', async () => {
    const cache = new IdbQuantizedCache();
    await loadModelWithReport(files, { precision: 'nf4', cache }).then((r) => r.model.dispose());
    const name = linearKey(0, 'q_proj');
    await set(quantizedTensorKey(files.fingerprint, PLAIN, name), { formatVersion: 1, shape: [1, 1], numel: 1, codes: new Int32Array(3) }, storeFor('quantizedWeights'));
    const r = await loadModelWithReport(files, { precision: 'nf4', cache });
    r.model.dispose();
    expect(r.report).toMatchObject({ cacheHits: layers * 7 - 1, quantized: 1 });
    expect((await cache.get(files.fingerprint, PLAIN, name))!.shape).toEqual([64, 64]);
  });

  it('fp32 loads never touch the cache', async () => {
    const cache = new IdbQuantizedCache();
    const r = await loadModelWithReport({ ...files, fingerprint: 'fp32-only' }, { precision: 'fp32', cache });
    r.model.dispose();
    expect(r.report).toMatchObject({ precision: 'fp32', linearPath: 'dense', cacheHits: 0, quantized: 0 });
    expect(await cache.get('fp32-only', PLAIN, linearKey(0, 'q_proj'))).toBeNull();
  });
});
