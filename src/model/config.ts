// The model configuration the engine understands, parsed from a Hugging Face config.json of
// either schema (top-level rope_theta / rope_scaling / torch_dtype, or transformers 5's
// rope_parameters / dtype). One decoder serves every family; a family is the set of differences
// in FamilyTraits (families.ts). A key the engine would not apply is refused by name, never
// replaced by a default: only keys absent from the file take transformers' class defaults.
import { UnsupportedModelError } from './errors';
import { ConfigReader } from './config-reader';
import { findFamily, familyTraits, supportedList } from './families';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from './config-types';

export { UnsupportedModelError } from './errors';
// The types live in config-types.ts (families.ts needs them without the parser); their old home keeps them visible.
export type { Activation, FamilyId, FamilyTraits, LayerType, LinearModule, LlamaConfig, ModelConfig } from './config-types';
export { LINEAR_MODULES } from './config-types';

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
    if (known.has(k) || INERT_KEYS.has(k)) continue;
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
