// Batch lengths before training: the counts bucket rows as paddedLength pads them, the peak is the
// longest batch any draw makes, and the mean matches batches drawn as the trainer draws them
// (shuffle, then B at a time), counted with paddedLength itself. The memory plan takes memory at the
// peak and time at the mean, and the trainer plans its recomputation at the peak.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { paddedLength, type TokenizedExample } from './batches';
import { batchLengths, paddedRowCounts, runBatchLengths } from './row-lengths';
import { memoryPlan, type PlanChoice } from './memory-plan';
import { parseConfig } from '../model/config';
import { seededRandom } from '../util/random';

const row = (n: number, rejected?: number): TokenizedExample => ({
  inputIds: new Array(n).fill(1),
  lossMask: new Array(n).fill(1),
  ...(rejected ? { rejected: { inputIds: new Array(rejected).fill(1), lossMask: new Array(rejected).fill(1) } } : {}),
});

describe('paddedRowCounts', () => {
  it('buckets each row by the length paddedLength gives it alone; a pair by its longer side', () => {
    const rows = [row(2), row(65), row(66), row(130), row(10, 200)];
    expect(paddedRowCounts(rows)).toEqual([2, 1, 1, 1]);
    for (const r of rows.slice(0, 4)) expect(paddedLength([r], 10_000)).toBe(64 * (paddedRowCounts([r]).length));
  });
});

describe('batchLengths', () => {
  const random = seededRandom(3);
  // A skewed dataset: most rows short, a few long, some past the sequence length.
  const rows = Array.from({ length: 400 }, () => row(2 + Math.floor(random() ** 3 * 700)));
  const seqLen = 512;

  it('peaks at the longest row, padded and cut at seqLen', () => {
    expect(batchLengths(paddedRowCounts(rows), seqLen, 4).peak).toBe(paddedLength(rows, seqLen));
    expect(batchLengths(paddedRowCounts(rows), 10_000, 4).peak).toBe(paddedLength(rows, 10_000));
  });

  it.each([1, 4, 16])('averages what shuffled batches of %i rows run, within 3%', (B) => {
    const { mean } = batchLengths(paddedRowCounts(rows), seqLen, B);
    let sum = 0;
    let batches = 0;
    const r = seededRandom(11);
    for (let epoch = 0; epoch < 200; epoch++) {
      const order = rows.map((x, i) => ({ x, k: r(), i })).sort((a, b) => a.k - b.k).map((o) => o.x);
      for (let i = 0; i + B <= order.length; i += B) {
        sum += paddedLength(order.slice(i, i + B), seqLen);
        batches++;
      }
    }
    expect(Math.abs(mean - sum / batches) / (sum / batches)).toBeLessThan(0.03);
    expect(mean).toBeLessThan(seqLen);
  });

  it('is seqLen throughout for packed rows, GRPO and KTO, and without counts', () => {
    const counts = paddedRowCounts(rows);
    expect(runBatchLengths(counts, { seqLen, batchSize: 4, packed: true })).toBeNull();
    expect(runBatchLengths(counts, { seqLen, batchSize: 4, packed: false, objective: 'grpo' })).toBeNull();
    expect(runBatchLengths(counts, { seqLen, batchSize: 4, packed: false, objective: 'kto' })).toBeNull();
    expect(runBatchLengths(undefined, { seqLen, batchSize: 4, packed: false })).toBeNull();
    expect(runBatchLengths(counts, { seqLen, batchSize: 4, packed: false, objective: 'dpo' })).toEqual(batchLengths(counts, seqLen, 4));
  });
});

describe('memoryPlan with short rows (SmolLM2-135M shape)', () => {
  const cfg = parseConfig(JSON.parse(readFileSync(new URL('../../../shared/tokenizers/smollm2/config.json', import.meta.url), 'utf8')));
  const base: PlanChoice = {
    config: cfg, precision: 'nf4', head: 'fp32', backend: 'wasm', rank: 8, targets: ['q_proj', 'v_proj'], batchSize: 16, seqLen: 1024, gradAccum: 1,
    recompute: 'auto', loss: 'fused', examples: 100, steps: 10,
  };

  it('takes memory and recomputation at the longest batch, time at the average one', () => {
    const short = memoryPlan({ ...base, rows: { peak: 256, mean: 128 } });
    const atPeak = memoryPlan({ ...base, seqLen: 256 });
    const atMean = memoryPlan({ ...base, seqLen: 128, recompute: atPeak.recomputeLayers });
    expect(short.rows).toEqual({ peak: 256, mean: 128 });
    expect(short.estimate.memory).toEqual(atPeak.estimate.memory);
    expect(short.recomputeLayers).toBe(atPeak.recomputeLayers);
    expect(short.estimate.secondsPerStep).toBeCloseTo(atMean.estimate.secondsPerStep, 9);
    expect(short.estimate.secondsTotal).toBeCloseTo(atMean.estimate.secondsTotal, 9);
    // Against full rows: less memory, less time.
    const full = memoryPlan(base);
    expect(short.estimate.memory.peakBackend).toBeLessThan(full.estimate.memory.peakBackend);
    expect(short.estimate.secondsPerStep).toBeLessThan(full.estimate.secondsPerStep / 4);
  });

  it('is the full-row plan when the rows fill the sequence length', () => {
    const full = memoryPlan(base);
    const same = memoryPlan({ ...base, rows: { peak: 1024, mean: 1024 } });
    expect(same.rows).toBeNull();
    expect(same.estimate).toEqual(full.estimate);
  });
});
