// PEFT prompt-tuning and prefix-tuning adapters: adapter_config.json + adapter_model.safetensors as
// PEFT's save_pretrained writes them, one tensor `prompt_embeddings` ([N, C] for PROMPT_TUNING,
// [N, L * 2 * K * D] for PREFIX_TUNING without the reparameterisation MLP). For prefix tuning PEFT
// (since 0.12, PR #1901) sets token_dim = K * D and num_attention_heads = K on any model whose config
// has num_key_value_heads, and views each row as [L * 2, K, D] (layer-major, key before value).
// Reading treats the files as untrusted: every field and shape is checked against the loaded model.
import type { ModelConfig } from '../model/config';
import { bufferSource, readHeader, readTensorF32, SafetensorsError, writeSafetensors } from '../model/safetensors';
import { AdapterFormatError } from './peft';
import { softPromptWidth, type SoftPromptKind, type SoftPromptSpec, type SoftPromptWeights } from './soft-prompt-types';

export const PROMPT_EMBEDDINGS_KEY = 'prompt_embeddings';

const PEFT_TYPE: Record<SoftPromptKind, string> = { 'prompt-tuning': 'PROMPT_TUNING', 'prefix-tuning': 'PREFIX_TUNING' };

/**
 * The adapter_config.json object, keys sorted as PEFT writes them. The field set is PEFT 0.10-0.13's
 * (PromptTuningConfig / PrefixTuningConfig and their bases), which every later version reads.
 */
export function toPromptPeftConfig(spec: SoftPromptSpec, cfg: ModelConfig): Record<string, unknown> {
  const common = {
    auto_mapping: null,
    base_model_name_or_path: spec.baseModel,
    inference_mode: true,
    num_layers: cfg.numLayers,
    num_transformer_submodules: 1, // decoder-only: one set of virtual tokens
    num_virtual_tokens: spec.numVirtualTokens,
    revision: null,
    task_type: 'CAUSAL_LM',
  };
  if (spec.kind === 'prompt-tuning') {
    const text = spec.init === 'text';
    return sortKeys({
      ...common,
      num_attention_heads: cfg.numHeads,
      peft_type: PEFT_TYPE[spec.kind],
      prompt_tuning_init: text ? 'TEXT' : 'RANDOM',
      prompt_tuning_init_text: text ? spec.initText : null,
      token_dim: cfg.hiddenSize,
      tokenizer_kwargs: null,
      // PEFT refuses TEXT init without a tokenizer to re-tokenize the text with: the base model's.
      tokenizer_name_or_path: text ? spec.baseModel : null,
    });
  }
  const kvDim = cfg.numKvHeads * cfg.headDim;
  return sortKeys({ ...common, encoder_hidden_size: kvDim, num_attention_heads: cfg.numKvHeads, peft_type: PEFT_TYPE[spec.kind], prefix_projection: false, token_dim: kvDim });
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Serialises a soft prompt; `provenance` goes into the safetensors __metadata__. */
export function toPromptPeftFiles(spec: SoftPromptSpec, cfg: ModelConfig, w: SoftPromptWeights, provenance: Record<string, string> = {}): { adapterConfigJson: string; adapterSafetensors: Uint8Array } {
  const W = softPromptWidth(cfg, spec.kind);
  if (w.values.length !== spec.numVirtualTokens * W) throw new AdapterFormatError(`prompt_embeddings: ${w.values.length} values, expected ${spec.numVirtualTokens} x ${W}`);
  return {
    adapterConfigJson: JSON.stringify(toPromptPeftConfig(spec, cfg), null, 2),
    adapterSafetensors: writeSafetensors([{ name: PROMPT_EMBEDDINGS_KEY, shape: [spec.numVirtualTokens, W], data: w.values }], { ...provenance, format: 'pt' }),
  };
}

/** The peft_type of an adapter_config.json (to pick the reader), or an AdapterFormatError. */
export function peftTypeOf(configJson: string, fileName = 'adapter_config.json'): string {
  let raw: unknown;
  try {
    raw = JSON.parse(configJson);
  } catch (e) {
    throw new AdapterFormatError(`${fileName} is not valid JSON (${(e as Error).message})`);
  }
  const t = (raw as Record<string, unknown> | null)?.peft_type;
  if (typeof t !== 'string') throw new AdapterFormatError(`${fileName}: "peft_type" is missing`);
  return t;
}

/** Parses a PROMPT_TUNING / PREFIX_TUNING config, checking it against the loaded model's shapes. */
export function softPromptSpecFromPeftConfig(configJson: string, cfg: ModelConfig, fileName = 'adapter_config.json'): SoftPromptSpec {
  const type = peftTypeOf(configJson, fileName);
  const c = JSON.parse(configJson) as Record<string, unknown>;
  const field = (k: string) => `${fileName}: "${k}"`;
  const kind = (Object.keys(PEFT_TYPE) as SoftPromptKind[]).find((k) => PEFT_TYPE[k] === type);
  if (!kind) throw new AdapterFormatError(`${field('peft_type')} is ${JSON.stringify(type)}, expected "PROMPT_TUNING" or "PREFIX_TUNING"`);
  if (c.task_type != null && c.task_type !== 'CAUSAL_LM') throw new AdapterFormatError(`${field('task_type')} is ${JSON.stringify(c.task_type)}, expected "CAUSAL_LM"`);
  const N = c.num_virtual_tokens;
  if (typeof N !== 'number' || !Number.isInteger(N) || N < 1 || N > 4096) throw new AdapterFormatError(`${field('num_virtual_tokens')} must be an integer from 1 to 4096, found ${JSON.stringify(N)}`);
  if ((c.num_transformer_submodules ?? 1) !== 1) throw new AdapterFormatError(`${field('num_transformer_submodules')} is ${JSON.stringify(c.num_transformer_submodules)}; a decoder-only model has 1`);
  if (c.num_layers != null && c.num_layers !== cfg.numLayers) throw new AdapterFormatError(`${field('num_layers')} is ${JSON.stringify(c.num_layers)}, but the loaded model has ${cfg.numLayers} layers`);
  const expectDim = kind === 'prompt-tuning' ? cfg.hiddenSize : cfg.numKvHeads * cfg.headDim;
  if (c.token_dim != null && c.token_dim !== expectDim) throw new AdapterFormatError(`${field('token_dim')} is ${JSON.stringify(c.token_dim)}, expected ${expectDim} for the loaded model`);
  // prefix_projection true needs nothing more: PEFT saves the MLP's output as prompt_embeddings and, in inference mode, uses them as they are.
  const init = c.prompt_tuning_init === 'TEXT' ? 'text' : 'random';
  return { kind, numVirtualTokens: N, init, initText: init === 'text' && typeof c.prompt_tuning_init_text === 'string' ? c.prompt_tuning_init_text : null, baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : '' };
}

/** Reads a PEFT soft-prompt adapter (the two files' contents) for the loaded model. */
export async function fromPromptPeftFiles(adapterConfigJson: string, adapterSafetensors: Uint8Array, cfg: ModelConfig): Promise<{ spec: SoftPromptSpec; weights: SoftPromptWeights }> {
  const spec = softPromptSpecFromPeftConfig(adapterConfigJson, cfg);
  const where = 'adapter_model.safetensors';
  try {
    const src = bufferSource(adapterSafetensors);
    const header = await readHeader(src, where);
    const info = header.tensors.get(PROMPT_EMBEDDINGS_KEY);
    if (!info) throw new AdapterFormatError(`${where}: tensor "${PROMPT_EMBEDDINGS_KEY}" is missing (found ${[...header.tensors.keys()].slice(0, 5).join(', ') || 'no tensors'})`);
    const W = softPromptWidth(cfg, spec.kind);
    if (info.shape.length !== 2 || info.shape[0] !== spec.numVirtualTokens || info.shape[1] !== W) throw new AdapterFormatError(`${where}: "${PROMPT_EMBEDDINGS_KEY}" has shape [${info.shape.join(', ')}], expected [${spec.numVirtualTokens}, ${W}]`);
    const extra = [...header.tensors.keys()].filter((k) => k !== PROMPT_EMBEDDINGS_KEY);
    if (extra.length > 0) throw new AdapterFormatError(`${where}: unexpected tensor "${extra[0]}" besides "${PROMPT_EMBEDDINGS_KEY}"`);
    const values = await readTensorF32(src, header, PROMPT_EMBEDDINGS_KEY);
    if (!values.every(Number.isFinite)) throw new AdapterFormatError(`${where}: "${PROMPT_EMBEDDINGS_KEY}" holds non-finite values`);
    return { spec, weights: { values } };
  } catch (e) {
    if (e instanceof SafetensorsError) throw new AdapterFormatError(`${where}: ${e.message}`);
    throw e;
  }
}
