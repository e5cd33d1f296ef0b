// The stories260K test model as the Node tests use it: where it lives, the model and tokenizer on
// the wasm backend, and short texts turned into training examples (EOS appended, BOS not a target).
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import type { ModelFileSet } from '../src/model/files';
import type { TokenizedExample } from '../src/train/batches';

export const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;

export async function loadStories(): Promise<{ files: ModelFileSet; model: LlamaModel; tokenizer: TextTokenizer }> {
  await initNodeBackend('wasm');
  const files = await openModelFiles(STORIES);
  return { files, model: await loadModel(files), tokenizer: loadTokenizer(files.tokenizerJson, files.tokenizerConfig) };
}

/** One example per text; the first `promptTokens` tokens (at least BOS) carry no loss. */
export function textExamples(tok: TextTokenizer, texts: string[], promptTokens = 1): TokenizedExample[] {
  return texts.map((t) => {
    const ids = [...tok.encode(t), tok.eosTokenId!];
    return { inputIds: ids, lossMask: ids.map((_, i) => (i < promptTokens ? 0 : 1)) };
  });
}

/** A tensor's values, disposing the tensor (tests read many one-off results). */
export async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
}
