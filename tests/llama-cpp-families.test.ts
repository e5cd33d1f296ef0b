// Real client, every family the studio trains: llama.cpp runs our GGUF export of each tiny
// reference model (Llama 3 rope scaling, Qwen2 biases, Qwen3 q/k norms, Gemma 3 sandwich norms,
// sliding windows and (1 + w) norms) to transformers' own greedy tokens (reference.json), alone,
// with the PEFT adapter saved by PEFT itself converted to a LoRA GGUF, and merged into the weights.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openModelFiles } from '../cli/node-runtime';
import { NodeFolderSink } from '../cli/file-sink';
import { FAMILY_MODELS, modelDir, readReference, type Reference } from './families-fixture';
import { LLAMA_CPP_AVAILABLE, llamaCppGreedy } from './llama-cpp-client';
import { listModelTensors, type SourceTensor } from '../src/export/model-tensors';
import { mergedTensors } from '../src/export/merge';
import { writeGgufLora, writeGgufModel } from '../src/export/gguf/model-file';
import { fromPeftFiles } from '../src/adapters/peft';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import type { ModelFileSet } from '../src/model/files';
import type { LoraSpec, LoraWeights } from '../src/adapters/lora-types';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gguf-families-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!LLAMA_CPP_AVAILABLE).each(FAMILY_MODELS)('llama.cpp runs our GGUF of %s', (name) => {
  let files: ModelFileSet;
  let tensors: SourceTensor[];
  let ref: Reference;
  let adapter: { spec: LoraSpec; weights: LoraWeights };
  const write = async (file: string, ts: SourceTensor[]) => {
    const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
    await writeGgufModel(await new NodeFolderSink(dir).create(file), { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tokenizer, tensors: ts, name }, 'f32');
    return path.join(dir, file);
  };
  beforeAll(async () => {
    files = await openModelFiles(modelDir(name));
    tensors = await listModelTensors(files);
    ref = await readReference(name);
    const p = `${modelDir(name)}peft-adapter/`;
    adapter = await fromPeftFiles(await readFile(`${p}adapter_config.json`, 'utf8'), new Uint8Array(await readFile(`${p}adapter_model.safetensors`)));
  });

  it('base: the reference greedy tokens', async () => {
    const r = ref.base[0]!;
    expect(await llamaCppGreedy(await write(`${name}.gguf`, tensors), r.prompt_ids, r.output_ids.length)).toEqual(r.output_ids);
  });

  it('base + the PEFT adapter as a LoRA GGUF: the reference adapter tokens', async () => {
    const r = ref.adapter[0]!;
    const lora = path.join(dir, `${name}-lora.gguf`);
    await writeGgufLora(await new NodeFolderSink(dir).create(`${name}-lora.gguf`), { config: files.config, spec: adapter.spec, weights: adapter.weights, name }, 'f32');
    expect(await llamaCppGreedy(await write(`${name}-b.gguf`, tensors), r.prompt_ids, r.output_ids.length, [lora])).toEqual(r.output_ids);
  });

  it('merged: the reference adapter tokens', async () => {
    const r = ref.adapter[0]!;
    expect(await llamaCppGreedy(await write(`${name}-merged.gguf`, mergedTensors(tensors, adapter.spec, adapter.weights)), r.prompt_ids, r.output_ids.length)).toEqual(r.output_ids);
  });
});
