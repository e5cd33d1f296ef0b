// Browser-side engine checks exposed on window.engineChecks for e2e/engine-backends.spec.ts: the
// loss and LoRA gradients of one stories260K batch on a given backend, so WebGPU can be compared
// with the cpu backend in the same browser.
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, type BackendName } from '../../src/gpu/backend-choice';
import { WASM_URLS } from '../../src/gpu/wasm-urls';
import { loadModelWithReport } from '../../src/model/load';
import { fetchModelFiles } from './served-model';
import { LoraAdapter } from '../../src/train/lora';
import { makeBatch } from '../../src/train/batches';
import { maskedCrossEntropy } from '../../src/train/loss';
import { Trainer } from '../../src/train/trainer';
import { DEFAULT_TRAIN } from '../../src/train/settings';
import { loadTokenizer } from '../../src/tokenizer/tokenizer';
import { generate } from '../../src/model/generate';
import { setSimdKernels, simdKernels } from '../../src/kernels/simd-kernels';
import { gemmMatMul, nf4Gemm } from '../../src/kernels/gemm';
import { gemmThreads } from '../../src/kernels/gemm-pool';
import { blockAbsmax, quantizeNf4 } from '../../src/model/nf4';


async function stepOn(backend: BackendName, modelUrl: string, precision: 'fp32' | 'nf4' = 'fp32'): Promise<{ backend: string; linearPath: string; loss: number; grads: Record<string, number[]>; recomputedGrads: Record<string, number[]>; trainLosses: number[] }> {
  await chooseBackend({ force: backend, wasmPaths: WASM_URLS });
  const files = await fetchModelFiles(modelUrl);
  const tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const { model, report } = await loadModelWithReport(files, { precision });
  const examples = ['Zed the purple dragon liked to fly.', 'Lily saw a big red ball in the park.'].map((t) => {
    const ids = [...tok.encode(t), 2];
    return { inputIds: ids, lossMask: ids.map((_, i) => (i ? 1 : 0)) };
  });
  const spec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] as const, useRslora: false, baseModel: 'x' };
  const adapter = LoraAdapter.create(model.config, { ...spec, targetModules: [...spec.targetModules] }, 3);
  tf.tidy(() => {
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomUniform(v.shape, -0.05, 0.05, 'float32', 11));
  });
  const batch = makeBatch(examples, 16);
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(tf.tensor2d(batch.inputs, [2, 16], 'int32'), { lora: adapter });
    return maskedCrossEntropy(logits, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
  }, adapter.variables());
  const out: Record<string, number[]> = {};
  for (const [name, g] of Object.entries(grads)) out[name.replace(/^lora\d+\./, '')] = Array.from(await g.data());
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  // The same gradients through the trainer with every layer recomputed (its backward skips down_proj's forward).
  const rcTrainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, batchSize: 2, seqLen: 16, loss: 'plain', recompute: 'on' });
  const rc = rcTrainer.batchGradients(batch, true);
  const recomputedGrads: Record<string, number[]> = {};
  for (const [i, v] of adapter.variables().entries()) recomputedGrads[v.name.replace(/^lora\d+\./, '')] = Array.from(await rc.grads[i].data());
  tf.dispose([rc.value, ...rc.grads]);
  rcTrainer.dispose();
  const trainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, steps: 3, batchSize: 2, seqLen: 16, learningRate: 1e-2, warmupSteps: 0 });
  const trainLosses: number[] = [];
  await trainer.run((r) => void trainLosses.push(r.loss));
  trainer.dispose();
  adapter.dispose();
  model.dispose();
  return { backend: tf.getBackend(), linearPath: report.linearPath, loss, grads: out, recomputedGrads, trainLosses };
}

/** Greedy ids on wasm with the SIMD kernels of src/kernels and without them (tfjs's path), and which kernel build loaded. */
async function generateOnWasm(modelUrl: string, precision: 'fp32' | 'nf4'): Promise<{ backend: string; variant: string | null; sharedHeap: boolean; withKernels: number[]; withoutKernels: number[] }> {
  await chooseBackend({ force: 'wasm', wasmPaths: WASM_URLS });
  const files = await fetchModelFiles(modelUrl);
  const { model } = await loadModelWithReport(files, { precision, headPrecision: precision === 'nf4' ? 'int8' : 'fp32' });
  const prompt = [1, 403, 407, 261, 378]; // "Once upon a time"
  const withKernels = await generate(model, prompt, { maxNewTokens: 24 });
  const k = simdKernels();
  const wasm = (tf.backend() as unknown as { wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } } }).wasm;
  const memory = wasm.wasmMemory ?? wasm.asm?.memory;
  setSimdKernels(false);
  const withoutKernels = await generate(model, prompt, { maxNewTokens: 24 });
  setSimdKernels(true);
  model.dispose();
  return { backend: tf.getBackend(), variant: k?.variant ?? null, sharedHeap: memory?.buffer instanceof SharedArrayBuffer, withKernels, withoutKernels };
}

/**
 * The GEMM on the threaded build: the same products on one thread (before the helpers are up) and
 * split over the helpers once they are, compared bit for bit; fp32 in each layout and NF4.
 */
async function gemmOnThreads(): Promise<{ threadsBefore: number; threadsAfter: number; identical: boolean[]; errors: string[] }> {
  await chooseBackend({ force: 'wasm', wasmPaths: WASM_URLS, wasmThreads: 2 });
  const k = simdKernels()!;
  const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
  const [M, N, K] = [96, 200, 300];
  const a = tf.tensor2d(rand(M * K, 1), [M, K]);
  const bt = tf.tensor2d(rand(N * K, 2), [N, K]);
  const q = quantizeNf4(rand(N * K, 3), N, K);
  const heap = { outFeatures: N, inFeatures: K, codes: tf.tensor1d(q.codes, 'int32'), absmax: tf.tensor1d(blockAbsmax(q), 'float32') };
  const dy = tf.tensor2d(rand(M * N, 4), [M, N]);
  const products = () => [gemmMatMul(k, a, bt, false, true), gemmMatMul(k, a, dy, true, false), nf4Gemm(k, a, heap, true), nf4Gemm(k, dy, heap, false)].map((t) => {
    const d = t.dataSync().slice();
    t.dispose();
    return d;
  });
  const threadsBefore = gemmThreads();
  const one = products(); // the pool starts here; its helpers report ready a moment later
  const errors: string[] = [];
  for (let i = 0; i < 100 && gemmThreads() < 2; i++) await new Promise((r) => setTimeout(r, 50));
  const threadsAfter = gemmThreads();
  const split = products();
  tf.dispose([a, bt, dy, heap.codes, heap.absmax]);
  return { threadsBefore, threadsAfter, identical: one.map((x, i) => x.length === split[i].length && x.every((v, j) => Object.is(v, split[i][j]))), errors };
}

(window as unknown as { engineChecks: unknown }).engineChecks = { stepOn, generateOnWasm, gemmOnThreads };
