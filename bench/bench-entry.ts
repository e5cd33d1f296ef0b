// Browser half of the benchmark: picks the backend the app would (or the forced one), builds the
// model files (stories260K served at /model/, or random weights of a config) and runs
// bench/scale-core.ts in the page, reporting one row per call.
import { attentionOnGpu, generateOnGpu, gpuEquality, gpuInfo, nf4TilesOnGpu } from './gpu-checks';
import { chooseBackend, type BackendName } from '../src/gpu/backend-choice';
import { WASM_URLS } from '../src/gpu/wasm-urls';
import { bufferSource } from '../src/model/safetensors';
import type { ModelFileSet } from '../src/model/files';
import type { LinearModule } from '../src/model/config';
import type { RecomputeSetting } from '../src/train/settings';
import { runScaleBench, type Variant } from './scale-core';
import { syntheticModelFiles } from './synthetic-model';
import { loadModelWithReport } from '../src/model/load';
import { generate } from '../src/model/generate';
import { SpeedMeter, tokenRates } from '../src/model/generation-speed';

export type { Variant } from './scale-core';

export interface BenchOptions {
  variant: Variant;
  backend: BackendName | 'auto';
  /** 'stories260K' (served at /model/) or a config.json object for a random-weight model. */
  model: 'stories260K' | Record<string, unknown>;
  /** Name for the rows (smollm2-135m, synthetic, ...). */
  modelName: string;
  batch: number;
  seqLen: number;
  /** Tokens per example (at most seqLen; default seqLen): shorter rows are padded per batch. */
  rowTokens?: number;
  steps: number;
  warmupSteps: number;
  targets: LinearModule[];
  /** wasm threads: 'auto' (half the cores when cross-origin isolated) or a count. */
  threads: 'auto' | number;
  /** WebGPU: fused norm / rope / gate / softmax kernels (default true) or tf ops, for before/after rows. */
  fusedOps?: boolean;
  /** wasm: the studio's GEMM (default true) or tfjs-wasm's own matrix products, for before/after rows. */
  gemm?: boolean;
  /** Layers recomputed, replacing the variant's setting: 'auto' (the memory plan), 'on', 'off' or a count. */
  recompute?: RecomputeSetting;
}

async function modelFiles(o: BenchOptions): Promise<ModelFileSet> {
  if (o.model === 'stories260K') {
    const config = await (await fetch('/model/config.json')).json();
    const bytes = new Uint8Array(await (await fetch('/model/model.safetensors')).arrayBuffer());
    return { source: 'stories260K', config, tokenizerJson: {}, tokenizerConfig: {}, shards: [{ name: 'model.safetensors', bytes: bufferSource(bytes) }], fingerprint: '' };
  }
  return syntheticModelFiles(o.model, o.modelName);
}

async function runBench(o: BenchOptions) {
  const choice = await chooseBackend({ force: o.backend === 'auto' ? undefined : o.backend, wasmPaths: WASM_URLS, wasmThreads: o.threads });
  const row = await runScaleBench(await modelFiles(o), o, choice.threads ?? null);
  return { ...row, backend_reason: choice.reason, adapter: choice.adapterDescription, cross_origin_isolated: choice.crossOriginIsolated ?? false };
}

/** Generation speed on WebGPU (bench:gpu) for the bench's model. */
async function runGpuGenerate(o: { model: BenchOptions['model']; modelName: string; precision: 'fp32' | 'nf4'; promptTokens: number; newTokens: number }) {
  const files = await modelFiles({ ...(o as unknown as BenchOptions), model: o.model, modelName: o.modelName });
  return generateOnGpu(files, o.precision, o.promptTokens, o.newTokens);
}

/**
 * Generation on the page's wasm backend (the threaded build, as the app runs it): prefill and
 * decode rates per repeat, and whether every repeat produced the same tokens.
 */
async function runPageGenerate(o: { model: BenchOptions['model']; modelName: string; precision: 'fp32' | 'nf4'; promptTokens: number; newTokens: number; repeats: number }) {
  const choice = await chooseBackend({ force: 'wasm', wasmPaths: WASM_URLS });
  const files = await modelFiles({ ...(o as unknown as BenchOptions), model: o.model, modelName: o.modelName });
  const { model } = await loadModelWithReport(files, { precision: o.precision, headPrecision: o.precision === 'nf4' ? 'int8' : 'fp32' });
  const rows = [];
  try {
    const prompt = Array.from({ length: o.promptTokens }, (_, i) => 1 + ((i * 7919) % (model.config.vocabSize - 1)));
    await generate(model, prompt, { maxNewTokens: 4, stopIds: [] }); // warm-up
    let first: number[] | null = null;
    for (let r = 0; r < o.repeats; r++) {
      const meter = new SpeedMeter(prompt.length);
      const ids = await generate(model, prompt, { maxNewTokens: o.newTokens, stopIds: [], onToken: () => meter.token() });
      first ??= ids;
      rows.push({ bench: 'generate', engine: 'studio', runtime: 'chromium', backend: 'wasm', threads: choice.threads ?? 1, base: o.precision, model: o.modelName, prompt_tokens: o.promptTokens, new_tokens: o.newTokens, ...tokenRates(meter.result()), same_tokens: JSON.stringify(ids) === JSON.stringify(first) });
    }
  } finally {
    model.dispose();
  }
  return rows;
}

/** Attention variants on WebGPU (bench:gpu) at the bench model's heads. */
async function runGpuAttention(o: { model: BenchOptions['model']; modelName: string; T: number }) {
  const files = await modelFiles({ ...(o as unknown as BenchOptions), model: o.model, modelName: o.modelName });
  return attentionOnGpu(files, o.T);
}

/** The NF4 kernel's tiles against dequantize-then-matmul on WebGPU (bench:gpu) at the bench model's MLP projection. */
async function runGpuNf4Tiles(o: { model: BenchOptions['model']; modelName: string; rows: number }) {
  const files = await modelFiles({ ...(o as unknown as BenchOptions), model: o.model, modelName: o.modelName });
  return nf4TilesOnGpu(files, o.rows);
}

declare global {
  interface Window {
    runBench: typeof runBench;
    gpuInfo: typeof gpuInfo;
    runGpuGenerate: typeof runGpuGenerate;
    runPageGenerate: typeof runPageGenerate;
    runGpuAttention: typeof runGpuAttention;
    runGpuNf4Tiles: typeof runGpuNf4Tiles;
    gpuEquality: typeof gpuEquality;
  }
}
window.runBench = runBench;
window.gpuInfo = gpuInfo;
window.runGpuGenerate = runGpuGenerate;
window.runPageGenerate = runPageGenerate;
window.runGpuAttention = runGpuAttention;
window.runGpuNf4Tiles = runGpuNf4Tiles;
window.gpuEquality = gpuEquality;
document.getElementById('status')!.textContent = 'ready';
