// Autoregressive generation with a KV cache: one forward over the prompt, then one token at a time.
import * as tf from '@tensorflow/tfjs';
import { type KvPrefix, type LlamaModel, type LoraHook, newKvCache, disposeKvCache } from './llama';
import { sampleToken, type SamplingOptions } from './sampling';
import { seededRandom } from '../util/random';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Ids that end generation (not included in the output). Empty: always produce maxNewTokens. */
  stopIds?: number[];
  lora?: LoraHook | null;
  /** A soft prompt (prompt or prefix tuning, src/train/soft-prompt.ts) in place before the prompt. */
  soft?: SoftPromptHook | null;
  /** Called with each new token as it is produced; return false to stop early. */
  onToken?: (id: number) => boolean | void;
}

/**
 * What generation needs of a soft prompt: N virtual input embeddings [N, C] put before the first
 * forward's tokens (then kept in the cache like them), or a key/value prefix every forward attends to.
 */
export interface SoftPromptHook {
  length: number; // N
  embeddings?: () => tf.Tensor2D; // [N, C]
  prefix?: KvPrefix;
}

export async function generate(model: LlamaModel, promptIds: number[], opts: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generate: the prompt must hold at least one token (e.g. BOS)');
  const soft = opts.soft ?? null;
  const room = model.config.maxPositions - promptIds.length - (soft?.length ?? 0);
  const maxNew = Math.max(0, Math.min(opts.maxNewTokens, room));
  const random = seededRandom(opts.seed ?? 0);
  const cache = newKvCache(model.config);
  const out: number[] = [];
  try {
    let input = promptIds;
    while (out.length < maxNew) {
      const ids = tf.tensor2d(input, [1, input.length], 'int32');
      const fwd = { lora: opts.lora, cache, prefix: soft?.prefix };
      const virtual = soft?.embeddings && out.length === 0 ? soft.embeddings : null;
      // Only the last position needs logits: the head on one row, not on the prompt's T.
      const last = virtual
        ? tf.tidy(() => {
            const x = tf.concat([virtual().expandDims(0), model.embed(ids)], 1) as tf.Tensor3D; // [1, N+T, C]
            const h = model.forwardHiddenFromEmbeddings(x, fwd); // [N+T, C]: the cache now holds N+T positions
            return model.logitsFrom(h.slice([soft!.length + input.length - 1, 0], [1, -1])); // [1, V]
          })
        : lastLogits(model, model.forwardHidden(ids, fwd)); // [1, V]
      ids.dispose();
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

/** h [T, C] (freed here) -> the last position's logits [1, V]. */
function lastLogits(model: LlamaModel, h: tf.Tensor2D): tf.Tensor2D {
  const T = h.shape[0];
  const out = tf.tidy(() => model.logitsFrom(T === 1 ? h : (h.slice([T - 1, 0], [1, -1]) as tf.Tensor2D)));
  h.dispose();
  return out;
}
