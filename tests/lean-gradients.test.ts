// The training step's own backward (src/train/lean-gradients.ts) against tfjs's: the same loss and
// gradients on every family (LoRA on every linear, dropout, some layers recomputed), nothing left
// behind, a far lower heap peak, and a layer keeps what the estimate's per-token sum says it keeps
// (src/train/estimate.ts savedFloatsPerToken), measured in real heap bytes.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import type { LlamaModel } from '../src/model/llama';
import { LINEAR_MODULES, type LinearModule } from '../src/model/config';
import { LoraAdapter } from '../src/train/lora';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { sftLossFn } from '../src/train/objectives/sft';
import { leanVariableGrads } from '../src/train/lean-gradients';
import { savedFloatsPerToken } from '../src/train/estimate';
import { resetWasmHeapPeak, wasmHeapStats } from '../src/gpu/wasm-heap-guard';
import { seededRandom } from '../src/util/random';
import { syntheticModelFiles } from '../bench/synthetic-model';
import { FAMILY_MODELS, modelDir } from './families-fixture';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

function rows(n: number, T: number, vocab: number, seed: number): TokenizedExample[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const inputIds = Array.from({ length: T + 1 }, () => 1 + Math.floor(r() * (vocab - 1)));
    return { inputIds, lossMask: inputIds.map(() => 1) };
  });
}

function lossOf(model: LlamaModel, adapter: LoraAdapter, ex: TokenizedExample[], T: number, recompute: number) {
  const ctx = { model, adapter, settings: { ...DEFAULT_TRAIN, batchSize: ex.length, seqLen: T, loss: 'fused' as const }, recompute, step: () => 0 };
  return sftLossFn(ctx, makeBatch(ex, T), recompute);
}

describe('lean gradients', () => {
  it.each([...FAMILY_MODELS, 'stories260K'])('%s: equal tf.variableGrads (LoRA on every linear, dropout, one layer recomputed) and leave nothing behind', async (name) => {
    const model = await loadModel(await openModelFiles(name === 'stories260K' ? '../shared/models/stories260K' : modelDir(name)));
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0.1, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: name }, 3);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 5));
    const ex = rows(2, 24, model.config.vocabSize, 1);
    const vars = adapter.variables();
    const run = (lean: boolean) => {
      const { f, shared } = lossOf(model, adapter, ex, 24, 1);
      adapter.setDropoutSeed(17); // the same masks in both passes
      const out = lean ? leanVariableGrads(f, vars) : tf.variableGrads(f, vars);
      tf.dispose(shared);
      return out;
    };
    run(true).value.dispose(); // warm the rope cache, which stays between calls
    const before = tf.memory().numTensors;
    const want = run(false);
    const got = run(true);
    expect(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0])).toBeLessThan(1e-6);
    for (const v of vars) {
      const a = got.grads[v.name].dataSync();
      const b = want.grads[v.name].dataSync();
      let err = 0;
      let ref = 0;
      b.forEach((t, j) => { err = Math.max(err, Math.abs(a[j] - t)); ref = Math.max(ref, Math.abs(t)); });
      expect(ref, v.name).toBeGreaterThan(0);
      expect(err / ref, v.name).toBeLessThan(1e-6);
    }
    tf.dispose([want.value, got.value, ...Object.values(want.grads), ...Object.values(got.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    adapter.dispose();
    model.dispose();
  });

  it('peaks at under half the heap tf.variableGrads takes for a stories260K step without recomputation', async () => {
    const model = await loadModel(await openModelFiles('../shared/models/stories260K'));
    const adapter = LoraAdapter.create(model.config, { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 's' }, 1);
    const ex = rows(8, 96, model.config.vocabSize, 2);
    const peak = (lean: boolean) => {
      const { f, shared } = lossOf(model, adapter, ex, 96, 0);
      resetWasmHeapPeak();
      const start = wasmHeapStats().inUse;
      const { value, grads } = lean ? leanVariableGrads(f, adapter.variables()) : tf.variableGrads(f, adapter.variables());
      const p = wasmHeapStats().peak - start;
      tf.dispose([value, ...Object.values(grads), ...shared]);
      return p;
    };
    peak(true);
    const tfPeak = peak(false);
    const leanPeak = peak(true);
    expect(leanPeak).toBeLessThan(0.5 * tfPeak);
    adapter.dispose();
    model.dispose();
  });

  it.each([
    { attention: 'dense', B: 2, T: 64, targets: ['q_proj', 'v_proj'] },
    { attention: 'dense', B: 2, T: 64, targets: [...LINEAR_MODULES] },
    { attention: 'blocked', B: 1, T: 512, targets: ['q_proj', 'v_proj'] },
  ] as const)('a layer keeps what the estimate says ($attention attention, $targets.length targets)', async ({ attention, B, T, targets }) => {
    const config = {
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 128, intermediate_size: 384, num_hidden_layers: 4, num_attention_heads: 4,
      num_key_value_heads: 2, vocab_size: 256, max_position_embeddings: 1024, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
    };
    const model = await loadModel(syntheticModelFiles(config));
    const L = model.config.numLayers;
    const C = model.config.hiddenSize;
    const adapter = LoraAdapter.create(model.config, { r: 8, alpha: 16, dropout: 0, targetModules: targets as readonly LinearModule[] as LinearModule[], useRslora: false, baseModel: 's' }, 1);
    const ex = rows(B, T, 256, 3);
    // What the forward leaves for the backward: L layers' saves, or with every layer recomputed L inputs.
    const keptAfterForward = (recompute: number) => {
      const { f, shared } = lossOf(model, adapter, ex, T, recompute);
      const start = wasmHeapStats().inUse;
      let kept = 0;
      const { value, grads } = leanVariableGrads(() => {
        const y = f();
        kept = wasmHeapStats().inUse - start; // the last layer's intermediates are freed already (layerForward's tidy)
        return y;
      }, adapter.variables());
      tf.dispose([value, ...Object.values(grads), ...shared]);
      return kept;
    };
    keptAfterForward(0);
    const perLayer = (keptAfterForward(0) - keptAfterForward(L)) / L + 4 * B * T * C;
    const formula = 4 * B * T * savedFloatsPerToken(model.config, targets, { rank: 8, blocked: attention === 'blocked', full: false });
    expect(perLayer / formula).toBeGreaterThan(0.9);
    expect(perLayer / formula).toBeLessThan(1.1);
    adapter.dispose();
    model.dispose();
  });
});
