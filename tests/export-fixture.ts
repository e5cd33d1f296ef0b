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
