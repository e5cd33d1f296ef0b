// Soft prompts as the rest of the app sees them (no tfjs here): prompt tuning (N learned input
// embeddings put before the tokens) and prefix tuning (N learned keys and values before the tokens in
// every layer), as PEFT defines them. One matrix each, PEFT's `prompt_embeddings`: [N, C] for prompt
// tuning, [N, L * 2 * K * D] for prefix tuning (per virtual token: layer-major, key then value, kv head, head dim).
import type { ModelConfig } from '../model/config';

export type SoftPromptKind = 'prompt-tuning' | 'prefix-tuning';

export interface SoftPromptSpec {
  kind: SoftPromptKind;
  /** N: virtual tokens. More is more capacity (PEFT examples use 8-30); each costs one position of context. */
  numVirtualTokens: number;
  /** 'random' (PEFT's RANDOM: N(0, 1)) or 'text': prompt tuning only, the embeddings of initText's tokens, repeated to N. */
  init: 'random' | 'text';
  initText: string | null;
  /** Hub repo id or base URL of the model it was trained on. */
  baseModel: string;
}

export interface SoftPromptWeights {
  /** [N, width] row-major, width from softPromptWidth. */
  values: Float32Array;
}

/** Columns of prompt_embeddings: C for prompt tuning; L * 2 * K * D for prefix tuning (PEFT's GQA layout, see peft-prompt.ts). */
export function softPromptWidth(cfg: Pick<ModelConfig, 'hiddenSize' | 'numLayers' | 'numKvHeads' | 'headDim'>, kind: SoftPromptKind): number {
  return kind === 'prompt-tuning' ? cfg.hiddenSize : cfg.numLayers * 2 * cfg.numKvHeads * cfg.headDim;
}

/** Column of prefix value (layer, key 0 | value 1, kv head k, dim d) in a prefix-tuning row. */
export function prefixColumn(cfg: Pick<ModelConfig, 'numKvHeads' | 'headDim'>, layer: number, kv: 0 | 1, k: number, d: number): number {
  return ((layer * 2 + kv) * cfg.numKvHeads + k) * cfg.headDim + d;
}
