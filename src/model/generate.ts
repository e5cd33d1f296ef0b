// Autoregressive generation with a KV cache: one forward over the prompt, then one token at a time.
import * as tf from '@tensorflow/tfjs';
import { type LlamaModel, type LoraHook, newKvCache, disposeKvCache } from './llama';
import { sampleToken, type SamplingOptions } from './sampling';
import { seededRandom } from '../util/random';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Ids that end generation (not included in the output). Empty: always produce maxNewTokens. */
  stopIds?: number[];
  lora?: LoraHook | null;
  /** Called with each new token as it is produced; return false to stop early. */
  onToken?: (id: number) => boolean | void;
}

export async function generate(model: LlamaModel, promptIds: number[], opts: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generate: the prompt must hold at least one token (e.g. BOS)');
  const room = model.config.maxPositions - promptIds.length;
  const maxNew = Math.max(0, Math.min(opts.maxNewTokens, room));
  const random = seededRandom(opts.seed ?? 0);
  const cache = newKvCache(model.config);
  const out: number[] = [];
  try {
    let input = promptIds;
    while (out.length < maxNew) {
      const ids = tf.tensor2d(input, [1, input.length], 'int32');
      const logits = model.forward(ids, { lora: opts.lora, cache }); // [T, V]
      ids.dispose();
      const last = tf.tidy(() => logits.slice([input.length - 1, 0], [1, -1]));
      logits.dispose();
      const row = (await last.data()) as Float32Array;
      last.dispose();
      const next = sampleToken(row, opts, random);
      if (opts.stopIds?.includes(next)) break;
      out.push(next);
      if (opts.onToken?.(next) === false) break;
      input = [next];
    }
  } finally {
    disposeKvCache(cache);
  }
  return out;
}
