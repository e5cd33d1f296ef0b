// Per-family GGUF description, as llama.cpp's convert_hf_to_gguf.py writes each architecture:
// the arch name, its hyper-parameter keys read straight from config.json (both the transformers 4
// top-level rope_theta and the v5 rope_parameters schema), the HF -> GGUF tensor names, and the
// per-tensor changes the converter makes:
// - llama: q/k rows permuted from HF's rotate-half order to GGML's interleaved pairs (llama.cpp
//   runs llama with "normal" RoPE); Llama 3 rope scaling becomes a rope_freqs tensor.
// - qwen2 / qwen3 / gemma3 run NEOX RoPE in llama.cpp, so no permutation.
// - gemma3 stores RMSNorm weights as (1 + w), since llama.cpp's norm multiplies by the weight alone.
import { ExportInputError, type SourceTensor } from '../model-tensors';
import { GgmlType, GgufExportError, WEIGHT_TYPES, type GgufWeightType } from './constants';
import { quantizedTypes } from './quant-mix';
import { kv, type GgufMetadata, type GgufTensor } from './writer';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3' | 'gemma3';

type Config = Record<string, unknown>;

export function ggufArch(config: Config): GgufArch {
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : '';
  const mt = String(config.model_type ?? '');
  if (arch === 'LlamaForCausalLM' || arch === 'MistralForCausalLM' || mt === 'llama' || mt === 'mistral') return 'llama';
  if (arch === 'Qwen2ForCausalLM' || mt === 'qwen2') return 'qwen2';
  if (arch === 'Qwen3ForCausalLM' || mt === 'qwen3') return 'qwen3';
  if (arch === 'Gemma3ForCausalLM' || mt === 'gemma3_text') return 'gemma3';
  throw new GgufExportError(`GGUF export supports Llama, Mistral, Qwen2, Qwen3 and Gemma 3 models; this one is "${arch || mt}"`);
}

function num(c: Config, key: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ExportInputError(`config.json: "${key}" is missing or not a number`);
  return v;
}

/** rope_parameters (v5; per layer type for Gemma) or the top-level rope_theta / rope_scaling (v4). */
function ropeParams(c: Config): { theta: number | null; scaling: Record<string, unknown> | null } {
  const rp = c.rope_parameters as Record<string, unknown> | undefined;
  if (rp && typeof rp === 'object') {
    const full = (rp.full_attention ?? rp) as Record<string, unknown>;
    const type = full.rope_type ?? full.type;
    return { theta: typeof full.rope_theta === 'number' ? full.rope_theta : null, scaling: type && type !== 'default' ? full : null };
  }
  const s = c.rope_scaling as Record<string, unknown> | null | undefined;
  const type = s?.rope_type ?? s?.type;
  return { theta: typeof c.rope_theta === 'number' ? c.rope_theta : null, scaling: s && type !== 'default' ? s : null };
}

export function headDim(c: Config): number {
  return typeof c.head_dim === 'number' ? c.head_dim : num(c, 'hidden_size') / num(c, 'num_attention_heads');
}

/** {arch}.* hyper-parameters (TextModel.set_gguf_parameters plus each family's additions). */
export function archMetadata(arch: GgufArch, c: Config, md: GgufMetadata): void {
  const p = (k: string) => `${arch}.${k}`;
  const { theta, scaling } = ropeParams(c);
  md.set(p('block_count'), kv.u32(num(c, 'num_hidden_layers')));
  md.set(p('context_length'), kv.u32(num(c, 'max_position_embeddings', 2048)));
  md.set(p('embedding_length'), kv.u32(num(c, 'hidden_size')));
  md.set(p('feed_forward_length'), kv.u32(num(c, 'intermediate_size')));
  md.set(p('attention.head_count'), kv.u32(num(c, 'num_attention_heads')));
  md.set(p('attention.head_count_kv'), kv.u32(num(c, 'num_key_value_heads', num(c, 'num_attention_heads'))));
  const defaultTheta = arch === 'gemma3' ? 1_000_000 : 10_000;
  md.set(p('rope.freq_base'), kv.f32(theta ?? defaultTheta));
  md.set(p('attention.layer_norm_rms_epsilon'), kv.f32(num(c, 'rms_norm_eps', 1e-6)));
  if (typeof c.head_dim === 'number' || arch === 'gemma3') {
    md.set(p('attention.key_length'), kv.u32(headDim(c)));
    md.set(p('attention.value_length'), kv.u32(headDim(c)));
  }
  if (arch === 'llama') {
    md.set(p('vocab_size'), kv.u32(num(c, 'vocab_size')));
    md.set(p('rope.dimension_count'), kv.u32(headDim(c)));
  }
  if (arch === 'gemma3') {
    if (typeof c.sliding_window === 'number') md.set(p('attention.sliding_window'), kv.u32(c.sliding_window));
    const qpas = c.query_pre_attn_scalar;
    if (typeof qpas === 'number' && qpas !== headDim(c)) {
      throw new GgufExportError(`llama.cpp's gemma3 scales attention by 1/sqrt(head_dim); this model's query_pre_attn_scalar ${qpas} differs from head_dim ${headDim(c)}`);
    }
  }
  if (scaling) {
    const type = String(scaling.rope_type ?? scaling.type);
    if (type === 'linear' && typeof scaling.factor === 'number') {
      md.set(p('rope.scaling.type'), kv.str('linear'));
      md.set(p('rope.scaling.factor'), kv.f32(scaling.factor));
    } else if (!(type === 'llama3' && arch === 'llama')) {
      throw new GgufExportError(`rope scaling "${type}" is not exported to GGUF yet (supported: linear, and llama3 for Llama)`);
    }
  }
}

/** The converter's generate_extra_tensors for Llama 3 rope scaling: one factor per rotary pair. */
export function llama3RopeFactors(c: Config): Float32Array | null {
  const { theta, scaling } = ropeParams(c);
  if (!scaling || String(scaling.rope_type ?? scaling.type) !== 'llama3') return null;
  const base = theta ?? 10_000;
  const dim = headDim(c);
  const factor = Number(scaling.factor ?? 8);
  const low = Number(scaling.low_freq_factor ?? 1);
  const high = Number(scaling.high_freq_factor ?? 4);
  const oldCtx = Number(scaling.original_max_position_embeddings ?? 8192);
  const lowWavelen = oldCtx / low;
  const highWavelen = oldCtx / high;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = 1 / Math.pow(base, Math.fround((2 * i) / dim));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (oldCtx / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

const LAYER_NAMES: Record<string, string> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
  input_layernorm: 'attn_norm',
};

/** The GGUF name of an HF tensor, or null for one the converter drops (tied head, rotary caches). */
export function ggufTensorName(arch: GgufArch, hfName: string): string | null {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return 'output.weight';
  if (hfName.endsWith('.rotary_emb.inv_freq')) return null;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  if (!m) throw new GgufExportError(`tensor "${hfName}" has no GGUF name for ${arch}`);
  const [, layer, part, kind] = m;
  let name = LAYER_NAMES[part!];
  if (part === 'post_attention_layernorm') name = arch === 'gemma3' ? 'post_attention_norm' : 'ffn_norm';
  if (arch === 'gemma3' && part === 'pre_feedforward_layernorm') name = 'ffn_norm';
  if (arch === 'gemma3' && part === 'post_feedforward_layernorm') name = 'post_ffw_norm';
  if (!name) throw new GgufExportError(`tensor "${hfName}" has no GGUF name for ${arch}`);
  return `blk.${layer}.${name}.${kind}`;
}

/**
 * HF rotate-half rows -> GGML interleaved rows, per head (the converter's LlamaModel.permute):
 * for head h, output row h*D + 2j + s is input row h*D + s*D/2 + j. Works on [rows, cols] or a bias.
 */
export function permuteRows(x: Float32Array, rows: number, heads: number): Float32Array {
  const cols = x.length / rows;
  const D = rows / heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new GgufExportError(`cannot permute ${rows} rows into ${heads} heads of even size`);
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < D / 2; j++) {
      for (let s = 0; s < 2; s++) {
        const src = (h * D + s * (D / 2) + j) * cols;
        out.set(x.subarray(src, src + cols), (h * D + 2 * j + s) * cols);
      }
    }
  }
  return out;
}

/** How the rows of an HF q/k projection (weight, bias or LoRA B) are reordered for this arch. */
export function rowTransform(arch: GgufArch, c: Config, hfName: string): ((x: Float32Array, rows: number) => Float32Array) | null {
  if (arch !== 'llama') return null;
  const heads = num(c, 'num_attention_heads');
  const kvHeads = num(c, 'num_key_value_heads', heads);
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return (x, rows) => permuteRows(x, rows, heads);
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return (x, rows) => permuteRows(x, rows, kvHeads);
  return null;
}

/** Storage type per tensor as the converter picks it: 1-D, norms and biases F32; matrices the chosen type (F16 when Q8_0 rows don't fit). */
export function tensorType(ggufName: string, shape: number[], weightType: GgmlType): GgmlType {
  if (shape.length <= 1 || ggufName.endsWith('_norm.weight') || !ggufName.endsWith('.weight')) return GgmlType.F32;
  if (weightType === GgmlType.Q8_0 && shape[shape.length - 1]! % 32 !== 0) return GgmlType.F16;
  return weightType;
}

/**
 * The base (or merged) model's tensors under GGUF names, transformed and typed as the converter
 * does, or for the quantized file types as llama-quantize would then retype them (quant-mix.ts).
 */
export function ggufModelTensors(arch: GgufArch, c: Config, tensors: SourceTensor[], weightType: GgufWeightType): GgufTensor[] {
  const wt = WEIGHT_TYPES[weightType];
  const tied = c.tie_word_embeddings === true || (arch === 'gemma3' && c.tie_word_embeddings !== false);
  const out: GgufTensor[] = [];
  const factors = arch === 'llama' ? llama3RopeFactors(c) : null;
  if (factors) out.push({ name: 'rope_freqs.weight', shape: [factors.length], type: GgmlType.F32, read: async () => factors });
  for (const t of tensors) {
    if (tied && t.name === 'lm_head.weight') continue;
    const name = ggufTensorName(arch, t.name);
    if (!name) continue;
    const rows = t.shape[0]!;
    const perm = rowTransform(arch, c, t.name);
    const shift = arch === 'gemma3' && t.name.endsWith('norm.weight');
    out.push({
      name,
      shape: t.shape,
      type: tensorType(name, t.shape, wt.quantize ? GgmlType.F32 : wt.ggml),
      read: async () => {
        let x = await t.read();
        if (perm) x = perm(x, rows);
        if (shift) x = x.map((v) => v + 1);
        return x;
      },
    });
  }
  if (wt.quantize) {
    const types = quantizedTypes(out, weightType, num(c, 'num_hidden_layers'));
    for (const t of out) t.type = types.get(t.name)!;
  }
  return out;
}
