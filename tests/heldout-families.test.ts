// Evaluate's held-out loss (the head fused with the loss, in chunks) against the plain masked loss
// over the whole [N, V] logits, on every family and stories260K, with and without an adapter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { heldOutLoss } from '../src/eval/heldout';
import { lossBatches, type TokenizedExample } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { LoraAdapter } from '../src/train/lora';
import { LINEAR_MODULES } from '../src/model/config';
import type { LlamaModel, LoraHook } from '../src/model/llama';
import { seededRandom } from '../src/util/random';
import { FAMILY_MODELS, modelDir } from './families-fixture';
import { packExamples } from '../src/data/packing';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

function plainLoss(model: LlamaModel, lora: LoraHook | null, examples: TokenizedExample[], T: number): number {
  let weighted = 0;
  let tokens = 0;
  for (const b of lossBatches(examples, T, 2)) {
    const l = tf.tidy(() => maskedCrossEntropy(model.forward(tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32'), { lora }), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)));
    weighted += l.dataSync()[0] * b.tokens;
    tokens += b.tokens;
    l.dispose();
  }
  return weighted / tokens;
}

describe('held-out loss', () => {
  it.each([...FAMILY_MODELS, 'stories260K'])('%s: equals the plain masked loss over all logits', async (name) => {
    const model = await loadModel(await openModelFiles(name === 'stories260K' ? '../shared/models/stories260K' : modelDir(name)));
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: name }, 3);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 5));
    const r = seededRandom(4);
    const examples = Array.from({ length: 5 }, (_, i) => {
      const inputIds = Array.from({ length: 10 + 7 * i }, () => 1 + Math.floor(r() * (model.config.vocabSize - 1)));
      return { inputIds, lossMask: inputIds.map((_, t) => (t < 3 ? 0 : 1)) };
    });
    for (const lora of [null, adapter]) {
      const got = await heldOutLoss(model, lora, examples, 32, 2);
      expect(Math.abs(got.loss - plainLoss(model, lora, examples, 32)) / got.loss).toBeLessThan(1e-5);
    }
    model.dispose();
    adapter.dispose();
  });
});

it('packed examples: each attends only within itself, so packing does not change the loss', async () => {
  const model = await loadModel(await openModelFiles('../shared/models/stories260K'));
  const r = seededRandom(9);
  const examples = Array.from({ length: 6 }, (_, i) => {
    const inputIds = Array.from({ length: 8 + 3 * i }, () => 1 + Math.floor(r() * (model.config.vocabSize - 1)));
    return { inputIds, lossMask: inputIds.map((_, t) => (t === 0 ? 0 : 1)) };
  });
  const plain = await heldOutLoss(model, null, examples, 64, 2);
  const packed = await heldOutLoss(model, null, packExamples(examples, 65), 64, 2);
  expect(packed.tokens).toBe(plain.tokens);
  expect(Math.abs(packed.loss - plain.loss) / plain.loss).toBeLessThan(1e-5);
  model.dispose();
});
