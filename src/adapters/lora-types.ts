// The LoRA adapter as the rest of the app sees it: its configuration (rank, alpha, targets, base
// model) and its trained matrices, one A/B pair per (layer, linear module). Formats on disk and in
// links (peft.ts, share-link.ts) convert to and from these types; nothing here depends on tfjs.
import type { LinearModule } from '../model/config';

export interface LoraSpec {
  /** R: rank of the update B·A. */
  r: number;
  /** Scale numerator: the update is multiplied by loraScale(spec). */
  alpha: number;
  /** Dropout probability on the LoRA branch's input during training (0 at inference). */
  dropout: number;
  /** Linear layers that carry an adapter, in every transformer layer. */
  targetModules: LinearModule[];
  /** Rank-stabilised LoRA: scale alpha / sqrt(r) instead of alpha / r. */
  useRslora: boolean;
  /** Hub repo id (e.g. HuggingFaceTB/SmolLM2-135M) or base URL of the model the adapter was trained on. */
  baseModel: string;
}

export interface LoraLayerWeights {
  layer: number;
  module: LinearModule;
  inFeatures: number;
  outFeatures: number;
  /** [r, in] row-major (PEFT's lora_A.weight). */
  A: Float32Array;
  /** [out, r] row-major (PEFT's lora_B.weight). */
  B: Float32Array;
}

export interface LoraWeights {
  layers: LoraLayerWeights[];
}

/** The factor on B·A: alpha / r, or alpha / sqrt(r) with rsLoRA (as PEFT computes it). */
export function loraScale(spec: Pick<LoraSpec, 'r' | 'alpha' | 'useRslora'>): number {
  return spec.useRslora ? spec.alpha / Math.sqrt(spec.r) : spec.alpha / spec.r;
}
