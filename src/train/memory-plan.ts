// Decisions a run takes from the memory estimate before its first step: whether 'auto'
// recomputation turns on, and (for the CLI and the Train step) whether a configuration fits at all.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from './lora';
import { estimateTraining, memoryBudgetBytes, type EstimateBackend, type EstimateInput, type TrainEstimate } from './estimate';
import type { TrainSettings } from './settings';
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
 * 'auto': recompute when, without it, the step would need more than half the backend's budget
 * (the saved activations of every layer dominate then); 'on' / 'off' as asked.
 */
export function resolveRecompute(setting: 'auto' | 'on' | 'off', model: LlamaModel, adapter: LoraAdapter, s: Pick<TrainSettings, 'batchSize' | 'seqLen' | 'gradAccum'>): boolean {
  if (setting !== 'auto') return setting === 'on';
  const backend = activeEstimateBackend();
  const bytes = model.baseWeightBytes();
  const e = estimateTraining({
    config: model.config, rank: adapter.spec.r, targets: adapter.spec.targetModules, batchSize: s.batchSize, seqLen: s.seqLen, gradAccum: s.gradAccum,
    examples: 1, steps: 1, backend, baseWeightBytes: bytes.linear + bytes.other, recompute: false,
  });
  return e.memory.total > memoryBudgetBytes(backend) / 2;
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
  recompute: 'auto' | 'on' | 'off';
  loss: 'fused' | 'plain';
  examples: number;
  steps: number;
}

/** The estimate's input for a model not loaded yet (sizes from its config alone). */
export function planEstimateInput(p: PlanChoice, recompute: boolean): EstimateInput {
  const mem = baseMemory(p.config);
  const tableFp32 = 4 * p.config.vocabSize * p.config.hiddenSize * (p.config.tieWordEmbeddings ? 1 : 2);
  const table = p.head === 'int8' ? tableFp32 / 4 + 4 * p.config.vocabSize * (p.config.tieWordEmbeddings ? 1 : 2) : tableFp32;
  const other = mem.otherBytes - tableFp32 + table;
  const linear = p.precision === 'nf4' ? mem.linearNf4Bytes : mem.linearFp32Bytes;
  const linearInJs = p.precision === 'nf4' && p.backend !== 'webgpu';
  const C = p.config.hiddenSize;
  return {
    config: p.config, rank: p.rank, targets: p.targets, batchSize: p.batchSize, seqLen: p.seqLen, gradAccum: p.gradAccum, examples: p.examples, steps: p.steps, backend: p.backend,
    baseWeightBytes: linear + other,
    baseBackendBytes: (linearInJs ? 0 : linear) + other - (p.head === 'int8' ? table : 0),
    linearTransientBytes: linearInJs ? 4 * C * Math.max(p.config.intermediateSize, p.config.numHeads * p.config.headDim) : 0,
    recompute,
    fusedLossChunkBytes: p.loss === 'fused' ? DEFAULT_FUSED_CE.chunkBytes : undefined,
    lossBlockRows: p.head === 'int8' ? INT8_HEAD_BLOCK_ROWS : p.config.vocabSize,
  };
}

export interface MemoryPlan {
  recompute: boolean;
  estimate: TrainEstimate;
  budgetBytes: number;
  fits: boolean;
  /** When it does not fit: the largest micro-batch that does (with recomputation), and the accumulation keeping B x accum. */
  suggestion: { batchSize: number; gradAccum: number; recompute: boolean; peakBackendBytes: number } | null;
}

/** Resolves 'auto' recomputation, checks the step against the backend's budget, and suggests what fits. */
export function memoryPlan(p: PlanChoice): MemoryPlan {
  const budgetBytes = memoryBudgetBytes(p.backend);
  const without = estimateTraining(planEstimateInput(p, false));
  const recompute = p.recompute === 'auto' ? without.memory.total > budgetBytes / 2 : p.recompute === 'on';
  const estimate = recompute ? estimateTraining(planEstimateInput(p, true)) : without;
  const fits = estimate.memory.peakBackend <= budgetBytes;
  let suggestion: MemoryPlan['suggestion'] = null;
  if (!fits) {
    for (let b = p.batchSize; b >= 1; b--) {
      const e = estimateTraining(planEstimateInput({ ...p, batchSize: b }, true));
      if (e.memory.peakBackend <= budgetBytes) {
        suggestion = { batchSize: b, gradAccum: Math.ceil((p.batchSize * p.gradAccum) / b), recompute: true, peakBackendBytes: e.memory.peakBackend };
        break;
      }
    }
  }
  return { recompute, estimate, budgetBytes, fits, suggestion };
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
