// The benchmark itself, without a page: loads a model with the chosen frozen-base storage, trains
// LoRA with the project's Trainer on random tokens, and reports speed and memory. bench-entry.ts
// runs it in Chromium (the product's path), bench/run.ts `--runtime node` runs it in Node.
//
// Variants (one row each):
//   fp32 | nf4-unfused | nf4-fused | nf4-fused-elementwise   base storage, today's defaults otherwise
//   naive       NF4 base, fp32 table, plain full-logits loss, no recomputation, tfjs's batched
//               attention products (the old path)
//   fused       as naive with the chunked loss fused with the head
//   recompute   fused + per-layer recomputation
//   scaled      recompute + int8 token table / head (the configuration for real model sizes)
//   scaled-full-recompute   scaled, but each recomputed layer runs its whole forward again in the
//               backward (before LlamaModel.layerVjp skipped the last product)
// fusedOps (all variants): false runs the decoder's norms, rope, gate and attention softmax as tf ops
// on WebGPU too (the path before src/gpu/fused-ops.ts); no effect off WebGPU.
import { setGemmKernel } from '../src/kernels/gemm';
import { gemmPoolState, gemmThreads, gemmTotals, resetGemmTotals } from '../src/kernels/gemm-pool';
import * as tf from '@tensorflow/tfjs';
import { setNf4WordLoads } from '../src/gpu/nf4-matmul';
import { setFusedAttention } from '../src/model/attention-core';
import { setFusedOps } from '../src/model/fused';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { loadModelWithReport, type LoadModelOptions } from '../src/model/load';
import { seededRandom } from '../src/util/random';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN, type RecomputeSetting, type TrainSettings } from '../src/train/settings';
import { setRecomputeSkipsLastProduct } from '../src/train/recompute';
import { resetWasmHeapPeak, wasmHeapStats } from '../src/gpu/wasm-heap-guard';
import { estimateTraining, type EstimateBackend } from '../src/train/estimate';
import { DEFAULT_FUSED_CE } from '../src/train/fused-cross-entropy';
import type { TokenizedExample } from '../src/train/batches';
import type { ModelFileSet } from '../src/model/files';
import type { LinearModule } from '../src/model/config';

export const VARIANTS = ['fp32', 'nf4-unfused', 'nf4-fused', 'nf4-fused-elementwise', 'naive', 'fused', 'recompute', 'scaled', 'scaled-full-recompute'] as const;
export type Variant = (typeof VARIANTS)[number];

interface VariantPlan {
  load: LoadModelOptions;
  settings: Pick<TrainSettings, 'loss' | 'recompute'>;
}

export function variantPlan(v: Variant): VariantPlan {
  const auto = { loss: 'fused', recompute: 'auto' } as const;
  switch (v) {
    case 'fp32': return { load: { precision: 'fp32' }, settings: auto };
    case 'nf4-unfused': return { load: { precision: 'nf4', nf4Mode: 'unfused' }, settings: auto };
    case 'nf4-fused':
    case 'nf4-fused-elementwise': return { load: { precision: 'nf4' }, settings: auto };
    case 'naive': return { load: { precision: 'nf4' }, settings: { loss: 'plain', recompute: 'off' } };
    case 'fused': return { load: { precision: 'nf4' }, settings: { loss: 'fused', recompute: 'off' } };
    case 'recompute': return { load: { precision: 'nf4' }, settings: { loss: 'fused', recompute: 'on' } };
    case 'scaled':
    case 'scaled-full-recompute': return { load: { precision: 'nf4', headPrecision: 'int8' }, settings: { loss: 'fused', recompute: 'on' } };
  }
}

export interface ScaleBenchOptions {
  variant: Variant;
  batch: number;
  seqLen: number;
  /** Tokens per example, at most seqLen (default seqLen). */
  rowTokens?: number;
  steps: number;
  warmupSteps: number;
  targets: LinearModule[];
  /** WebGPU: the fused WGSL norm / rope / gate / softmax kernels (default true), or tf ops. */
  fusedOps?: boolean;
  /** wasm: matrix products through the studio's GEMM (default true), or tfjs-wasm's own kernel. */
  gemm?: boolean;
  /** Layers recomputed, replacing the variant's setting ('auto': the memory plan's choice). */
  recompute?: RecomputeSetting;
}

export interface BenchRow {
  variant: Variant;
  backend: string;
  threads: number | null;
  linear_path: string;
  model: string;
  batch: number;
  seq_len: number;
  /** Tokens per example (shorter than seq_len: padded per batch, and tokens_per_s counts seq_len per row). */
  row_tokens: number;
  steps: number;
  tokens_per_s: number;
  ms_per_step: number;
  loss: number;
  recompute: boolean;
  /** Layers recomputed in the backward (the first n). */
  recompute_layers: number;
  chunked_loss: boolean;
  head: string;
  base_weight_bytes: number;
  base_linear_bytes: number;
  base_fp32_bytes: number;
  peak_backend_bytes: number;
  /** wasm only: the most bytes in the heap's live allocations during the profiled step (real buffers; peak_backend_bytes counts a buffer once per tensor sharing it). */
  peak_heap_in_use_bytes: number | null;
  /** wasm only: the size the wasm heap has grown to (it never shrinks), the memory the tab really holds for tensors. */
  wasm_heap_bytes: number | null;
  estimated_peak_backend_bytes: number;
  kernels_per_step: number;
  /** WebGPU only: GPU programs dispatched in the profiled step (kernels such as Reshape dispatch none; null elsewhere). */
  dispatches_per_step: number | null;
  /** WebGPU only: the profiled step's dispatches per program (the head of its shader key; top 10). */
  profile_dispatches: Record<string, number> | null;
  fused_ops: boolean;
  /** wasm: whose matrix products ran: 'studio' (src/kernels/gemm.ts) or 'tfjs'. */
  matmul: 'studio' | 'tfjs';
  /** Threads the studio's GEMM ran on at the end of the run (1 without a shared heap); null where it did not run (webgpu, --matmul tfjs). */
  gemm_threads: number | null;
  gemm_pool: string | null;
  /** The timed steps: wall milliseconds a step spent in the studio's GEMM (NF4 products included, which run outside tfjs's kernels), and its rate. */
  gemm_ms_per_step: number | null;
  gemm_gflop_per_s: number | null;
  load_ms: number;
  /** The profiled step: milliseconds per kernel name (top 10), and the wall time outside kernels. */
  profile_ms: Record<string, number>;
  /** The profiled step: kernels launched per kernel name (top 10). */
  profile_counts: Record<string, number>;
}

/** Runs one variant on the active backend; `threads` is reported as given. */
export async function runScaleBench(files: ModelFileSet, o: ScaleBenchOptions, threads: number | null): Promise<BenchRow> {
  const plan = variantPlan(o.variant);
  setNf4WordLoads(o.variant !== 'nf4-fused-elementwise');
  setFusedAttention(o.variant !== 'naive'); // naive: tfjs's attention ops and autograd (batched products: a scalar loop on wasm)
  setRecomputeSkipsLastProduct(o.variant !== 'scaled-full-recompute');
  setFusedOps(o.fusedOps ?? true);
  setGemmKernel(o.gemm ?? true);
  const t0 = performance.now();
  const { model, report } = await loadModelWithReport(files, plan.load);
  const loadMs = performance.now() - t0;
  const cfg = model.config;
  const random = seededRandom(7);
  const rowTokens = Math.min(o.rowTokens ?? o.seqLen, o.seqLen);
  const examples: TokenizedExample[] = Array.from({ length: o.batch * 4 }, () => ({
    inputIds: Array.from({ length: rowTokens + 1 }, () => Math.floor(random() * cfg.vocabSize)),
    lossMask: new Array(rowTokens + 1).fill(1),
  }));
  const adapter = LoraAdapter.create(cfg, { r: 8, alpha: 16, dropout: 0, targetModules: o.targets, useRslora: false, baseModel: files.source }, 1);
  const trainer = new Trainer(model, adapter, examples, {
    ...DEFAULT_TRAIN, ...plan.settings, ...(o.recompute !== undefined ? { recompute: o.recompute } : {}), steps: o.warmupSteps + o.steps + 1, batchSize: o.batch, seqLen: o.seqLen, warmupSteps: 0, schedule: 'constant', evalEvery: 0,
  });
  try {
    for (let i = 0; i < o.warmupSteps; i++) await trainer.trainStep(); // shader compilation, buffer pool
    resetGemmTotals();
    const t1 = performance.now();
    let loss = NaN;
    for (let i = 0; i < o.steps; i++) loss = (await trainer.trainStep()).loss;
    const msPerStep = (performance.now() - t1) / o.steps;
    const gemm = gemmTotals();
    // One more step under the profiler for peak memory and kernel count (kept out of the timing).
    const tp = performance.now();
    resetWasmHeapPeak();
    const dispatches = countDispatches();
    let prof: Awaited<ReturnType<typeof tf.profile>>;
    try {
      prof = await tf.profile(async () => {
        await trainer.trainStep();
      });
    } finally {
      dispatches?.stop();
    }
    const profiledMs = performance.now() - tp;
    const bytes = model.baseWeightBytes();
    const backend = tf.getBackend();
    const gemmRan = backend === 'wasm' && (o.gemm ?? true);
        const gemmCodesInHeap = gemmRan; // nf4Gemm multiplies from a heap copy of the codes
    const est = estimateTraining({
      config: cfg, rank: 8, targets: o.targets, batchSize: o.batch, seqLen: o.seqLen, gradAccum: 1, examples: 1, steps: 1,
      backend: (backend === 'webgpu' ? 'webgpu' : backend === 'cpu' ? 'cpu' : 'wasm') as EstimateBackend, baseWeightBytes: bytes.linear + bytes.other,
      recomputeLayers: trainer.recomputeLayers, fusedLossChunkBytes: plan.settings.loss === 'fused' ? DEFAULT_FUSED_CE.chunkBytes : undefined, lossBlockRows: model.head.blockRows,
      baseBackendBytes: backendBaseBytes(bytes, report.linearPath, model.head.precision, model.head.bytes, gemmCodesInHeap),
      linearTransientBytes: (report.linearPath === 'js-dequant' && !gemmCodesInHeap) || report.linearPath === 'gpu-dequant' ? maxLinearBytes(cfg) : 0,
    });
    return {
      variant: o.variant,
      backend,
      threads,
      linear_path: report.linearPath,
      model: `${files.source} C${cfg.hiddenSize} L${cfg.numLayers} H${cfg.numHeads}/${cfg.numKvHeads} I${cfg.intermediateSize} V${cfg.vocabSize}`,
      batch: o.batch,
      seq_len: o.seqLen,
      row_tokens: rowTokens,
      steps: o.steps,
      tokens_per_s: Math.round(((o.batch * o.seqLen) / msPerStep) * 1000 * 10) / 10,
      ms_per_step: Math.round(msPerStep),
      loss: Math.round(loss * 1e4) / 1e4,
      recompute: trainer.recompute,
      recompute_layers: trainer.recomputeLayers,
      chunked_loss: plan.settings.loss === 'fused',
      head: model.head.precision,
      base_weight_bytes: bytes.linear + bytes.other,
      base_linear_bytes: bytes.linear,
      base_fp32_bytes: report.memory.linearFp32Bytes + report.memory.otherBytes,
      peak_backend_bytes: prof.peakBytes,
      peak_heap_in_use_bytes: backend === 'wasm' ? wasmHeapStats().peak : null,
      wasm_heap_bytes: backend === 'wasm' ? ((tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? null) : null,
      estimated_peak_backend_bytes: Math.round(est.memory.peakBackend),
      kernels_per_step: prof.kernels.length,
      dispatches_per_step: dispatches ? dispatches.total() : null,
      profile_dispatches: dispatches ? topTen(dispatches.byProgram, 'other') : null,
      fused_ops: o.fusedOps ?? true,
      matmul: o.gemm ?? true ? 'studio' : 'tfjs',
      gemm_threads: gemmRan ? gemmThreads() : null,
      gemm_pool: gemmRan ? gemmPoolState() : null,
      gemm_ms_per_step: gemmRan ? Math.round(gemm.ms / o.steps) : null,
      gemm_gflop_per_s: gemmRan && gemm.ms > 0 ? Math.round((gemm.flops / gemm.ms / 1e6) * 10) / 10 : null,
      load_ms: Math.round(loadMs),
      profile_ms: kernelTimes(prof.kernels, profiledMs),
      profile_counts: kernelCounts(prof.kernels),
    };
  } finally {
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  }
}

/**
 * On WebGPU, counts the programs the backend really dispatches until stop(): every GPU kernel
 * goes through runWebGPUProgram, which returns without dispatching only for an empty output.
 */
function countDispatches(): { byProgram: Map<string, number>; total(): number; stop(): void } | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const backend = tf.backend() as WebGPUBackend;
  const original = backend.runWebGPUProgram;
  const byProgram = new Map<string, number>();
  backend.runWebGPUProgram = function (this: WebGPUBackend, program, inputs, ...rest) {
    if (tf.util.sizeFromShape(program.outputShape) > 0) {
      const name = program.shaderKey.split('_').slice(0, 2).join('_'); // class names do not survive minification
      byProgram.set(name, (byProgram.get(name) ?? 0) + 1);
    }
    return original.call(this, program, inputs, ...rest);
  };
  return {
    byProgram,
    total: () => [...byProgram.values()].reduce((a, b) => a + b, 0),
    stop: () => {
      backend.runWebGPUProgram = original;
    },
  };
}

/** Per kernel name: summed `value` over the step's kernels (customGrad scopes left out: their kernels are listed too). */
function byKernel(kernels: { name: string }[], value: (i: number) => number): Map<string, number> {
  const by = new Map<string, number>();
  kernels.forEach((k, i) => {
    if (k.name !== 'forward' && k.name !== 'unnamed scope') by.set(k.name, (by.get(k.name) ?? 0) + value(i));
  });
  return by;
}

/** The ten largest entries, then the rest summed under `restName`. */
function topTen(by: Map<string, number>, restName: string): Record<string, number> {
  const sorted = [...by.entries()].sort((a, b) => b[1] - a[1]);
  const out: Record<string, number> = {};
  for (const [name, v] of sorted.slice(0, 10)) out[name] = Math.round(v);
  const rest = sorted.slice(10).reduce((a, [, v]) => a + v, 0);
  if (rest > 0) out[restName] = Math.round(rest);
  return out;
}

/**
 * Kernel milliseconds by kernel name (the ten largest, then 'other kernels'), plus 'outside kernels':
 * the step's wall time not spent in any kernel (NF4 products, which call the GEMM directly, the fused
 * loss's head blocks, tape bookkeeping; gemm_ms_per_step says how much of it is the GEMM).
 */
function kernelTimes(kernels: { name: string; kernelTimeMs: number | { error: string } | Promise<number | { error: string }> }[], wallMs: number): Record<string, number> {
  const by = byKernel(kernels, (i) => (typeof kernels[i].kernelTimeMs === 'number' ? (kernels[i].kernelTimeMs as number) : 0));
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  return { ...topTen(by, 'other kernels'), 'outside kernels': Math.round(Math.max(0, wallMs - total)) };
}

/** Kernels launched per kernel name (the ten most frequent, then 'other'). */
function kernelCounts(kernels: { name: string }[]): Record<string, number> {
  return topTen(byKernel(kernels, () => 1), 'other');
}

/** Base bytes that live in backend memory: NF4 codes stay in JS on wasm/cpu, int8 tables always do. */
function backendBaseBytes(bytes: { linear: number; other: number }, path: string, head: string, headBytes: number, codesInHeap: boolean): number {
  const linear = path === 'js-dequant' && !codesInHeap ? 0 : bytes.linear;
  return linear + bytes.other - (head === 'int8' ? headBytes : 0);
}

function maxLinearBytes(cfg: { hiddenSize: number; intermediateSize: number; numHeads: number; headDim: number }): number {
  return 4 * cfg.hiddenSize * Math.max(cfg.intermediateSize, cfg.numHeads * cfg.headDim);
}
