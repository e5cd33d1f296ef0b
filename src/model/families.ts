// The model families the one decoder (llama.ts) computes, each described by how it differs from
// Llama: which architectures and model types it covers, the config keys it reads, transformers'
// class defaults for keys a config omits, and a function turning its config into FamilyTraits.
// Adding a family is adding an entry here plus its reference test, never a second forward pass.
import type { ConfigReader } from './config-reader';
import type { FamilyId, FamilyTraits, LayerType, Activation } from './config-types';
import { UnsupportedModelError } from './errors';
import { parseRope, type RopeSpec } from './rope';

export type { FamilyId } from './config-types';

export interface FamilyDef {
  id: FamilyId;
  architectures: string[];
  modelTypes: string[];
  /** Set when the decoder's config is nested (Gemma3ForConditionalGeneration's text_config). */
  textConfigKey?: string;
  /** config.json keys this family reads beyond the shared ones; each is applied by `traits`. */
  keys: string[];
  /** transformers' defaults for keys absent from config.json (never for keys present with odd values). */
  defaults: Record<string, unknown>;
  traits(c: ConfigReader, base: { hiddenSize: number; headDim: number; numLayers: number }): FamilyTraits;
}

/** Values the text families share with Llama; each family overrides what it changes. */
function llamaLike(c: ConfigReader, base: { headDim: number; numLayers: number }, id: FamilyId): FamilyTraits {
  const act = c.value('hidden_act');
  if (act !== 'silu') throw new UnsupportedModelError(`config.json: hidden_act ${JSON.stringify(act)} is not supported for ${id} (supported: silu)`);
  const attentionBias = c.bool('attention_bias');
  const full = ropeFromConfig(c, 'full');
  return {
    family: id,
    normOffset: 0,
    biases: attentionBias ? ['q_proj', 'k_proj', 'v_proj', 'o_proj'] : [],
    qkNorm: false,
    sandwichNorms: false,
    activation: 'silu',
    embedScale: 1,
    queryScale: 1 / Math.sqrt(base.headDim),
    layerTypes: layerTypes(c, base.numLayers, () => 'full'),
    slidingWindow: null,
    rope: { full, sliding: full },
    attnSoftcap: null,
    finalSoftcap: null,
    weightPrefixes: ['model.'],
  };
}

/**
 * The rope of one layer kind from either schema. v4: rope_theta + rope_scaling at the top level
 * (Gemma: rope_local_base_freq for sliding layers, which rope_scaling never touches). v5:
 * rope_parameters, either one object or one per layer type (full_attention / sliding_attention).
 */
function ropeFromConfig(c: ConfigReader, kind: LayerType, localBaseKey?: string): RopeSpec {
  const params = c.raw.rope_parameters;
  const hfType = kind === 'full' ? 'full_attention' : 'sliding_attention';
  const topTheta = c.has('rope_theta') ? c.num('rope_theta') : undefined;
  if (params != null) {
    if (c.raw.rope_scaling != null) throw new UnsupportedModelError('config.json: both "rope_scaling" and "rope_parameters" are set; give one');
    if (typeof params !== 'object' || Array.isArray(params)) throw new UnsupportedModelError(`config.json: "rope_parameters" must be an object, found ${JSON.stringify(params)}`);
    const p = params as Record<string, unknown>;
    const perType = 'full_attention' in p || 'sliding_attention' in p;
    if (perType) {
      for (const k of Object.keys(p)) if (k !== 'full_attention' && k !== 'sliding_attention') throw new UnsupportedModelError(`config.json: rope_parameters.${k} is not a layer type (full_attention, sliding_attention)`);
      const entry = p[hfType];
      if (entry == null) throw new UnsupportedModelError(`config.json: rope_parameters has no "${hfType}" entry`);
      return parseRope(entry, undefined, `rope_parameters.${hfType}`);
    }
    if (kind === 'sliding' && localBaseKey) return parseRope(null, c.num(localBaseKey), localBaseKey);
    return parseRope(p, topTheta, 'rope_parameters');
  }
  if (kind === 'sliding' && localBaseKey) return parseRope(null, c.num(localBaseKey), localBaseKey);
  return parseRope(c.raw.rope_scaling, c.num('rope_theta'), 'rope_scaling');
}

/** layer_types as written (full_attention / sliding_attention), or the family's own rule when absent. */
function layerTypes(c: ConfigReader, numLayers: number, fallback: (i: number) => LayerType): LayerType[] {
  const lt = c.raw.layer_types;
  if (lt == null) return Array.from({ length: numLayers }, (_, i) => fallback(i));
  if (!Array.isArray(lt) || lt.length !== numLayers) throw new UnsupportedModelError(`config.json: "layer_types" must list ${numLayers} entries, found ${JSON.stringify(lt)}`);
  return lt.map((t, i) => {
    if (t === 'full_attention') return 'full';
    if (t === 'sliding_attention') return 'sliding';
    throw new UnsupportedModelError(`config.json: layer_types[${i}] ${JSON.stringify(t)} is not supported (supported: full_attention, sliding_attention)`);
  });
}

/** Qwen2 / Qwen3 windows: on only with use_sliding_window, from layer max_window_layers on. */
function qwenWindows(c: ConfigReader, t: FamilyTraits, numLayers: number): void {
  if (!c.bool('use_sliding_window')) {
    // transformers drops sliding_window when use_sliding_window is off: every layer is full.
    if (t.layerTypes.includes('sliding')) throw new UnsupportedModelError('config.json: layer_types has sliding_attention layers but use_sliding_window is false');
    return;
  }
  const W = c.optNum('sliding_window');
  if (W == null) throw new UnsupportedModelError('config.json: use_sliding_window is true but sliding_window is not set');
  if (c.raw.layer_types == null) {
    const from = c.num('max_window_layers');
    t.layerTypes = Array.from({ length: numLayers }, (_, i) => (i >= from ? 'sliding' : 'full'));
  }
  t.slidingWindow = t.layerTypes.includes('sliding') ? W : null;
}

const GEMMA3_TEXT_DEFAULTS = {
  // Gemma3TextConfig's defaults (transformers), which multimodal checkpoints' text_config relies on.
  vocab_size: 262208, max_position_embeddings: 131072, rms_norm_eps: 1e-6, rope_theta: 1_000_000, rope_local_base_freq: 10_000,
  query_pre_attn_scalar: 256, sliding_window: 4096, hidden_activation: 'gelu_pytorch_tanh', tie_word_embeddings: true,
  attention_bias: false, final_logit_softcapping: null, attn_logit_softcapping: null, sliding_window_pattern: 6,
  head_dim: 256, num_key_value_heads: 4, num_attention_heads: 8,
};

const ACTIVATIONS: Record<string, Activation> = { gelu_pytorch_tanh: 'gelu_tanh', silu: 'silu' };

function gemma3(c: ConfigReader, base: { hiddenSize: number; headDim: number; numLayers: number }, multimodal: boolean): FamilyTraits {
  const act = c.value('hidden_activation') ?? c.value('hidden_act');
  if (c.has('hidden_act') && c.has('hidden_activation') && c.raw.hidden_act !== c.raw.hidden_activation) {
    throw new UnsupportedModelError(`config.json: hidden_act ${JSON.stringify(c.raw.hidden_act)} and hidden_activation ${JSON.stringify(c.raw.hidden_activation)} disagree`);
  }
  const activation = ACTIVATIONS[String(act)];
  if (!activation) throw new UnsupportedModelError(`config.json: hidden_activation ${JSON.stringify(act)} is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  c.require('use_bidirectional_attention', false, 'Gemma 3 text decoding is causal');
  const pattern = c.value('sliding_window_pattern') ?? c.value('_sliding_window_pattern');
  // transformers: every pattern-th layer is full, the others slide.
  const types = layerTypes(c, base.numLayers, (i) => (typeof pattern === 'number' && (i + 1) % pattern === 0 ? 'full' : 'sliding'));
  const slidingWindow = types.includes('sliding') ? c.num('sliding_window') : null;
  return {
    family: 'gemma3',
    normOffset: 1,
    biases: c.bool('attention_bias') ? ['q_proj', 'k_proj', 'v_proj', 'o_proj'] : [],
    qkNorm: true,
    sandwichNorms: true,
    activation,
    // Cast to the embedding dtype in transformers; sqrt of a hidden size rounds the same in float32.
    embedScale: Math.fround(Math.sqrt(base.hiddenSize)),
    queryScale: Math.pow(c.num('query_pre_attn_scalar'), -0.5),
    layerTypes: types,
    slidingWindow,
    rope: { full: ropeFromConfig(c, 'full'), sliding: ropeFromConfig(c, 'sliding', 'rope_local_base_freq') },
    attnSoftcap: c.optNum('attn_logit_softcapping'),
    finalSoftcap: c.optNum('final_logit_softcapping'),
    // Multimodal checkpoints: transformers >= 4.52 writes model.language_model.*, older ones language_model.model.*.
    weightPrefixes: multimodal ? ['model.language_model.', 'language_model.model.'] : ['model.'],
  };
}

const LLAMA_DEFAULTS = { max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10_000, tie_word_embeddings: false, hidden_act: 'silu' };
const QWEN_DEFAULTS = { max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10_000, tie_word_embeddings: false, hidden_act: 'silu', max_window_layers: 28 };
const GEMMA3_KEYS = [
  'hidden_activation', 'query_pre_attn_scalar', 'sliding_window', 'sliding_window_pattern', '_sliding_window_pattern',
  'rope_local_base_freq', 'attn_logit_softcapping', 'final_logit_softcapping', 'use_bidirectional_attention',
];

export const FAMILIES: readonly FamilyDef[] = [
  {
    id: 'llama',
    architectures: ['LlamaForCausalLM', 'MistralForCausalLM'],
    modelTypes: ['llama', 'mistral'],
    keys: ['sliding_window'],
    defaults: LLAMA_DEFAULTS,
    traits(c, base) {
      const t = llamaLike(c, base, 'llama');
      // Mistral (v0.1) slides every layer when sliding_window is set; Llama has no such key.
      const W = c.optNum('sliding_window');
      if (W != null && c.raw.layer_types == null) t.layerTypes = t.layerTypes.map(() => 'sliding');
      t.slidingWindow = t.layerTypes.includes('sliding') ? W : null;
      if (t.layerTypes.includes('sliding') && W == null) throw new UnsupportedModelError('config.json: layer_types has sliding_attention layers but sliding_window is not set');
      return t;
    },
  },
  {
    id: 'qwen2',
    architectures: ['Qwen2ForCausalLM'],
    modelTypes: ['qwen2'],
    keys: ['sliding_window', 'use_sliding_window', 'max_window_layers'],
    defaults: QWEN_DEFAULTS,
    traits(c, base) {
      const t = llamaLike(c, base, 'qwen2');
      // Qwen2 always has q/k/v biases (not o): the modeling code hard-codes them.
      t.biases = ['q_proj', 'k_proj', 'v_proj'];
      qwenWindows(c, t, base.numLayers);
      return t;
    },
  },
  {
    id: 'qwen3',
    architectures: ['Qwen3ForCausalLM'],
    modelTypes: ['qwen3'],
    keys: ['sliding_window', 'use_sliding_window', 'max_window_layers'],
    defaults: QWEN_DEFAULTS,
    traits(c, base) {
      const t = llamaLike(c, base, 'qwen3');
      t.qkNorm = true;
      qwenWindows(c, t, base.numLayers);
      return t;
    },
  },
  {
    id: 'gemma3',
    architectures: ['Gemma3ForCausalLM'],
    modelTypes: ['gemma3_text'],
    keys: GEMMA3_KEYS,
    defaults: GEMMA3_TEXT_DEFAULTS,
    traits: (c, base) => gemma3(c, base, false),
  },
  {
    id: 'gemma3',
    architectures: ['Gemma3ForConditionalGeneration'],
    modelTypes: ['gemma3'],
    textConfigKey: 'text_config',
    keys: GEMMA3_KEYS,
    defaults: GEMMA3_TEXT_DEFAULTS,
    traits: (c, base) => gemma3(c, base, true),
  },
];

/** The family of a config.json's first architecture (or its model_type when it lists none). */
export function findFamily(architecture: string, modelType: string, listed: boolean): FamilyDef | null {
  if (listed) return FAMILIES.find((f) => f.architectures.includes(architecture)) ?? null;
  return FAMILIES.find((f) => f.modelTypes.includes(modelType)) ?? null;
}

export function familyTraits(f: FamilyDef, c: ConfigReader, base: { hiddenSize: number; headDim: number; numLayers: number }): FamilyTraits {
  return f.traits(c, base);
}

export function supportedList(): string {
  return `${FAMILIES.flatMap((f) => f.architectures).join(', ')} (Gemma3ForConditionalGeneration: its text model only). Not supported: Phi-3, LFM2, Qwen3.5 hybrids, mixture-of-experts and other multimodal models`;
}

