// Decisions a run takes from the memory estimate before its first step: whether 'auto'
// recomputation turns on, and (for the CLI and the Train step) whether a configuration fits at all.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from './lora';
import { estimateTraining, memoryBudgetBytes, type EstimateBackend } from './estimate';
import type { TrainSettings } from './trainer';

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
