// Decisions a run takes from the memory estimate before its first step: how many layers 'auto'
// recomputes (none when the step fits without), and (for the CLI and the Train step) whether a
// configuration fits at all.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from './lora';
import { estimateTraining, memoryBudgetBytes, type EstimateBackend, type EstimateInput, type TrainEstimate } from './estimate';
import type { BatchLengths } from './row-lengths';
import type { RecomputeSetting, TrainSettings } from './settings';
import { DEFAULT_FUSED_CE } from './fused-cross-entropy';
import { baseMemory, type BasePrecision } from '../model/load';
import { INT8_HEAD_BLOCK_ROWS, type HeadPrecision } from '../model/frozen-head';
import type { LinearModule, ModelConfig } from '../model/config';

/** The estimate's backend kind for the active tfjs backend. */
export function activeEstimateBackend(): EstimateBackend {
  const b = tf.getBackend();
  return b === 'webgpu' || b === 'wasm' || b === 'cpu' ? b : 'wasm';
}

/**
 * The share of the backend's budget 'auto' aims a step at: the estimate is a back-of-envelope model
 * (good to ~1.5x at the shapes measured), and a wasm heap never shrinks, so half is left spare.
 */
export const AUTO_RECOMPUTE_TARGET = 0.5;

export type { RecomputeSetting };

/**
 * How many layers (the first n of L) to recompute: 'auto' takes the fewest whose step stays within
 * AUTO_RECOMPUTE_TARGET of the budget (none when it fits without; all when nothing does), since
 * every recomputed layer costs its forward again; 'on' / 'off' / n as asked.
 */
export function recomputeLayersFor(setting: RecomputeSetting, L: number, peakAt: (n: number) => number, budgetBytes: number): number {
  if (setting === 'on') return L;
  if (setting === 'off') return 0;
  if (typeof setting === 'number') return Math.max(0, Math.min(L, Math.round(setting)));
  const target = budgetBytes * AUTO_RECOMPUTE_TARGET;
  // Peak memory falls as n grows (each recomputed layer keeps one input instead of its saves): bisect.
  if (peakAt(0) <= target) return 0;
  let lo = 0; // does not fit
  let hi = L;
  if (peakAt(hi) > target) return L;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (peakAt(mid) <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Layers recomputed for a loaded model (the Trainer's resolution of its setting). */
export function resolveRecomputeLayers(setting: RecomputeSetting, model: LlamaModel, adapter: LoraAdapter, s: Pick<TrainSettings, 'batchSize' | 'seqLen' | 'gradAccum' | 'loss'>): number {
  const backend = activeEstimateBackend();
  const bytes = model.baseWeightBytes();
  // The loss as the run computes it (fused: chunks of the head's blocks, never the [N, V] logits), as the Train step's plan assumes.
  const fused = (s.loss ?? 'fused') === 'fused';
  const peakAt = (n: number) => estimateTraining({
    config: model.config, rank: adapter.spec.r, targets: adapter.spec.targetModules, batchSize: s.batchSize, seqLen: s.seqLen, gradAccum: s.gradAccum,
    examples: 1, steps: 1, backend, baseWeightBytes: bytes.linear + bytes.other, recomputeLayers: n,
    fusedLossChunkBytes: fused ? DEFAULT_FUSED_CE.chunkBytes : undefined, lossBlockRows: model.head.blockRows,
  }).memory.peakBackend;
  return recomputeLayersFor(setting, model.config.numLayers, peakAt, memoryBudgetBytes(backend));
}

/** Everything the pre-load plan needs: the config and what the user chose. */
export interface PlanChoice {
  config: ModelConfig;
  precision: BasePrecision;
  head: HeadPrecision;
  backend: EstimateBackend;
  rank: number;
  targets: readonly LinearModule[];
  batchSize: number;
  seqLen: number;
  gradAccum: number;
  recompute: RecomputeSetting;
  loss: 'fused' | 'plain';
  examples: number;
  steps: number;
  /** 'lora' (default), 'full' (every weight trained) or 'soft' (a soft prompt): only LoRA runs recompute layers. */
  method?: 'lora' | 'full' | 'soft';
  /** A speed measured on this device (measured-speed.ts), replacing the backend's assumed GFLOP/s and overhead. */
  gflops?: number;
  /** Unpacked rows shorter than seqLen (row-lengths.ts): memory at the longest batch, time at the average one. */
  rows?: BatchLengths | null;
}

/** The estimate's input for a model not loaded yet (sizes from its config alone), with `recompute` of its layers recomputed (true: all). */
export function planEstimateInput(p: PlanChoice, recompute: boolean | number): EstimateInput {
  const mem = baseMemory(p.config);
  const tableFp32 = 4 * p.config.vocabSize * p.config.hiddenSize * (p.config.tieWordEmbeddings ? 1 : 2);
  const table = p.head === 'int8' ? tableFp32 / 4 + 4 * p.config.vocabSize * (p.config.tieWordEmbeddings ? 1 : 2) : tableFp32;
  const other = mem.otherBytes - tableFp32 + table;
  const linear = p.precision === 'nf4' ? mem.linearNf4Bytes : mem.linearFp32Bytes;
  // NF4 on wasm: the GEMM multiplies from a copy of the codes in the heap and decodes per packed
  // block (no fp32 layer); on the cpu backend the codes stay in JS and a layer is decoded per product.
  const linearInJs = p.precision === 'nf4' && p.backend === 'cpu';
  const C = p.config.hiddenSize;
  return {
    config: p.config, rank: p.rank, targets: p.targets, batchSize: p.batchSize, seqLen: p.seqLen, gradAccum: p.gradAccum, examples: p.examples, steps: p.steps, backend: p.backend,
    baseWeightBytes: linear + other,
    baseBackendBytes: (linearInJs ? 0 : linear) + other - (p.head === 'int8' ? table : 0),
    linearTransientBytes: linearInJs ? 4 * C * Math.max(p.config.intermediateSize, p.config.numHeads * p.config.headDim) : 0,
    recomputeLayers: recompute === true ? p.config.numLayers : recompute === false ? 0 : recompute,
    method: p.method === 'full' ? 'full' : 'lora',
    ...(p.gflops ? { gflops: p.gflops, layerOverheadS: 0 } : {}),
    fusedLossChunkBytes: p.loss === 'fused' ? DEFAULT_FUSED_CE.chunkBytes : undefined,
    lossBlockRows: p.head === 'int8' ? INT8_HEAD_BLOCK_ROWS : p.config.vocabSize,
  };
}

export interface MemoryPlan {
  /** Whether any layer is recomputed. */
  recompute: boolean;
  /** Layers recomputed (the first n of the model's). */
  recomputeLayers: number;
  estimate: TrainEstimate;
  budgetBytes: number;
  fits: boolean;
  /** When it does not fit: the largest micro-batch that does (with recomputation), and the accumulation keeping B x accum. */
  suggestion: { batchSize: number; gradAccum: number; recompute: boolean; peakBackendBytes: number } | null;
  /** The batch lengths assumed when rows are shorter than seqLen; null when every batch is seqLen long. */
  rows: BatchLengths | null;
}

/** Resolves how many layers to recompute, checks the step against the backend's budget, and suggests what fits. */
export function memoryPlan(p: PlanChoice): MemoryPlan {
  const budgetBytes = memoryBudgetBytes(p.backend);
  const rows = p.rows && p.rows.mean < p.seqLen ? { peak: Math.min(p.rows.peak, p.seqLen), mean: p.rows.mean } : null;
  // Memory at the longest batch the data makes (the Trainer plans with the same length).
  const atPeak: PlanChoice = rows ? { ...p, seqLen: rows.peak } : p;
  const recomputeLayers = recomputeLayersFor((p.method ?? 'lora') === 'lora' ? p.recompute : 'off', p.config.numLayers, (n) => estimateTraining(planEstimateInput(atPeak, n)).memory.peakBackend, budgetBytes);
  let estimate = estimateTraining(planEstimateInput(atPeak, recomputeLayers));
  if (rows && rows.mean < atPeak.seqLen) {
    // Time at the average batch: steps run as long as their longest row.
    const t = estimateTraining(planEstimateInput({ ...p, seqLen: rows.mean }, recomputeLayers));
    estimate = { ...estimate, tokensPerStep: t.tokensPerStep, secondsPerStep: t.secondsPerStep, secondsPerEpoch: t.secondsPerEpoch, secondsTotal: t.secondsTotal };
  }
  const fits = estimate.memory.peakBackend <= budgetBytes;
  let suggestion: MemoryPlan['suggestion'] = null;
  if (!fits) {
    for (let b = p.batchSize; b >= 1; b--) {
      const e = estimateTraining(planEstimateInput({ ...atPeak, batchSize: b }, true));
      if (e.memory.peakBackend <= budgetBytes) {
        suggestion = { batchSize: b, gradAccum: Math.ceil((p.batchSize * p.gradAccum) / b), recompute: true, peakBackendBytes: e.memory.peakBackend };
        break;
      }
    }
  }
  return { recompute: recomputeLayers > 0, recomputeLayers, estimate, budgetBytes, fits, suggestion, rows };
}

/** The plan in words: what will not fit and what to use instead. */
export function memoryPlanMessage(plan: MemoryPlan, p: Pick<PlanChoice, 'batchSize' | 'seqLen' | 'backend'>): string | null {
  if (plan.fits) return null;
  const gb = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GB`;
  const head = `Batch ${p.batchSize} x ${p.seqLen} needs about ${gb(plan.estimate.memory.peakBackend)} of ${p.backend} memory; the limit is ${gb(plan.budgetBytes)}.`;
  const s = plan.suggestion;
  if (!s) return `${head} Even batch 1 with recomputation does not fit: use a shorter --max-len, an NF4 base or an int8 head.`;
  return `${head} Batch ${s.batchSize} with gradient accumulation ${s.gradAccum} and recomputation on fits (about ${gb(s.peakBackendBytes)}) and keeps ${s.batchSize * s.gradAccum} sequences per step.`;
}
