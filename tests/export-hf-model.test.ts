// The Hugging Face folder exporter: stories260K written by src/export/hf-model.ts reloads through
// src/model/load.ts to the same logits (bit-exact in F32, the rounded weights in F16/BF16), a tied
// head stays tied, and base + LoRA merged in fp32 gives the greedy tokens of the adapter applied at
// run time. Bad input (an adapter of another model, a disk that fills) fails with a clear message.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadStories } from './stories-fixture';
import { greedyIds, memoryModelFiles } from './export-fixture';
import { MemorySink, ExportWriteError } from '../src/export/sink';
import { listModelTensors, ExportInputError, type SourceTensor } from '../src/export/model-tensors';
import { writeHfModel } from '../src/export/hf-model';
import { mergedTensors } from '../src/export/merge';
import { floatToBf16, floatToHalf } from '../src/export/dtype';
import { loadModel } from '../src/model/load';
import { bufferSource, halfToFloat, readHeader, readTensorF32 } from '../src/model/safetensors';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import type { ModelFileSet } from '../src/model/files';
import type { LlamaModel } from '../src/model/llama';
import type { LoraSpec } from '../src/adapters/lora-types';

const PROMPT = [1, 403, 407, 261, 378]; // "Once upon a time"

async function lastLogits(model: LlamaModel, ids: number[]): Promise<Float32Array> {
  const t = tf.tidy(() => model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).slice([ids.length - 1, 0], [1, -1]));
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

function inputOf(files: ModelFileSet, tensors: SourceTensor[]) {
  return { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tensors };
}

describe('Hugging Face folder export (stories260K)', () => {
  let files: ModelFileSet;
  let model: LlamaModel;
  let tensors: SourceTensor[];
  beforeAll(async () => {
    ({ files, model } = await loadStories());
    tensors = await listModelTensors(files);
  });

  it('F32 (the checkpoint dtype) reloads to bit-identical logits, with every file transformers needs', async () => {
    const sink = new MemorySink();
    const written = await writeHfModel(sink, inputOf(files, tensors));
    expect(written.map((f) => f.name).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(sink.text('config.json')).torch_dtype).toBe('float32');
    expect(JSON.parse(sink.text('generation_config.json'))).toEqual({ bos_token_id: 1, eos_token_id: 2 });
    const header = await readHeader(bufferSource(sink.files.get('model.safetensors')!));
    expect(header.metadata.format).toBe('pt');
    expect(header.tensors.has('lm_head.weight')).toBe(false); // tied stays tied
    expect([...header.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
    const reloaded = await loadModel(await memoryModelFiles(sink));
    expect(await lastLogits(reloaded, PROMPT)).toEqual(await lastLogits(model, PROMPT));
    reloaded.dispose();
  });

  it.each([
    ['F16', 'float16', floatToHalf, halfToFloat],
    ['BF16', 'bfloat16', floatToBf16, (b: number) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!],
  ] as const)('%s stores each weight rounded to nearest even and reloads to nearby logits', async (dtype, torchName, to, from) => {
    const sink = new MemorySink();
    await writeHfModel(sink, inputOf(files, tensors), { dtype });
    expect(JSON.parse(sink.text('config.json')).torch_dtype).toBe(torchName);
    const bytes = sink.files.get('model.safetensors')!;
    const header = await readHeader(bufferSource(bytes));
    for (const t of tensors) {
      expect(header.tensors.get(t.name)?.dtype).toBe(dtype);
      const want = (await t.read()).map((x) => from(to(x)));
      expect(await readTensorF32(bufferSource(bytes), header, t.name)).toEqual(want);
    }
    const reloaded = await loadModel(await memoryModelFiles(sink));
    const a = await lastLogits(reloaded, PROMPT);
    const b = await lastLogits(model, PROMPT);
    const maxDiff = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
    expect(maxDiff).toBeGreaterThan(0); // the rounding really happened
    expect(maxDiff).toBeLessThan(dtype === 'F16' ? 0.05 : 0.5);
    reloaded.dispose();
  });

  it('an untied head is written as lm_head.weight; a tied one is dropped even when present', async () => {
    const embed = tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
    const withHead = [...tensors, { ...embed, name: 'lm_head.weight' }];
    const untied = new MemorySink();
    await writeHfModel(untied, { ...inputOf(files, withHead), config: { ...(files.config as object), tie_word_embeddings: false } });
    expect((await readHeader(bufferSource(untied.files.get('model.safetensors')!))).tensors.has('lm_head.weight')).toBe(true);
    const tied = new MemorySink();
    await writeHfModel(tied, inputOf(files, withHead));
    expect((await readHeader(bufferSource(tied.files.get('model.safetensors')!))).tensors.has('lm_head.weight')).toBe(false);
  });

  it('base + LoRA merged in fp32 gives the same greedy tokens as the adapter applied at run time', async () => {
    const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false, baseModel: 'stories260K' };
    const weights = syntheticLoraWeights(model.config, spec, 7, 0.2);
    const sink = new MemorySink();
    await writeHfModel(sink, inputOf(files, mergedTensors(tensors, spec, weights)));
    const merged = await loadModel(await memoryModelFiles(sink));
    const runtime = await greedyIds(model, PROMPT, 40, { spec, weights });
    expect(runtime).not.toEqual(await greedyIds(model, PROMPT, 40)); // the adapter changes the text
    expect(await greedyIds(merged, PROMPT, 40)).toEqual(runtime);
    merged.dispose();
  });

  it('refuses an adapter whose shapes do not fit the base, naming the layer and tensor', async () => {
    const spec: LoraSpec = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'], useRslora: false, baseModel: 'other' };
    const weights = syntheticLoraWeights({ ...model.config, hiddenSize: 32, numHeads: 4 }, spec);
    expect(() => mergedTensors(tensors, spec, weights)).toThrow(ExportInputError);
    expect(() => mergedTensors(tensors, spec, weights)).toThrow(/q_proj in layer 0 is \[32 out, 32 in\] but "model\.layers\.0\.self_attn\.q_proj\.weight" in the base is \[64,64\]/);
  });

  it('a disk that fills mid-export fails with the file named and leaves no model.safetensors', async () => {
    const sink = new MemorySink(200_000); // stories260K's weights are ~1 MB
    await expect(writeHfModel(sink, inputOf(files, tensors))).rejects.toThrow(ExportWriteError);
    await expect(writeHfModel(new MemorySink(200_000), inputOf(files, tensors))).rejects.toThrow(/model\.safetensors: no space left/);
    expect(sink.files.has('model.safetensors')).toBe(false);
  });
});
