// The wasm heap guard: a failed allocation throws (tfjs-wasm alone writes the tensor at address 0),
// both at the heap's real limit and under a ceiling; a training step that runs out mid-way frees
// what it made, is recognised as out-of-memory, and the same trainer steps on once memory is back.
import * as tf from '@tensorflow/tfjs';
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { resetWasmHeapPeak, setWasmHeapCeiling, wasmHeapStats, WasmHeapExhaustedError } from './wasm-heap-guard';
import { isOutOfMemory } from '../train/out-of-memory';
import { loadStories, textExamples } from '../../tests/stories-fixture';
import { LoraAdapter } from '../train/lora';
import { Trainer } from '../train/trainer';
import { DEFAULT_TRAIN } from '../train/settings';
import type { LlamaModel } from '../model/llama';
import type { TextTokenizer } from '../tokenizer/tokenizer';

interface WasmInternals {
  makeOutput(shape: number[], dtype: tf.DataType): { dataId: object };
  disposeData(dataId: object): boolean;
}

let model: LlamaModel;
let tokenizer: TextTokenizer;
beforeAll(async () => {
  ({ model, tokenizer } = await loadStories()); // wasm backend, guarded
});
afterEach(() => setWasmHeapCeiling(null));

describe('wasm heap guard', () => {
  it('throws at the real limit instead of handing tfjs address 0, and the backend computes on afterwards', async () => {
    const backend = tf.backend() as unknown as WasmInternals;
    const held: object[] = [];
    let error: unknown = null;
    try {
      for (let i = 0; i < 8; i++) held.push(backend.makeOutput([256 * 1024 * 1024], 'float32').dataId); // 1 GiB each, never touched
    } catch (e) {
      error = e;
    }
    for (const d of held) backend.disposeData(d);
    expect(error).toBeInstanceOf(WasmHeapExhaustedError);
    expect(isOutOfMemory(error)).toBe(true);
    expect((error as Error).message).toMatch(/could not be allocated/);
    expect(held.length).toBeGreaterThan(0);
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = tf.matMul(x, x);
    expect(Array.from(await y.data())).toEqual([7, 10, 15, 22]);
    tf.dispose([x, y]);
  });

  it.each(['off', 'on'] as const)('a training step that runs out part-way frees its tensors; the trainer steps on when memory is back (recompute %s)', async (recompute) => {
    const examples = textExamples(tokenizer, ['Zed the purple dragon liked to fly.', 'Lily found a shiny red ball.', 'The cat sat on the mat.', 'Tom ate a big cake.']);
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' }, 1);
    const trainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, steps: 6, batchSize: 4, seqLen: 16, warmupSteps: 0, evalEvery: 0, recompute });
    await trainer.trainStep();
    resetWasmHeapPeak();
    const first = await trainer.trainStep();
    const { inUse, peak } = wasmHeapStats(); // the guard's own counts: what the ceiling compares
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    // Out of memory early in the forward, and late (most of the step's peak already allocated).
    for (const headroom of [64 * 1024, Math.floor((peak - inUse) * 0.8)]) {
      setWasmHeapCeiling(inUse + headroom);
      await expect(trainer.trainStep()).rejects.toSatisfy((e: unknown) => e instanceof WasmHeapExhaustedError && isOutOfMemory(e));
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.memory().numBytes).toBe(bytes);
    }
    setWasmHeapCeiling(null);
    const next = await trainer.trainStep();
    expect(next.step).toBe(first.step + 1);
    expect(Number.isFinite(next.loss)).toBe(true);
    expect(trainer.recompute).toBe(recompute === 'on');
    trainer.dispose();
    adapter.dispose();
  });
});
