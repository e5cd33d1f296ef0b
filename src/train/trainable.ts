// What a run trains, behind one type: LoRA matrices (over an fp32 or NF4 base), a soft prompt
// (prompt / prefix tuning) or every weight (full fine-tuning), and the forward pass with it applied.
import type * as tf from '@tensorflow/tfjs';
import type { LlamaModel, Packing } from '../model/llama';
import type { LoraAdapter } from './lora';
import { SoftPromptAdapter } from './soft-prompt';
import { FullFineTune } from './full-finetune';

export type TrainableAdapter = LoraAdapter | SoftPromptAdapter | FullFineTune;

/** Logits [B*T, V] of ids [B, T] through the base with `adapter` applied (null: the base alone, DPO's reference). */
export function adaptedLogits(model: LlamaModel, ids: tf.Tensor2D, adapter: TrainableAdapter | null, packing?: Packing): tf.Tensor2D {
  if (adapter instanceof SoftPromptAdapter) return adapter.logits(model, ids, packing);
  if (adapter instanceof FullFineTune) return adapter.logits(ids, packing);
  return model.forward(ids, { lora: adapter, packing });
}
