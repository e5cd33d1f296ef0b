// The models the Model step offers, with what a person needs before a long download: family, size
// (parameters and bf16 download, computed from the config shape below, not typed by hand), licence
// and whether the repo is gated, and whether training it is likely to fit this device (the same
// memory estimate the Train step shows). No React here: ModelCatalog.tsx renders it.
import { parameterCount, parseConfig, type ModelConfig } from '../model/config';
import { baseMemory, defaultPrecision } from '../model/load';
import { estimateTraining, type EstimateBackend } from '../train/estimate';

export interface CatalogEntry {
  id: string;
  /** Shown next to the id. */
  label: string;
  licence: string;
  /** Gated repos need the licence accepted on the hub and an access token. */
  gated: boolean;
  instruct: boolean;
  /** The config.json shape keys (as on the hub), enough to size the model and estimate training. */
  shape: Record<string, unknown>;
}

const llama = (o: Record<string, unknown>) => ({ architectures: ['LlamaForCausalLM'], model_type: 'llama', tie_word_embeddings: true, ...o });

export const CATALOG: readonly CatalogEntry[] = [
  { id: 'HuggingFaceTB/SmolLM2-135M', label: 'SmolLM2 135M', licence: 'Apache-2.0', gated: false, instruct: false, shape: llama({ hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152 }) },
  { id: 'HuggingFaceTB/SmolLM2-135M-Instruct', label: 'SmolLM2 135M Instruct', licence: 'Apache-2.0', gated: false, instruct: true, shape: llama({ hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152 }) },
  { id: 'HuggingFaceTB/SmolLM2-360M', label: 'SmolLM2 360M', licence: 'Apache-2.0', gated: false, instruct: false, shape: llama({ hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15, num_key_value_heads: 5, vocab_size: 49152 }) },
  { id: 'HuggingFaceTB/SmolLM2-360M-Instruct', label: 'SmolLM2 360M Instruct', licence: 'Apache-2.0', gated: false, instruct: true, shape: llama({ hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15, num_key_value_heads: 5, vocab_size: 49152 }) },
  {
    id: 'Qwen/Qwen2.5-0.5B-Instruct', label: 'Qwen2.5 0.5B Instruct', licence: 'Apache-2.0', gated: false, instruct: true,
    shape: { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true, rope_theta: 1e6 },
  },
  {
    id: 'Qwen/Qwen3-0.6B', label: 'Qwen3 0.6B', licence: 'Apache-2.0', gated: false, instruct: true,
    shape: { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, vocab_size: 151936, tie_word_embeddings: true, rope_theta: 1e6 },
  },
  {
    id: 'google/gemma-3-270m-it', label: 'Gemma 3 270M (instruction-tuned)', licence: 'Gemma Terms of Use', gated: true, instruct: true,
    shape: { architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', hidden_size: 640, intermediate_size: 2048, num_hidden_layers: 18, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, vocab_size: 262144, query_pre_attn_scalar: 256, sliding_window: 512, _sliding_window_pattern: 6 },
  },
  {
    id: 'meta-llama/Llama-3.2-1B-Instruct', label: 'Llama 3.2 1B Instruct', licence: 'Llama 3.2 Community License', gated: true, instruct: true,
    shape: llama({ hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, rope_theta: 500000 }),
  },
];

/** What a device can spend on training, in bytes, and why (shown beside the verdict). */
export interface DeviceBudget {
  bytes: number;
  basis: string;
}

/**
 * tfjs-wasm lives in a 32-bit heap (at most 4 GiB, 2 GiB where browsers cap it); WebGPU buffers sit
 * in GPU memory the page cannot query, so half of navigator.deviceMemory (Chrome reports at most 8)
 * stands in. Rough on purpose: the verdict says "likely", and the Train step has the full estimate.
 */
export function deviceBudget(backend: EstimateBackend, deviceMemoryGb: number | undefined): DeviceBudget {
  const gib = 1024 ** 3;
  const ram = deviceMemoryGb && deviceMemoryGb > 0 ? deviceMemoryGb : 4;
  if (backend === 'webgpu' || backend === 'webgpu-fallback') return { bytes: (ram / 2) * gib, basis: `half of this device's ${ram} GB memory` };
  return { bytes: Math.min(2, ram / 2) * gib, basis: 'the 2 GB a wasm heap can reliably use' };
}

/** The training shape the verdict assumes: the default adapter, one 256-token sequence per step (the smallest useful run). */
export const FIT_ASSUMPTION = { rank: 8, targets: ['q_proj', 'v_proj'] as const, batchSize: 1, seqLen: 256 };

export interface CatalogFacts {
  config: ModelConfig;
  parameters: number;
  /** bf16 weights, as the hub serves these models. */
  downloadBytes: number;
  /** Training memory with the base as 'auto' loads it (NF4 above 4 MB of linear weights). */
  trainingBytes: number;
  fits: 'yes' | 'tight' | 'no';
}

export function catalogFacts(e: CatalogEntry, backend: EstimateBackend, budget: DeviceBudget): CatalogFacts {
  const config = parseConfig(e.shape);
  const parameters = parameterCount(config);
  const mem = baseMemory(config);
  const base = defaultPrecision(config) === 'nf4' ? mem.linearNf4Bytes + mem.otherBytes : mem.linearFp32Bytes + mem.otherBytes;
  const est = estimateTraining({ config, ...FIT_ASSUMPTION, gradAccum: 1, examples: 100, steps: 1, backend, baseWeightBytes: base });
  const total = est.memory.total;
  const fits = total <= 0.7 * budget.bytes ? 'yes' : total <= budget.bytes ? 'tight' : 'no';
  return { config, parameters, downloadBytes: 2 * parameters, trainingBytes: total, fits };
}
