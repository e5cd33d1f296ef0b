// Shared by the export tests: a folder written into a MemorySink opened as a ModelFileSet (the
// form src/model/load.ts reads), and greedy ids with or without a LoRA adapter.
import { MemorySink } from '../src/export/sink';
import { type ModelFileSet } from '../src/model/files';
import { modelFingerprint } from '../src/model/fingerprint';
import { bufferSource } from '../src/model/safetensors';
import { generate } from '../src/model/generate';
import { type LlamaModel } from '../src/model/llama';
import { LoraAdapter } from '../src/train/lora';
import type { LoraSpec, LoraWeights } from '../src/adapters/lora-types';

export async function memoryModelFiles(sink: MemorySink, source = 'memory'): Promise<ModelFileSet> {
  const configText = sink.text('config.json');
  const shards = [{ name: 'model.safetensors', bytes: bufferSource(sink.files.get('model.safetensors')!) }];
  return {
    source,
    config: JSON.parse(configText),
    tokenizerJson: JSON.parse(sink.text('tokenizer.json')),
    tokenizerConfig: JSON.parse(sink.text('tokenizer_config.json')),
    shards,
    fingerprint: await modelFingerprint(configText, shards),
  };
}

export async function greedyIds(model: LlamaModel, prompt: number[], n: number, adapter?: { spec: LoraSpec; weights: LoraWeights }): Promise<number[]> {
  const lora = adapter ? LoraAdapter.fromWeights(model.config, adapter.spec, adapter.weights) : null;
  try {
    return await generate(model, prompt, { maxNewTokens: n, lora });
  } finally {
    lora?.dispose();
  }
}

/**
 * A random-weight model with a real byte-level BPE tokenizer (SmolLM2's, 49,152 entries) and a tiny
 * Llama shape, written by our own exporter: weights uniform in ±scale so greedy margins are wide.
 */
export async function randomBpeModel(seed = 3): Promise<MemorySink> {
  const { readFile } = await import('node:fs/promises');
  const { writeHfModel } = await import('../src/export/hf-model');
  const { uniformValues } = await import('../src/util/random');
  const dir = new URL('../../shared/tokenizers/smollm2/', import.meta.url).pathname;
  const real = JSON.parse(await readFile(dir + 'config.json', 'utf8')) as Record<string, unknown>;
  // v4 schema (top-level rope_theta): the engine on this branch does not read v5's rope_parameters yet.
  const { rope_parameters: rope, ...rest } = real as { rope_parameters: { rope_theta: number } };
  const config = { ...rest, rope_theta: rope.rope_theta, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, dtype: 'float32', max_position_embeddings: 256 };
  const C = 64, F = 128, V = 49152, Q = 64, KV = 32;
  const shapes: [string, number[], number][] = [['model.embed_tokens.weight', [V, C], 1], ['model.norm.weight', [C], 0]];
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [C], 0], [`${p}.post_attention_layernorm.weight`, [C], 0],
      [`${p}.self_attn.q_proj.weight`, [Q, C], 0.3], [`${p}.self_attn.k_proj.weight`, [KV, C], 0.3],
      [`${p}.self_attn.v_proj.weight`, [KV, C], 0.3], [`${p}.self_attn.o_proj.weight`, [C, Q], 0.3],
      [`${p}.mlp.gate_proj.weight`, [F, C], 0.3], [`${p}.mlp.up_proj.weight`, [F, C], 0.3], [`${p}.mlp.down_proj.weight`, [C, F], 0.3],
    );
  }
  let s = seed;
  const tensors = shapes.map(([name, shape, scale]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = scale === 0 ? new Float32Array(n).fill(1) : uniformValues(n, s++).map((v) => v * scale);
    return { name, shape, dtype: 'F32' as const, read: async () => data };
  });
  const sink = new MemorySink();
  await writeHfModel(sink, {
    config,
    tokenizerJson: JSON.parse(await readFile(dir + 'tokenizer.json', 'utf8')),
    tokenizerConfig: JSON.parse(await readFile(dir + 'tokenizer_config.json', 'utf8')),
    tensors,
  });
  return sink;
}
