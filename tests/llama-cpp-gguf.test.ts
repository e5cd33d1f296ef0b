// Real client: llama.cpp (node-llama-cpp's prebuilt CPU binary) runs the GGUF files we write and
// continues greedily exactly as our own engine does (the code `npm run generate` runs): the base
// model in F32 / F16 / Q8_0, base + our LoRA GGUF adapter (F32 and F16), and base + adapter merged.
// On stories260K (SentencePiece-style vocabulary, llama q/k permutation) and on a random-weight
// model with SmolLM2's real byte-level BPE tokenizer; llama.cpp also tokenizes text as we do.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { NodeFolderSink } from '../cli/file-sink';
import { greedyIds, memoryModelFiles, randomBpeModel } from './export-fixture';
import { LLAMA_CPP_AVAILABLE, llamaCppGreedy, llamaCppTokenize } from './llama-cpp-client';
import { STORIES } from './stories-fixture';
import { listModelTensors, type SourceTensor } from '../src/export/model-tensors';
import { mergedTensors } from '../src/export/merge';
import { writeGgufLora, writeGgufModel, type GgufLoraType } from '../src/export/gguf/model-file';
import { type GgufWeightType } from '../src/export/gguf/constants';
import { loadModel } from '../src/model/load';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import type { ModelFileSet } from '../src/model/files';
import type { LlamaModel } from '../src/model/llama';
import type { LoraSpec, LoraWeights } from '../src/adapters/lora-types';

const N = 24;
let dir: string;

interface Case {
  label: string;
  files: ModelFileSet;
  model: LlamaModel;
  tokenizer: TextTokenizer;
  tensors: SourceTensor[];
  adapter: { spec: LoraSpec; weights: LoraWeights };
  prompt: number[];
}

async function gguf(c: Case, file: string, type: GgufWeightType, tensors = c.tensors): Promise<string> {
  const sink = new NodeFolderSink(dir);
  await writeGgufModel(await sink.create(file), { config: c.files.config, tokenizerJson: c.files.tokenizerJson, tokenizerConfig: c.files.tokenizerConfig, tokenizer: c.tokenizer, tensors, name: c.label }, type);
  return path.join(dir, file);
}

async function ggufLora(c: Case, file: string, type: GgufLoraType): Promise<string> {
  const sink = new NodeFolderSink(dir);
  await writeGgufLora(await sink.create(file), { config: c.files.config, spec: c.adapter.spec, weights: c.adapter.weights, name: `${c.label} adapter` }, type);
  return path.join(dir, file);
}

const ALL: LoraSpec['targetModules'] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

async function makeCase(label: string, files: ModelFileSet, prompt: string, bScale: number, useRslora: boolean): Promise<Case> {
  const model = await loadModel(files);
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ALL, useRslora, baseModel: label };
  return { label, files, model, tokenizer, tensors: await listModelTensors(files), adapter: { spec, weights: syntheticLoraWeights(model.config, spec, 11, bScale) }, prompt: tokenizer.encode(prompt) };
}

const cases: Case[] = [];

beforeAll(async () => {
  await initNodeBackend('wasm');
  dir = await mkdtemp(path.join(tmpdir(), 'gguf-'));
  cases.push(await makeCase('stories260K', await openModelFiles(STORIES), 'Once upon a time', 0.2, false));
  cases.push(await makeCase('random-smollm2-bpe', await memoryModelFiles(await randomBpeModel(), 'random-smollm2-bpe'), 'The quick brown fox', 0.1, true));
});

afterAll(async () => {
  for (const c of cases) c.model.dispose();
  await rm(dir, { recursive: true, force: true });
});

// Random weights at a 49,152-token vocabulary leave near ties that F16/Q8_0 rounding may flip, so
// the lossy base types are checked on the pretrained stories260K only.
const BASE_TYPES: GgufWeightType[][] = [['f32', 'f16', 'q8_0'], ['f32']];

describe.skipIf(!LLAMA_CPP_AVAILABLE).each([0, 1])('llama.cpp runs our GGUF files (case %i: 0 stories260K, 1 random SmolLM2-BPE)', (i) => {
  it('tokenizes text exactly as our tokenizer does', async () => {
    const c = cases[i]!;
    const file = await gguf(c, `${c.label}-vocab.gguf`, 'f32');
    const texts = ['Once upon a time, there was a little girl.', 'Lily said: "Hello!"\nThe end.', ' two  spaces', 'naïve café 42'];
    expect(await llamaCppTokenize(file, texts)).toEqual(texts.map((t) => c.tokenizer.encode(t, { addSpecialTokens: false })));
  });

  it.each(BASE_TYPES[i]!)('base model (%s) continues as our engine does', async (type) => {
    const c = cases[i]!;
    const ours = await greedyIds(c.model, c.prompt, N);
    expect(await llamaCppGreedy(await gguf(c, `${c.label}-${type}.gguf`, type), c.prompt, N)).toEqual(ours);
  });

  it.each(['f32', 'f16'] as const)('base + our LoRA GGUF adapter (%s) continues as our engine with the adapter', async (type) => {
    const c = cases[i]!;
    const ours = await greedyIds(c.model, c.prompt, N, c.adapter);
    expect(ours).not.toEqual(await greedyIds(c.model, c.prompt, N)); // the adapter matters
    const base = await gguf(c, `${c.label}-base.gguf`, 'f32');
    expect(await llamaCppGreedy(base, c.prompt, N, [await ggufLora(c, `${c.label}-lora-${type}.gguf`, type)])).toEqual(ours);
  });

  it('the merged model continues as our engine with the adapter', async () => {
    const c = cases[i]!;
    const ours = await greedyIds(c.model, c.prompt, N, c.adapter);
    const merged = await gguf(c, `${c.label}-merged.gguf`, 'f32', mergedTensors(c.tensors, c.adapter.spec, c.adapter.weights));
    expect(await llamaCppGreedy(merged, c.prompt, N)).toEqual(ours);
  });
});
