// The memory-saving training paths give the gradients of the plain one on the real stories260K
// model (wasm): layer recomputation on vs off, the fused chunked loss vs full logits, with LoRA on
// every linear layer, non-zero B, dropout (replayed masks) and packed rows; and neither leaks tensors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import { makeBatch, type Batch, type TokenizedExample } from '../src/train/batches';
import { packExamples } from '../src/data/packing';
import { LINEAR_MODULES } from '../src/model/config';
import { loadStories, textExamples } from './stories-fixture';

const TEXTS = ['Zed the purple dragon liked to fly.', 'Lily found a shiny red ball in the park.', 'The cat sat on the mat and sang.', 'Tom ate a big cake.'];

describe('memory-saving paths on stories260K', () => {
  let model: LlamaModel;
  let examples: TokenizedExample[];
  beforeAll(async () => {
    const s = await loadStories();
    model = s.model;
    examples = textExamples(s.tokenizer, TEXTS);
  });

  async function grads(adapter: LoraAdapter, b: Batch, settings: Partial<TrainSettings>, recompute: boolean): Promise<{ loss: number; g: Float32Array[] }> {
    const t = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, ...settings });
    adapter.training = true;
    adapter.setDropoutSeed(11);
    const r = t.batchGradients(b, recompute);
    adapter.training = false;
    const out = { loss: (await r.value.data())[0], g: await Promise.all(r.grads.map(async (x) => (await x.data()) as Float32Array)) };
    tf.dispose([r.value, ...r.grads]);
    t.dispose();
    return out;
  }

  function maxRel(a: Float32Array[], b: Float32Array[]): number {
    let err = 0;
    let ref = 0;
    a.forEach((x, i) => x.forEach((v, j) => { err = Math.max(err, Math.abs(v - b[i][j])); ref = Math.max(ref, Math.abs(b[i][j])); }));
    return err / ref;
  }

  it.each([
    { name: 'padded rows', packed: false },
    { name: 'packed rows', packed: true },
  ])('recompute on = off, and fused loss = plain loss, within 1e-5 ($name)', async ({ packed }) => {
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0.1, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: 'stories260K' }, 3);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 5));
    const b = packed ? makeBatch(packExamples(examples, 40), 40) : makeBatch(examples, 24);
    if (packed) expect(b.packing).toBeDefined();
    const plain = await grads(adapter, b, { loss: 'plain' }, false); // also fills the model's rope cache for T
    const n0 = tf.memory().numTensors; // trainers, their optimizers and each batch's tensors all freed
    const fused = await grads(adapter, b, { loss: 'fused' }, false);
    const rc = await grads(adapter, b, { loss: 'fused' }, true);
    expect(tf.memory().numTensors).toBe(n0);
    expect(plain.g.length).toBe(2 * LINEAR_MODULES.length * model.config.numLayers);
    expect(Math.abs(fused.loss - plain.loss) / plain.loss).toBeLessThan(1e-5);
    expect(maxRel(fused.g, plain.g)).toBeLessThan(1e-5);
    expect(rc.loss).toBe(fused.loss);
    expect(maxRel(rc.g, fused.g)).toBeLessThan(1e-5);
    // Dropout is live: other masks give other gradients, so the equality above means masks were replayed.
    const t = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN });
    adapter.training = true;
    adapter.setDropoutSeed(99);
    const other = t.batchGradients(b, false);
    adapter.training = false;
    const og = await Promise.all(other.grads.map(async (x) => (await x.data()) as Float32Array));
    tf.dispose([other.value, ...other.grads]);
    t.dispose();
    expect(maxRel(og, fused.g)).toBeGreaterThan(1e-3);
    adapter.dispose();
  });
});
