// The shape of a parsed model configuration: the family traits one decoder reads, and the sizes.
// Kept apart from the parser (config.ts) so the family table (families.ts) can describe traits
// without importing the parser that imports it.
import type { RopeSpec } from './rope';

/** The families one decoder serves (families.ts holds each one's differences). */
export type FamilyId = 'llama' | 'qwen2' | 'qwen3' | 'gemma3';

export type LayerType = 'full' | 'sliding';
export type Activation = 'silu' | 'gelu_tanh';

/** How one family's decoder differs from plain Llama; every field has the Llama value as its neutral one. */
export interface FamilyTraits {
  family: FamilyId;
  /** RMSNorm multiplies by (normOffset + w): 1 for Gemma's (1 + w), 0 elsewhere. */
  normOffset: number;
  /** Projections with a bias, e.g. Qwen2's q/k/v. Frozen: LoRA never trains them. */
  biases: LinearModule[];
  /** Per-head RMSNorm of q and k (width D) before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Gemma's four norms per layer: the attention and MLP outputs are normed before the residual add. */
  sandwichNorms: boolean;
  /** MLP gate activation: silu (SwiGLU) or the tanh approximation of gelu (GeGLU). */
  activation: Activation;
  /** Input embeddings are multiplied by this (Gemma: sqrt(hidden)). */
  embedScale: number;
  /** Attention scores are q·k times this (1/sqrt(D), or Gemma's query_pre_attn_scalar^-1/2). */
  queryScale: number;
  /** Attention kind of each layer. */
  layerTypes: LayerType[];
  /** Keys a sliding layer sees: the query's own and the W-1 before it; null when no layer slides. */
  slidingWindow: number | null;
  /** RoPE per layer kind (Gemma: its own base for sliding layers). */
  rope: Record<LayerType, RopeSpec>;
  /** Scores become cap * tanh(scores / cap) when set. */
  attnSoftcap: number | null;
  /** Logits become cap * tanh(logits / cap) when set. */
  finalSoftcap: number | null;
  /** Checkpoint key prefixes of the decoder tried in order, e.g. 'model.'; the loader uses the first present. */
  weightPrefixes: string[];
}

export interface ModelConfig extends FamilyTraits {
  /** C: width of the residual stream. */
  hiddenSize: number;
  /** Width of the gated MLP's hidden layer. */
  intermediateSize: number;
  numLayers: number;
  /** H: query heads. */
  numHeads: number;
  /** KV heads; numHeads / numKvHeads query heads share one (GQA). */
  numKvHeads: number;
  /** D: per-head width (hiddenSize / numHeads unless config.json says otherwise). */
  headDim: number;
  /** V */
  vocabSize: number;
  maxPositions: number;
  rmsNormEps: number;
  /** RoPE base of the full-attention layers (for display; the decoder reads `rope`). */
  ropeTheta: number;
  /** When true the output head reuses the embedding matrix (no lm_head.weight tensor). */
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** As written in config.json, for display and for adapter_config.json. */
  modelType: string;
  architecture: string;
}

/** The name the rest of the code has always used; every family parses into it. */
export type LlamaConfig = ModelConfig;

/** The linear layers of a decoder block, the names PEFT's target_modules use. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];
