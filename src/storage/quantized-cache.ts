// The IndexedDB cache of NF4-quantized linear weights, so a second load of the same model skips
// quantization (and reading the fp32 projections at all). One record per tensor, keyed by model
// fingerprint + quantization setting + tensor name (storage/keys.ts): a half-filled cache still helps.
import { del, delMany, get, getMany, keys, set } from 'idb-keyval';
import type { DoubleQuantAbsmax, Nf4Weight } from '../model/nf4';
import type { QuantizationOptions, QuantizedWeightCache } from '../model/load';
import { frozenVectorsKey, quantizedModelRange, quantizedTensorKey, storeFor } from './keys';

/** What one record holds: an Nf4Weight as plain structured-clonable data, with a layout version. */
export interface StoredNf4Weight {
  formatVersion: 1;
  shape: [number, number];
  numel: number;
  codes: Int32Array;
  absmax: Float32Array | null;
  dq: DoubleQuantAbsmax | null;
}

export class QuantizedCacheRecordError extends Error {
  override name = 'QuantizedCacheRecordError';
}

/** Check a record read back from IndexedDB: any mismatch means it was written by other code. */
export function fromStored(r: unknown, where: string): Nf4Weight {
  const s = r as Partial<StoredNf4Weight> | null;
  const fail = (field: string) => {
    throw new QuantizedCacheRecordError(`src/storage/quantized-cache.ts: record ${where} has a bad "${field}"`);
  };
  if (!s || s.formatVersion !== 1) fail('formatVersion');
  if (!Array.isArray(s!.shape) || s!.shape.length !== 2 || s!.numel !== s!.shape[0] * s!.shape[1]) fail('shape');
  const blocks = Math.ceil(s!.numel! / 64);
  if (!(s!.codes instanceof Int32Array) || s!.codes.length !== blocks * 8) fail('codes');
  if (s!.absmax != null ? !(s!.absmax instanceof Float32Array) || s!.absmax.length !== blocks : s!.dq?.count !== blocks) fail('absmax');
  return { shape: [s!.shape![0], s!.shape![1]], numel: s!.numel!, codes: s!.codes!, absmax: s!.absmax ?? null, dq: s!.dq ?? null };
}

export function toStored(w: Nf4Weight): StoredNf4Weight {
  return { formatVersion: 1, shape: [w.shape[0], w.shape[1]], numel: w.numel, codes: w.codes, absmax: w.absmax, dq: w.dq };
}

export class IdbQuantizedCache implements QuantizedWeightCache {
  private readonly store = storeFor('quantizedWeights');

  async get(fingerprint: string, opts: QuantizationOptions, tensorName: string): Promise<Nf4Weight | null> {
    return (await this.getMany(fingerprint, opts, [tensorName]))[0];
  }

  /** Several tensors in one read transaction (one layer's seven at load: one round trip, not seven). */
  async getMany(fingerprint: string, opts: QuantizationOptions, tensorNames: string[]): Promise<(Nf4Weight | null)[]> {
    const keys = tensorNames.map((n) => quantizedTensorKey(fingerprint, opts, n));
    const records = await getMany<unknown>(keys, this.store);
    const out: (Nf4Weight | null)[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (records[i] === undefined) {
        out.push(null);
        continue;
      }
      try {
        out.push(fromStored(records[i], keys[i].join('/')));
      } catch {
        await del(keys[i], this.store); // unreadable: drop it so it is rewritten
        out.push(null);
      }
    }
    return out;
  }

  async put(fingerprint: string, opts: QuantizationOptions, tensorName: string, w: Nf4Weight): Promise<void> {
    await set(quantizedTensorKey(fingerprint, opts, tensorName), toStored(w), this.store);
  }

  async getVectors(fingerprint: string): Promise<Map<string, Float32Array> | null> {
    const r = await get<unknown>(frozenVectorsKey(fingerprint), this.store);
    const rec = r as { formatVersion?: unknown; tensors?: unknown } | undefined;
    if (!rec || rec.formatVersion !== 1 || !(rec.tensors instanceof Map)) return null;
    for (const v of rec.tensors.values()) if (!(v instanceof Float32Array)) return null;
    return rec.tensors as Map<string, Float32Array>;
  }

  async putVectors(fingerprint: string, tensors: Map<string, Float32Array>): Promise<void> {
    await set(frozenVectorsKey(fingerprint), { formatVersion: 1, tensors }, this.store);
  }

  /** Drop every quantized tensor of one model (any setting), e.g. when the model is deleted. */
  async deleteModel(fingerprint: string): Promise<void> {
    const range = quantizedModelRange(fingerprint);
    const all = await keys(this.store);
    await delMany(all.filter((k) => range.includes(k)), this.store);
  }
}
