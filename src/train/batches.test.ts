// Loss batches (no gradient): as many rows as are left, as long as the longest row, every target
// token of the padded batches kept with its weight; and on stories260K the held-out loss is the
// padded batches' loss (padding changes no loss, it only costs work). Training batches: as long as
// their longest row rounded up to 64, at most seqLen, and a LoRA step's loss and gradients at that
// length equal those at seqLen.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { lossBatches, makeBatch, paddedLength, PAD_MULTIPLE, type TokenizedExample } from './batches';
import { pairBatch } from './dpo';
import { LoraAdapter } from './lora';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN } from './settings';
import { maxRelativeError } from '../util/compare';
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

describe('training batches', () => {
  it('are as long as the longest row, rounded up to a multiple of 64, at most seqLen', () => {
    expect(PAD_MULTIPLE).toBe(64);
    expect(paddedLength([example(10), example(40)], 256)).toBe(64); // 39 predictions
    expect(paddedLength([example(65), example(3)], 256)).toBe(64); // exactly 64
    expect(paddedLength([example(66)], 256)).toBe(128);
    expect(paddedLength([example(300)], 256)).toBe(256); // cut at seqLen, as before
    expect(paddedLength([example(10)], 48)).toBe(48); // never past seqLen
    expect(paddedLength([{ inputIds: [], lossMask: [] }], 256)).toBe(64);
    // Packed rows are full: seqLen + 1 tokens.
    expect(paddedLength([{ ...example(257), positions: [], segments: [] }], 256)).toBe(256);
    // A preference batch: the longest of chosen and rejected answers.
    const pair = { ...example(20), rejected: example(90) };
    expect(pairBatch([pair, example(10)], 256).seqLen).toBe(128);
  });

  it('on stories260K a LoRA step at the trimmed length equals the step at seqLen', async () => {
    const { model } = await loadStories();
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false, baseModel: 'stories260K' }, 3);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 4));
    const rows = [example(20, 5), example(45, 9), example(12, 40)];
    const trainer = new Trainer(model, adapter, rows, { ...DEFAULT_TRAIN, steps: 1, batchSize: 3, seqLen: 200, recompute: 'off' });
    const T = paddedLength(rows, 200);
    expect(T).toBe(64);
    const full = trainer.batchGradients(makeBatch(rows, 200), 0);
    const trimmed = trainer.batchGradients(makeBatch(rows, T), 0);
    expect(maxRelativeError(await trimmed.value.data(), await full.value.data())).toBeLessThan(1e-6);
    for (let i = 0; i < full.grads.length; i++) expect(maxRelativeError(await trimmed.grads[i].data(), await full.grads[i].data()), adapter.variables()[i].name).toBeLessThan(1e-5);
    tf.dispose([full.value, trimmed.value, ...full.grads, ...trimmed.grads]);
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  });
});
