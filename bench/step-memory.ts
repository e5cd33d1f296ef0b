// `npx tsx bench/step-memory.ts [B] [T] [layers] [recomputed] [lean|tf]`: the real wasm heap over
// one LoRA step (q+v, r=8) at SmolLM2-135M's shape (its config.json with random weights, NF4 base,
// int8 head, fused loss), in Node on one thread. Prints the bytes live at the forward's peak, at
// its end (what the layers keep for the backward) and at the backward's peak, over what was live
// before the step. Bytes are the allocations tfjs-wasm makes (src/gpu/wasm-heap-guard.ts counts
// them), not tfjs's own count, which counts a buffer once per tensor sharing it. `tf` runs
// tf.variableGrads instead of the studio's backward (src/train/lean-gradients.ts).
// Defaults: 4 256 30 0 lean. The estimate's saved-per-token sum was checked with it (estimate.ts).
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../cli/node-runtime';
import { syntheticModelFiles } from './synthetic-model';
import { loadModelWithReport } from '../src/model/load';
import { LoraAdapter } from '../src/train/lora';
import { sftLossFn } from '../src/train/objectives/sft';
import { makeBatch } from '../src/train/batches';
import { leanVariableGrads } from '../src/train/lean-gradients';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { resetWasmHeapPeak, wasmHeapStats } from '../src/gpu/wasm-heap-guard';

const [B, T, L, recompute] = [4, 256, 30, 0].map((d, i) => (process.argv[2 + i] !== undefined ? Number(process.argv[2 + i]) : d));
const lean = (process.argv[6] ?? 'lean') !== 'tf';
if (![B, T, L, recompute].every((n) => Number.isInteger(n) && n >= 0) || B < 1 || T < 1 || L < 1) {
  process.stderr.write('usage: npx tsx bench/step-memory.ts [B] [T] [layers] [recomputed layers] [lean|tf]\n');
  process.exit(1);
}
if ((await initNodeBackend('wasm')) !== 'wasm') throw new Error('bench/step-memory.ts needs the wasm backend');
const configJson = JSON.parse(readFileSync(new URL('../../shared/tokenizers/smollm2/config.json', import.meta.url), 'utf8'));
configJson.num_hidden_layers = L;
const { model } = await loadModelWithReport(syntheticModelFiles(configJson, 'smollm2-135m'), { precision: 'nf4', headPrecision: 'int8' });
const adapter = LoraAdapter.create(model.config, { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'smollm2-135m' }, 1);
const rows = Array.from({ length: B }, (_, r) => ({ inputIds: Array.from({ length: T + 1 }, (_, i) => (i * 7 + r * 13) % model.config.vocabSize), lossMask: new Array(T + 1).fill(1) }));
const ctx = { model, adapter, settings: { ...DEFAULT_TRAIN, batchSize: B, seqLen: T, loss: 'fused' as const }, recompute, step: () => 0 };
const { f, shared } = sftLossFn(ctx, makeBatch(rows, T), recompute);
resetWasmHeapPeak();
const start = wasmHeapStats().inUse;
let forwardPeak = 0;
let forwardEnd = 0;
const g = () => {
  const y = f();
  ({ peak: forwardPeak, inUse: forwardEnd } = wasmHeapStats());
  resetWasmHeapPeak();
  return y;
};
const { value, grads } = lean ? leanVariableGrads(g, adapter.variables()) : tf.variableGrads(g, adapter.variables());
const MB = (n: number) => Math.round((n - start) / 1e6);
console.log(JSON.stringify({
  batch: B, seq_len: T, layers: L, recomputed: recompute, backward: lean ? 'studio' : 'tf.variableGrads',
  forward_peak_mb: MB(forwardPeak), forward_end_mb: MB(forwardEnd), backward_peak_mb: MB(wasmHeapStats().peak), loss: Number(value.dataSync()[0].toFixed(4)),
}));
tf.dispose([value, ...Object.values(grads), ...shared]);
