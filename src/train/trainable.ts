// What a run trains, behind one type: LoRA matrices (over an fp32 or NF4 base) or a soft prompt
// (prompt / prefix tuning), and the forward pass through the base with it applied.
import type * as tf from '@tensorflow/tfjs';
import type { LlamaModel, Packing } from '../model/llama';
import type { LoraAdapter } from './lora';
import { SoftPromptAdapter } from './soft-prompt';

export type TrainableAdapter = LoraAdapter | SoftPromptAdapter;

/** Logits [B*T, V] of ids [B, T] through the base with `adapter` applied (null: the base alone, DPO's reference). */
export function adaptedLogits(model: LlamaModel, ids: tf.Tensor2D, adapter: TrainableAdapter | null, packing?: Packing): tf.Tensor2D {
  if (adapter instanceof SoftPromptAdapter) return adapter.logits(model, ids, packing);
  return model.forward(ids, { lora: adapter, packing });
}
