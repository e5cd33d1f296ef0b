// The attention choice's bookkeeping (the timing itself runs on WebGPU: e2e/flash-attention.spec.ts):
// the timed shape is the model's heads at 256 tokens, flash variants map to their tiles, long
// sequences get the fastest flash tiles even where dense won, and a measurement is made once per
// adapter and shape, then read from IndexedDB, in the same store as the NF4 choice.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { attentionChoiceKey, attentionTimedShape, attentionVariantFor, bestFlashTiles, flashTilesOf, type AttentionChoice, type AttentionShape } from './attention-choice';

const choice = (ms: AttentionChoice['ms'], shape: AttentionShape, adapter: string): AttentionChoice => {
  const best = (Object.keys(ms) as AttentionChoice['choice'][]).reduce((a, v) => (ms[v] < ms[a] ? v : a));
  return { choice: best, ms, shape, adapter, software: false, measuredAt: 1, cached: false };
};

describe('attention choice by measurement', () => {
  it('times one layer of the model at 256 tokens', () => {
    expect(attentionTimedShape({ numHeads: 9, numKvHeads: 3, headDim: 64 })).toEqual({ K: 3, G: 3, T: 256, D: 64 });
  });

  it('maps variants to square tiles; long sequences take the fastest flash tiles even where dense won', () => {
    expect(flashTilesOf('dense')).toBeNull();
    expect(flashTilesOf('flash-64')).toEqual({ queryTile: 64, keyTile: 64 });
    const shape = { K: 1, G: 1, T: 256, D: 8 };
    const c = choice({ dense: 1, 'flash-16': 5, 'flash-32': 3, 'flash-64': 4 }, shape, 'gpu');
    expect(c.choice).toBe('dense');
    expect(bestFlashTiles(c)).toEqual({ queryTile: 32, keyTile: 32 });
  });

  it('measures once per adapter and shape; later loads read the choice back', async () => {
    const calls: string[] = [];
    const measure = async (shape: AttentionShape, adapter: string) => {
      calls.push(attentionChoiceKey(adapter, shape));
      return choice(adapter === 'gpu A' ? { dense: 9, 'flash-16': 2, 'flash-32': 3, 'flash-64': 4 } : { dense: 1, 'flash-16': 2, 'flash-32': 3, 'flash-64': 4 }, shape, adapter);
    };
    const shape = { K: 3, G: 3, T: 256, D: 64 };
    expect(await attentionVariantFor('gpu A', shape, measure)).toMatchObject({ choice: 'flash-16', cached: false });
    expect(await attentionVariantFor('gpu A', shape, measure)).toMatchObject({ choice: 'flash-16', cached: true, ms: { dense: 9 } });
    expect(await attentionVariantFor('gpu B', shape, measure)).toMatchObject({ choice: 'dense', cached: false });
    expect(await attentionVariantFor('gpu A', { ...shape, D: 32 }, measure)).toMatchObject({ cached: false });
    expect(calls).toEqual(['attention:gpu A:3x3x256x64', 'attention:gpu B:3x3x256x64', 'attention:gpu A:3x3x256x32']);
  });
});
