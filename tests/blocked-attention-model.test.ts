// The decoder with blocked attention (forced on, blocks of 4 queries x 8 keys so every sequence
// spans several) gives the same loss and LoRA gradients as with the dense attention core, within
// 1e-5 relative, for every family (Gemma 3's sliding windows, with soft-capping switched on;
// GQA everywhere; Qwen2's biases; Qwen3's q/k norms), for packed rows, with and without layer
// recomputation; and a whole training step's loss and gradients on wasm with blocked attention
// equal the cpu backend's with dense attention.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { LINEAR_MODULES } from '../src/model/config';
import { setBlockedAttention } from '../src/model/blocked-attention';
import type { LoraSpec } from '../src/adapters/lora-types';
import { seededRandom } from '../src/util/random';
import { FAMILY_MODELS, modelDir } from './families-fixture';
import { maxRelativeError } from '../src/util/compare';

const SPEC: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: 'tiny' };
const T = 24; // past Gemma 3's window of 12
const SMALL_BLOCKS = { query: 4, key: 8 };

function examples(V: number, packed: boolean): TokenizedExample[] {
  const r = seededRandom(5);
  return [0, 1].map((row) => {
    const inputIds = Array.from({ length: T + 1 }, () => 1 + Math.floor(r() * (V - 1)));
    const cut = row === 0 ? 9 : 15; // two examples per packed row
    return {
      inputIds,
      lossMask: inputIds.map(() => 1),
      ...(packed ? { positions: inputIds.map((_, t) => (t < cut ? t : t - cut)), segments: inputIds.map((_, t) => (t < cut ? 0 : 1)) } : {}),
    };
  });
}

/** Max |a - b| over max |b| (NaN or Infinity, so never under a bound, when b is all zeros). */
async function relErr(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  return maxRelativeError(await a.data(), await b.data());
}

beforeAll(async () => {
  await initNodeBackend('wasm');
});
afterEach(() => setBlockedAttention(null));

describe.each(FAMILY_MODELS)('%s with blocked attention', (name) => {
  it.each([
    { packed: false, recompute: false },
    { packed: true, recompute: false },
    { packed: false, recompute: true },
  ])('loss and LoRA gradients equal the dense core (packed $packed, recompute $recompute)', async ({ packed, recompute }) => {
    const files = await openModelFiles(modelDir(name));
    const config = name === 'tiny-gemma3' ? { ...(files.config as object), attn_logit_softcapping: 2.0 } : files.config;
    const model = await loadModel({ ...files, config });
    const adapter = LoraAdapter.create(model.config, SPEC, 7);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    const ex = examples(model.config.vocabSize, packed);
    const trainer = new Trainer(model, adapter, ex, { ...DEFAULT_TRAIN, steps: 1, batchSize: 2, seqLen: T, recompute: 'off' });
    const batch = makeBatch(ex, T);
    setBlockedAttention(false);
    const dense = trainer.batchGradients(batch, recompute);
    setBlockedAttention(true, SMALL_BLOCKS);
    const before = tf.memory().numTensors;
    const blocked = trainer.batchGradients(batch, recompute);
    expect(tf.memory().numTensors).toBe(before + 1 + blocked.grads.length);
    expect(await relErr(blocked.value, dense.value)).toBeLessThan(1e-5);
    for (let i = 0; i < dense.grads.length; i++) expect(await relErr(blocked.grads[i], dense.grads[i]), adapter.variables()[i].name).toBeLessThan(1e-5);
    tf.dispose([dense.value, blocked.value, ...dense.grads, ...blocked.grads]);
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  });
});

describe('the automatic choice', () => {
  it('keeps the dense core (and its mask) for short sequences and takes blocked attention from 512 x 512 scores on', async () => {
    const model = await loadModel(await openModelFiles(modelDir('tiny-gemma3')));
    const masks = (T: number, past = 0) => tf.tidy(() => {
      const ctx = model.layerContext(1, T, past ? { prefix: { length: past, kv: () => { throw new Error('unused'); } } } : {});
      return Object.keys(ctx.mask).length;
    });
    expect(masks(64)).toBe(2); // full and sliding layers
    expect(masks(511)).toBe(2);
    expect(masks(512)).toBe(0);
    expect(masks(256, 768)).toBe(0); // 256 queries over 1,024 keys
    model.dispose();
  });
});

describe('a training step', () => {
  // Gradients rather than weights after AdamW: its first step is lr x sign(g) wherever |g| >> eps,
  // so weights would compare the sign of gradients that are float noise (dense wasm vs cpu differs there too).
  it('on wasm with blocked attention has the loss and gradients of the cpu backend with dense attention', async () => {
    const stepOn = async (backend: 'wasm' | 'cpu', blocked: boolean) => {
      await tf.setBackend(backend);
      setBlockedAttention(blocked, SMALL_BLOCKS);
      const files = await openModelFiles(modelDir('tiny-gemma3'));
      const model = await loadModel(files);
      const adapter = LoraAdapter.create(model.config, SPEC, 7);
      for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
      const ex = examples(model.config.vocabSize, true);
      const trainer = new Trainer(model, adapter, ex, { ...DEFAULT_TRAIN, steps: 1, batchSize: 2, seqLen: T, recompute: 'on' });
      const { value, grads } = trainer.batchGradients(makeBatch(ex, T));
      const out = { loss: (await value.data())[0], grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)), names: adapter.variables().map((v) => v.name) };
      tf.dispose([value, ...grads]);
      trainer.dispose();
      adapter.dispose();
      model.dispose();
      return out;
    };
    const cpu = await stepOn('cpu', false);
    const wasm = await stepOn('wasm', true);
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    for (let i = 0; i < cpu.grads.length; i++) expect(await relErr(tf.tensor(wasm.grads[i]), tf.tensor(cpu.grads[i])), cpu.names[i]).toBeLessThan(1e-5);
  });
});
