// Browser half of the benchmark: loads a model with the chosen frozen-base storage, trains LoRA
// (r 8 on q and v) with the project's Trainer on random tokens, and reports speed and memory.
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, type BackendName } from '../src/gpu/backend-choice';
import { WASM_URLS } from '../src/gpu/wasm-urls';
import { setNf4WordLoads } from '../src/gpu/nf4-matmul';
import { parseConfig, LINEAR_MODULES, linearShape, linearKey } from '../src/model/config';
import { loadModelWithReport, type LoadModelOptions } from '../src/model/load';
import { bufferSource, writeSafetensors, type TensorToWrite } from '../src/model/safetensors';
import { seededRandom } from '../src/util/random';
import { LoraAdapter } from '../src/train/lora';
import { DEFAULT_TRAIN, Trainer } from '../src/train/trainer';
import type { TokenizedExample } from '../src/train/batches';
import type { ModelFileSet } from '../src/model/files';

/** nf4-fused-elementwise: the fused kernel decoding B tiles one weight at a time (before word loads). */
export type Variant = 'fp32' | 'nf4-unfused' | 'nf4-fused' | 'nf4-fused-elementwise';

export interface BenchOptions {
  variant: Variant;
  backend: BackendName | 'auto';
  /** 'stories260K' (served at /model/) or a config.json object for a random-weight Llama. */
  model: 'stories260K' | Record<string, unknown>;
  batch: number;
  seqLen: number;
  steps: number;
  warmupSteps: number;
}

async function modelFiles(model: BenchOptions['model']): Promise<ModelFileSet> {
  if (model === 'stories260K') {
    const config = await (await fetch('/model/config.json')).json();
    const bytes = new Uint8Array(await (await fetch('/model/model.safetensors')).arrayBuffer());
    return { source: 'stories260K', config, tokenizerJson: {}, tokenizerConfig: {}, shards: [{ name: 'model.safetensors', bytes: bufferSource(bytes) }], fingerprint: '' };
  }
  // Random weights (std ~0.02) in a real safetensors file, so the same loader path is measured.
  const cfg = parseConfig(model);
  const random = seededRandom(1);
  const rand = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (2 * random() - 1) * scale;
    return a;
  };
  const t: TensorToWrite[] = [
    { name: 'model.embed_tokens.weight', shape: [cfg.vocabSize, cfg.hiddenSize], data: rand(cfg.vocabSize * cfg.hiddenSize, 0.035) },
    { name: 'model.norm.weight', shape: [cfg.hiddenSize], data: new Float32Array(cfg.hiddenSize).fill(1) },
  ];
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const n of ['input_layernorm', 'post_attention_layernorm']) {
      t.push({ name: `model.layers.${i}.${n}.weight`, shape: [cfg.hiddenSize], data: new Float32Array(cfg.hiddenSize).fill(1) });
    }
    for (const m of LINEAR_MODULES) {
      const { out, in: inF } = linearShape(cfg, m);
      t.push({ name: linearKey(i, m), shape: [out, inF], data: rand(out * inF, 0.035) });
    }
  }
  return { source: 'synthetic', config: model, tokenizerJson: {}, tokenizerConfig: {}, shards: [{ name: 'model.safetensors', bytes: bufferSource(writeSafetensors(t)) }], fingerprint: '' };
}

/** The app's own loader options per variant (no cache: every run quantizes). */
function loadOptionsFor(variant: Variant): LoadModelOptions {
  switch (variant) {
    case 'fp32':
      return { precision: 'fp32' };
    case 'nf4-unfused':
      return { precision: 'nf4', nf4Mode: 'unfused' };
    case 'nf4-fused':
    case 'nf4-fused-elementwise':
      return { precision: 'nf4' };
  }
}

async function runBench(o: BenchOptions) {
  const choice = await chooseBackend({ force: o.backend === 'auto' ? undefined : o.backend, wasmPaths: WASM_URLS });
  const files = await modelFiles(o.model);
  setNf4WordLoads(o.variant !== 'nf4-fused-elementwise');
  const { model, report } = await loadModelWithReport(files, loadOptionsFor(o.variant));
  const cfg = model.config;
  const random = seededRandom(7);
  const examples: TokenizedExample[] = Array.from({ length: o.batch * 4 }, () => ({
    inputIds: Array.from({ length: o.seqLen + 1 }, () => Math.floor(random() * cfg.vocabSize)),
    lossMask: new Array(o.seqLen + 1).fill(1),
  }));
  const spec = { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] as const, useRslora: false, baseModel: files.source };
  const adapter = LoraAdapter.create(cfg, { ...spec, targetModules: [...spec.targetModules] }, 1);
  const trainer = new Trainer(model, adapter, examples, {
    ...DEFAULT_TRAIN,
    steps: o.warmupSteps + o.steps + 1,
    batchSize: o.batch,
    seqLen: o.seqLen,
    warmupSteps: 0,
    schedule: 'constant',
    evalEvery: 0,
  });
  for (let i = 0; i < o.warmupSteps; i++) await trainer.trainStep(); // shader compilation, buffer pool
  const t0 = performance.now();
  let loss = NaN;
  for (let i = 0; i < o.steps; i++) loss = (await trainer.trainStep()).loss;
  const msPerStep = (performance.now() - t0) / o.steps;
  // One more step under the profiler for peak memory (kept out of the timing).
  const prof = await tf.profile(async () => {
    await trainer.trainStep();
  });
  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesInGPUAllocated?: number };
  const bytes = model.baseWeightBytes();
  const result = {
    variant: o.variant,
    backend: choice.backend,
    backend_reason: choice.reason,
    adapter: choice.adapterDescription,
    linear_path: report.linearPath,
    model: `${files.source} C${cfg.hiddenSize} L${cfg.numLayers} H${cfg.numHeads}/${cfg.numKvHeads} I${cfg.intermediateSize} V${cfg.vocabSize}`,
    batch: o.batch,
    seq_len: o.seqLen,
    steps: o.steps,
    tokens_per_s: Math.round(((o.batch * o.seqLen) / msPerStep) * 1000 * 10) / 10,
    ms_per_step: Math.round(msPerStep * 10) / 10,
    loss: Math.round(loss * 1e4) / 1e4,
    base_weight_bytes: bytes.linear + bytes.other,
    base_linear_bytes: bytes.linear,
    base_linear_fp32_bytes: report.memory.linearFp32Bytes,
    peak_gpu_bytes: prof.peakBytes,
    gpu_pool_bytes: mem.numBytesInGPUAllocated ?? null,
  };
  trainer.dispose();
  adapter.dispose();
  model.dispose();
  return result;
}

declare global {
  interface Window {
    runBench: typeof runBench;
  }
}
window.runBench = runBench;
document.getElementById('status')!.textContent = 'ready';
