// The model configuration the engine understands, parsed from a Hugging Face config.json of
// either schema (top-level rope_theta / rope_scaling / torch_dtype, or transformers 5's
// rope_parameters / dtype). One decoder serves every family; a family is the set of differences
// in FamilyTraits (families.ts). A key the engine would not apply is refused by name, never
// replaced by a default: only keys absent from the file take transformers' class defaults.
import { UnsupportedModelError } from './errors';
import { type RopeSpec } from './rope';
import { findFamily, familyTraits, supportedList, type FamilyId } from './families';

export { UnsupportedModelError } from './errors';

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

export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
  'Gemma3ForCausalLM',
  'Gemma3ForConditionalGeneration',
] as const;

/** Keys every family reads (each one is applied by parseConfig or familyTraits). */
const SHARED_KEYS = new Set([
  'architectures', 'model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'vocab_size', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta',
  'rope_scaling', 'rope_parameters', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id', 'torch_dtype', 'dtype',
  'hidden_act', 'attention_dropout', 'pretraining_tp', 'mlp_bias', 'attention_bias', 'layer_types',
]);

/** Keys that never change the forward pass: bookkeeping, generation defaults, initialisation. */
const INERT_KEYS = new Set([
  '_name_or_path', 'transformers_version', 'use_cache', 'initializer_range', 'pad_token_id', 'is_llama_config',
  'transformers.js_config', 'tokenizer_class', 'output_attentions', 'output_hidden_states', 'return_dict',
  'torchscript', 'bad_words_ids', 'sep_token_id', 'decoder_start_token_id', 'id2label', 'label2id',
  'problem_type', 'finetuning_task', 'prefix', 'task_specific_params', 'unsloth_fixed', 'unsloth_version',
  'cache_implementation', 'max_length', 'pretrained_model_name_or_path', 'embedding_dropout',
]);

const DTYPES = ['float32', 'bfloat16', 'float16'];

/** Reads typed values out of one config object, naming the key in every error. */
export class ConfigReader {
  constructor(
    readonly raw: Record<string, unknown>,
    /** transformers' class defaults, used only for keys absent from the file. */
    private readonly defaults: Record<string, unknown>,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  value(key: string): unknown {
    return this.raw[key] !== undefined ? this.raw[key] : this.defaults[key];
  }

  num(key: string): number {
    const v = this.value(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedModelError(`config.json: "${key}" is missing or not a number (found ${JSON.stringify(v)})`);
    return v;
  }

  optNum(key: string): number | null {
    const v = this.value(key);
    if (v == null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UnsupportedModelError(`config.json: "${key}" must be a positive number or null, found ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.value(key) ?? false;
    if (typeof v !== 'boolean') throw new UnsupportedModelError(`config.json: "${key}" must be true or false, found ${JSON.stringify(v)}`);
    return v;
  }

  /** A key whose only supported value is `expected` (or absent). */
  require(key: string, expected: unknown, why: string): void {
    const v = this.value(key);
    if (v != null && v !== expected) throw new UnsupportedModelError(`config.json: "${key}" is ${JSON.stringify(v)}; only ${JSON.stringify(expected)} is supported (${why})`);
  }
}

export function parseConfig(json: unknown): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UnsupportedModelError('config.json is not a JSON object');
  const top = json as Record<string, unknown>;
  const arch = Array.isArray(top.architectures) ? String(top.architectures[0]) : String(top.model_type ?? 'unknown');
  const modelType = String(top.model_type ?? '');
  const family = findFamily(arch, modelType, Array.isArray(top.architectures));
  if (!family) {
    throw new UnsupportedModelError(`Unsupported model architecture "${arch}" (model_type "${modelType}"). Supported: ${supportedList()}.`);
  }
  // A multimodal Gemma 3 checkpoint keeps its language model's config in text_config.
  let raw = top;
  if (family.textConfigKey) {
    const text = top[family.textConfigKey];
    if (typeof text !== 'object' || text === null) throw new UnsupportedModelError(`config.json: ${arch} has no "${family.textConfigKey}" object describing its language model`);
    raw = { ...(text as Record<string, unknown>) };
    for (const k of ['eos_token_id', 'bos_token_id', 'torch_dtype', 'dtype', 'tie_word_embeddings']) if (raw[k] === undefined && top[k] !== undefined) raw[k] = top[k];
  }
  const known = new Set([...SHARED_KEYS, ...family.keys]);
  for (const [k, v] of Object.entries(raw)) {
    if (known.has(k) || INERT_KEYS.has(k) || (family.textConfigKey && k === 'model_type')) continue;
    // An unknown option left at null / false / 0 / {} asks for nothing this engine lacks.
    if (v == null || v === false || v === 0 || (typeof v === 'object' && Object.keys(v as object).length === 0)) continue;
    throw new UnsupportedModelError(`config.json: "${k}" (${JSON.stringify(v).slice(0, 80)}) is not an option this engine understands for ${arch}; refusing rather than ignoring it`);
  }
  const c = new ConfigReader(raw, family.defaults);
  const dtype = c.value('dtype') ?? c.value('torch_dtype');
  if (dtype != null && !DTYPES.includes(String(dtype))) throw new UnsupportedModelError(`config.json: dtype ${JSON.stringify(dtype)} is not supported (supported: ${DTYPES.join(', ')})`);
  c.require('attention_dropout', 0, 'attention dropout is not implemented');
  c.require('pretraining_tp', 1, 'tensor-parallel slicing changes the math');
  c.require('mlp_bias', false, 'MLP biases are not implemented');

  const hiddenSize = c.num('hidden_size');
  const numHeads = c.num('num_attention_heads');
  const headDim = c.value('head_dim') != null ? c.num('head_dim') : hiddenSize / numHeads;
  const numKvHeads = c.value('num_key_value_heads') != null ? c.num('num_key_value_heads') : numHeads;
  const numLayers = c.num('num_hidden_layers');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new UnsupportedModelError(`config.json: head_dim ${headDim} must be an even integer`);
  if (numHeads % numKvHeads !== 0) throw new UnsupportedModelError(`config.json: ${numHeads} heads are not divisible into ${numKvHeads} KV heads`);
  const eos = c.value('eos_token_id');
  const base = {
    hiddenSize,
    intermediateSize: c.num('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: c.num('vocab_size'),
    maxPositions: c.num('max_position_embeddings'),
    rmsNormEps: c.num('rms_norm_eps'),
    tieWordEmbeddings: c.bool('tie_word_embeddings'),
    bosTokenId: typeof c.value('bos_token_id') === 'number' ? (c.value('bos_token_id') as number) : null,
    eosTokenIds: Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [],
    modelType,
    architecture: arch,
  };
  const traits = familyTraits(family, c, base);
  return { ...base, ...traits, ropeTheta: traits.rope.full.theta };
}

/** Parameter count of the base model (embeddings counted once when tied). */
export function parameterCount(cfg: ModelConfig): number {
  const C = cfg.hiddenSize;
  let perLayer = 0;
  for (const m of LINEAR_MODULES) {
    const s = linearShape(cfg, m);
    perLayer += s.out * s.in + (cfg.biases.includes(m) ? s.out : 0);
  }
  perLayer += C * (cfg.sandwichNorms ? 4 : 2) + (cfg.qkNorm ? 2 * cfg.headDim : 0);
  const embed = cfg.vocabSize * C;
  return embed * (cfg.tieWordEmbeddings ? 1 : 2) + cfg.numLayers * perLayer + C;
}

/** The linear layers LoRA can target, with their [out, in] shapes. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export function linearShape(cfg: Pick<ModelConfig, 'hiddenSize' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize'>, m: LinearModule): { out: number; in: number } {
  const C = cfg.hiddenSize;
  switch (m) {
    case 'q_proj': return { out: cfg.numHeads * cfg.headDim, in: C };
    case 'k_proj':
    case 'v_proj': return { out: cfg.numKvHeads * cfg.headDim, in: C };
    case 'o_proj': return { out: C, in: cfg.numHeads * cfg.headDim };
    case 'gate_proj':
    case 'up_proj': return { out: cfg.intermediateSize, in: C };
    case 'down_proj': return { out: C, in: cfg.intermediateSize };
  }
}

/** Which block a projection sits in: self_attn or mlp. */
export function linearGroup(m: LinearModule): 'self_attn' | 'mlp' {
  return m === 'gate_proj' || m === 'up_proj' || m === 'down_proj' ? 'mlp' : 'self_attn';
}

/** Hugging Face key of a linear layer's weight, e.g. model.layers.3.self_attn.q_proj.weight (prefix: the decoder's, see FamilyTraits.weightPrefixes). */
export function linearKey(layer: number, m: LinearModule, prefix = 'model.'): string {
  return `${prefix}layers.${layer}.${linearGroup(m)}.${m}.weight`;
}
