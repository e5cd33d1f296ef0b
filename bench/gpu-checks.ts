// The page side of `npm run bench:gpu` (bench/gpu.ts), exposed by bench-entry.ts: which adapter
// WebGPU got, generation speed on it, the attention variants and the NF4 kernel's tiles timed as
// the page times them, and
// one LoRA step on it against the cpu backend.
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../src/gpu/backend-choice';
import { WASM_URLS } from '../src/gpu/wasm-urls';
import { isSoftwareAdapter, timedShape, timeNf4Variants } from '../src/gpu/variant-choice';
import { attentionTimedShape, timeAttentionVariants } from '../src/gpu/attention-choice';
import { parseConfig } from '../src/model/config';
import { loadModelWithReport } from '../src/model/load';
import { generate } from '../src/model/generate';
import { SpeedMeter, tokenRates } from '../src/model/generation-speed';
import { bufferSource } from '../src/model/safetensors';
import type { ModelFileSet } from '../src/model/files';
import { LoraAdapter } from '../src/train/lora';
import { makeBatch } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { seededRandom } from '../src/util/random';

export interface GpuInfo {
  backend: string;
  adapter: string | null;
  software: boolean;
  reason: string;
}

/** WebGPU forced on: the adapter it got, and whether that is a software rasterizer (never a GPU figure). */
export async function gpuInfo(): Promise<GpuInfo> {
  const choice = await chooseBackend({ force: 'webgpu', wasmPaths: WASM_URLS });
  const adapter = choice.adapterDescription ?? null;
  return { backend: tf.getBackend(), adapter, software: isSoftwareAdapter(adapter), reason: choice.reason };
}

/** The dense core and the flash kernels at three tile sizes, at the model's heads and T tokens (the page's choice measures T = 256). */
export async function attentionOnGpu(files: ModelFileSet, T: number) {
  const choice = await chooseBackend({ force: 'webgpu', wasmPaths: WASM_URLS });
  const shape = attentionTimedShape(parseConfig(files.config), T);
  const r = await timeAttentionVariants(shape, choice.adapterDescription ?? 'unknown adapter');
  return { shape, ms: r.ms, choice: r.choice };
}

/** The fused NF4 kernel at each output tile against dequantize-then-matmul, at the model's MLP projection and `rows` rows (the page times 512). */
export async function nf4TilesOnGpu(files: ModelFileSet, rows: number) {
  const choice = await chooseBackend({ force: 'webgpu', wasmPaths: WASM_URLS });
  const r = await timeNf4Variants(timedShape(parseConfig(files.config), rows), choice.adapterDescription ?? 'unknown adapter');
  return { shape: r.shape, fused_ms_by_tile: r.fusedMsByTile, unfused_ms: r.unfusedMs, choice: r.choice, tile: r.tile };
}

/** Tokens per second generating `newTokens` after a random prompt, on WebGPU, after one warm-up run. */
export async function generateOnGpu(files: ModelFileSet, precision: 'fp32' | 'nf4', promptTokens: number, newTokens: number) {
  await chooseBackend({ force: 'webgpu', wasmPaths: WASM_URLS });
  const { model } = await loadModelWithReport(files, { precision, headPrecision: precision === 'nf4' ? 'int8' : 'fp32' });
  try {
    const random = seededRandom(3);
    const prompt = Array.from({ length: promptTokens }, () => 1 + Math.floor(random() * (model.config.vocabSize - 1)));
    await generate(model, prompt, { maxNewTokens: 2, stopIds: [] }); // shaders compiled
    const meter = new SpeedMeter(prompt.length);
    await generate(model, prompt, { maxNewTokens: newTokens, stopIds: [], onToken: () => meter.token() });
    return { backend: tf.getBackend(), base: precision, prompt_tokens: promptTokens, new_tokens: newTokens, ...tokenRates(meter.result()) };
  } finally {
    model.dispose();
  }
}

/** stories260K's files served at /model/ (bench/run.ts copies them there). */
async function storiesFiles(): Promise<ModelFileSet> {
  const config = await (await fetch('/model/config.json')).json();
  const bytes = new Uint8Array(await (await fetch('/model/model.safetensors')).arrayBuffer());
  return { source: 'stories260K', config, tokenizerJson: {}, tokenizerConfig: {}, shards: [{ name: 'model.safetensors', bytes: bufferSource(bytes) }], fingerprint: '' };
}

/** Loss and LoRA gradients of one fixed batch on `backend` (stories260K, fp32 or NF4 base). */
async function lossAndGrads(backend: 'webgpu' | 'cpu', precision: 'fp32' | 'nf4'): Promise<{ loss: number; grads: Float32Array[] }> {
  await chooseBackend({ force: backend, wasmPaths: WASM_URLS });
  const { model } = await loadModelWithReport(await storiesFiles(), { precision });
  const spec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false, baseModel: 'stories260K' };
  const adapter = LoraAdapter.create(model.config, spec as never, 3);
  tf.tidy(() => {
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomUniform(v.shape, -0.05, 0.05, 'float32', 11));
  });
  const random = seededRandom(5);
  const examples = [0, 1].map(() => {
    const ids = Array.from({ length: 33 }, () => 1 + Math.floor(random() * 500));
    return { inputIds: ids, lossMask: ids.map((_, i) => (i ? 1 : 0)) };
  });
  const batch = makeBatch(examples, 32);
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(tf.tensor2d(batch.inputs, [2, 32], 'int32'), { lora: adapter });
    return maskedCrossEntropy(logits, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
  }, adapter.variables());
  const out = { loss: (await value.data())[0], grads: await Promise.all(adapter.variables().map(async (v) => (await grads[v.name].data()) as Float32Array)) };
  tf.dispose([value, ...Object.values(grads)]);
  adapter.dispose();
  model.dispose();
  return out;
}

/** One LoRA step's loss and gradients on WebGPU against the cpu backend, per base precision. */
export async function gpuEquality() {
  const rows = [];
  for (const precision of ['fp32', 'nf4'] as const) {
    const gpu = await lossAndGrads('webgpu', precision);
    const cpu = await lossAndGrads('cpu', precision);
    let num = 0;
    let den = 0;
    gpu.grads.forEach((g, i) => g.forEach((x, j) => ((num = Math.max(num, Math.abs(x - cpu.grads[i][j]))), (den = Math.max(den, Math.abs(cpu.grads[i][j]))))));
    const gradRel = num / den;
    const lossDiff = Math.abs(gpu.loss - cpu.loss);
    rows.push({ check: 'webgpu = cpu', model: 'stories260K', base: precision, loss_webgpu: gpu.loss, loss_cpu: cpu.loss, loss_abs_diff: lossDiff, lora_grad_max_rel_error: gradRel, pass: lossDiff < 1e-4 && gradRel < 1e-3 });
  }
  return rows;
}
