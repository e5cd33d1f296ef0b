// Packing: rows never exceed their length, every token keeps its loss flag (except each example's first,
// which must not be a target across a boundary), positions restart per example, and a packed row
// trains stories260K exactly as the same examples do unpacked.
import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { packExamples, packingStats, type PackableExample } from './packing';
import { makeBatch, type TokenizedExample } from '../train/batches';
import { maskedCrossEntropy } from '../train/loss';
import { initNodeBackend, openModelFiles } from '../../cli/node-runtime';
import { loadModel } from '../model/load';
import type { LlamaModel } from '../model/llama';

/** An example of n tokens with ids base, base+1, ... and loss on all but the first `prompt` tokens. */
function ex(n: number, base: number, prompt = 1): PackableExample {
  return { inputIds: Array.from({ length: n }, (_, i) => base + i), lossMask: Array.from({ length: n }, (_, i) => (i < prompt ? 0 : 1)) };
}

describe('packExamples', () => {
  const cases: { name: string; lengths: number[]; rowLength: number; rows: number[][] }[] = [
    { name: 'three that fit in one row', lengths: [3, 4, 2], rowLength: 10, rows: [[4, 3, 2]] },
    { name: 'best fit fills the tightest row first', lengths: [6, 5, 4, 3], rowLength: 10, rows: [[6, 4], [5, 3]] },
    { name: 'an exact fit closes a row', lengths: [5, 5, 5], rowLength: 10, rows: [[5, 5], [5]] },
    { name: 'too long examples are cut to the row length', lengths: [12, 2], rowLength: 8, rows: [[8], [2]] },
    { name: 'empty examples are left out', lengths: [0, 3], rowLength: 8, rows: [[3]] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const examples = c.lengths.map((n, i) => ex(n, 100 * (i + 1)));
      const rows = packExamples(examples, c.rowLength);
      // Row composition as lengths of its segments.
      const got = rows.map((r) => {
        const segs: number[] = [];
        r.segments.forEach((s) => (segs[s] = (segs[s] ?? 0) + 1));
        return segs;
      });
      expect(got).toEqual(c.rows);
      for (const r of rows) {
        expect(r.inputIds.length).toBeLessThanOrEqual(c.rowLength);
        expect(new Set([r.lossMask.length, r.positions.length, r.segments.length])).toEqual(new Set([r.inputIds.length]));
      }
    });
  }

  it('positions restart at 0 per example, segment ids count up, and masks follow their tokens', () => {
    const a = ex(4, 100, 2); // mask 0 0 1 1
    const b = ex(3, 200, 0); // mask 1 1 1 -> first token forced to 0
    const [row] = packExamples([a, b], 16);
    expect(row.inputIds).toEqual([100, 101, 102, 103, 200, 201, 202]);
    expect(row.positions).toEqual([0, 1, 2, 3, 0, 1, 2]);
    expect(row.segments).toEqual([0, 0, 0, 0, 1, 1, 1]);
    expect(row.lossMask).toEqual([0, 0, 1, 1, 0, 1, 1]);
  });

  it('keeps every token and reports how full the rows are', () => {
    const examples = [5, 9, 2, 7, 3, 3, 1, 8].map((n, i) => ex(n, i * 10));
    const rows = packExamples(examples, 10);
    const stats = packingStats(examples, rows, 10);
    expect(stats.tokens).toBe(38);
    expect(stats.rows).toBe(4); // ceil(38 / 10) = 4 is the best possible
    expect(stats.fill).toBeCloseTo(38 / 40);
    expect(rows.flatMap((r) => r.inputIds).sort((x, y) => x - y)).toEqual(examples.flatMap((e) => e.inputIds).sort((x, y) => x - y));
  });

  it('refuses a row length that is not a positive integer', () => {
    expect(() => packExamples([ex(3, 0)], 0)).toThrow(RangeError);
  });
});

describe('packed training on stories260K', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    model = await loadModel(await openModelFiles(new URL('../../../shared/models/stories260K/', import.meta.url).pathname));
  });

  async function lossOf(rows: TokenizedExample[], T: number, keep?: (b: number, t: number) => boolean): Promise<number> {
    const batch = makeBatch(rows, T);
    if (keep) batch.weights.forEach((_, i) => (batch.weights[i] = keep(Math.floor(i / T), i % T) ? batch.weights[i] : 0));
    const l = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(batch.inputs, [batch.batchSize, T], 'int32'), { packing: batch.packing }); // [B*T, V]
      return maskedCrossEntropy(logits, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
    });
    const v = (await l.data())[0];
    l.dispose();
    return v;
  }

  it('each example has the same loss packed as alone, and the row the same as the unpacked batch', async () => {
    const a: TokenizedExample = { inputIds: [1, 403, 407, 261, 378, 432, 2], lossMask: [0, 0, 0, 1, 1, 1, 1] };
    const b: TokenizedExample = { inputIds: [1, 317, 391, 266, 267, 2], lossMask: [0, 1, 1, 1, 1, 1] };
    const T = 16;
    const [row] = packExamples([a, b], T + 1);
    expect(row.segments).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const segOfInput = (t: number) => row.segments[t];
    const packedA = await lossOf([row], T, (_, t) => segOfInput(t + 1) === 0); // targets inside a
    const packedB = await lossOf([row], T, (_, t) => segOfInput(t + 1) === 1);
    expect(packedA).toBeCloseTo(await lossOf([a], T), 5);
    expect(packedB).toBeCloseTo(await lossOf([b], T), 5);
    expect(await lossOf([row], T)).toBeCloseTo(await lossOf([a, b], T), 5);
    // Without positions and segments the second example sees the first: a different loss.
    const { positions: _p, segments: _s, ...plain } = row;
    const leaky = await lossOf([plain], T, (_, t) => segOfInput(t + 1) === 1);
    expect(Math.abs(leaky - packedB)).toBeGreaterThan(1e-3);
  });
});
