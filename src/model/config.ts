// The model configuration the engine understands, parsed from a Hugging Face config.json.
// Only the Llama family is supported: RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU MLP,
// no biases, tied or untied output head. Anything else is refused with a message naming what is.

export interface LlamaConfig {
  /** C: width of the residual stream. */
  hiddenSize: number;
  /** Width of the SwiGLU hidden layer. */
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
  ropeTheta: number;
  /** When true the output head reuses model.embed_tokens.weight (no lm_head.weight tensor). */
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** As written in config.json, for display and for adapter_config.json. */
  modelType: string;
  architecture: string;
}

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'] as const;

export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

export function parseConfig(json: unknown): LlamaConfig {
  if (typeof json !== 'object' || json === null) throw new UnsupportedModelError('config.json is not a JSON object');
  const c = json as Record<string, unknown>;
  const arch = Array.isArray(c.architectures) ? String(c.architectures[0]) : String(c.model_type ?? 'unknown');
  const modelType = String(c.model_type ?? '');
  const supported = (SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch) || ['llama', 'mistral'].includes(modelType);
  if (!supported) {
    throw new UnsupportedModelError(
      `Unsupported model architecture "${arch}" (model_type "${modelType}"). Supported: ${SUPPORTED_ARCHITECTURES.join(', ')} (model_type llama or mistral).`,
    );
  }
  if (c.attention_bias === true || c.mlp_bias === true) {
    throw new UnsupportedModelError(`Unsupported: this ${arch} uses biases in attention or MLP layers; only bias-free Llama-family models are supported.`);
  }
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw new UnsupportedModelError(`Unsupported activation "${String(act)}"; only silu (SwiGLU) is supported.`);
  const scaling = c.rope_scaling as Record<string, unknown> | null | undefined;
  if (scaling && scaling.rope_type !== 'default' && scaling.type !== 'default') {
    throw new UnsupportedModelError(`Unsupported rope_scaling ${JSON.stringify(scaling)}; only plain RoPE is supported.`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedModelError(`config.json: "${key}" is missing or not a number`);
    return v;
  };
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  const headDim = typeof c.head_dim === 'number' ? c.head_dim : hiddenSize / numHeads;
  const numKvHeads = num('num_key_value_heads', numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new UnsupportedModelError(`config.json: head_dim ${headDim} must be an even integer`);
  if (numHeads % numKvHeads !== 0) throw new UnsupportedModelError(`config.json: ${numHeads} heads are not divisible into ${numKvHeads} KV heads`);
  const eos = c.eos_token_id;
  return {
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: num('vocab_size'),
    maxPositions: num('max_position_embeddings', 2048),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenIds: Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [],
    modelType,
    architecture: arch,
  };
}

/** Parameter count of the base model (embeddings counted once when tied). */
export function parameterCount(cfg: LlamaConfig): number {
  const C = cfg.hiddenSize;
  const attn = C * cfg.numHeads * cfg.headDim * 2 + C * cfg.numKvHeads * cfg.headDim * 2;
  const mlp = 3 * C * cfg.intermediateSize;
  const perLayer = attn + mlp + 2 * C;
  const embed = cfg.vocabSize * C;
  return embed * (cfg.tieWordEmbeddings ? 1 : 2) + cfg.numLayers * perLayer + C;
}

/** The linear layers LoRA can target, with their [out, in] shapes. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export function linearShape(cfg: LlamaConfig, m: LinearModule): { out: number; in: number } {
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

/** Hugging Face key of a linear layer's weight, e.g. model.layers.3.self_attn.q_proj.weight */
export function linearKey(layer: number, m: LinearModule): string {
  const group = m.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(m) ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${group}.${m}.weight`;
}
