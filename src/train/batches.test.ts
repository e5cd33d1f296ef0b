// Loss batches (no gradient): as many rows as are left, as long as the longest row, every target
// token of the padded batches kept with its weight; and on stories260K the held-out loss is the
// padded batches' loss (padding changes no loss, it only costs work).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { lossBatches, makeBatch, type TokenizedExample } from './batches';
import { loadStories } from '../../tests/stories-fixture';
import { heldOutLoss } from '../eval/heldout';
import { maskedCrossEntropy } from './loss';

const example = (n: number, first = 1): TokenizedExample => ({ inputIds: Array.from({ length: n }, (_, i) => first + i), lossMask: Array.from({ length: n }, (_, i) => (i === 0 ? 0 : 1)) });

describe('loss batches', () => {
  it('trims the last batch to its rows and every batch to its longest row, keeping every target', () => {
    const examples = [example(10), example(40), example(7), example(300), example(5)];
    const batches = lossBatches(examples, 256, 2);
    expect(batches.map((b) => [b.batchSize, b.seqLen])).toEqual([[2, 39], [2, 256], [1, 4]]);
    const padded = makeBatch([...examples, example(0)], 256);
    expect(batches.reduce((a, b) => a + b.tokens, 0)).toBe(padded.tokens);
    expect(Array.from(batches[0].targets.slice(39, 39 + 39))).toEqual(Array.from({ length: 39 }, (_, i) => i + 2)); // row 2 of batch 0
  });

  it('skips batches with nothing to score', () => {
    expect(lossBatches([example(1), { inputIds: [], lossMask: [] }], 64, 4)).toEqual([]);
  });

  it('on stories260K the held-out loss equals the loss of padded [B, T] batches', async () => {
    const { model } = await loadStories();
    const examples = [example(20, 5), example(33, 9), example(12, 40), example(49, 2), example(8, 70)];
    const trimmed = await heldOutLoss(model, null, examples, 48, 2);
    let weighted = 0;
    let tokens = 0;
    for (let i = 0; i < examples.length; i += 2) {
      const rows = examples.slice(i, i + 2);
      while (rows.length < 2) rows.push({ inputIds: [], lossMask: [] });
      const b = makeBatch(rows, 48);
      const l = tf.tidy(() => maskedCrossEntropy(model.forward(tf.tensor2d(b.inputs, [2, 48], 'int32')), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)));
      weighted += l.dataSync()[0] * b.tokens;
      tokens += b.tokens;
      l.dispose();
    }
    expect(trimmed.tokens).toBe(tokens);
    expect(trimmed.loss).toBeCloseTo(weighted / tokens, 5);
    model.dispose();
  });
});
