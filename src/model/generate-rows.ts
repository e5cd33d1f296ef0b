// Several continuations of one prompt decoded side by side in one batch, each row with its own
// LoRA hook or none: the Evaluate view's base and tuned columns, GRPO's group of samples of one
// prompt (one hook, a seed per row), a run's sample prompts of one length. Every frozen weight is then read
// (and, for NF4 and int8, decoded) once per token for both rows instead of once per row, and the
// per-token work outside the products (op dispatch, norms, rope) is shared too. `generate` is
// this with one row.
//
// With two rows each gets the tokens it would get from `generate` alone: the rows share the
// prompt, so they share positions and need no padding; a row's LoRA delta is computed on its own
// rows of x only; the NF4 and int8 two-row kernels give each row one-row arithmetic bit for bit;
// and a row that stops leaves the batch (its cache rows are dropped), so the rest runs as it would
// alone. Three or more rows take the four-row NF4 kernel, whose sums run in another order: each
// row is then within rounding of its lone run, not equal to it bit for bit.
import * as tf from '@tensorflow/tfjs';
import { type KvCache, type KvPrefix, type LlamaModel, type LoraHook, newKvCache, disposeKvCache } from './llama';
import type { LinearModule } from './config';
import { sampleToken, type SamplingOptions } from './sampling';
import { seededRandom } from '../util/random';

export interface GenerateRowsOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Each row samples from its own generator seeded with this (as `generate` does), so rows match lone runs. */
  seed?: number;
  /** A seed per row instead (GRPO's group: one prompt, several samples). */
  seeds?: number[];
  /** Ids that end a row (not included in its output). */
  stopIds?: number[];
  /** Called with each row's new token as it is produced; return false to end that row there. */
  onToken?: (row: number, id: number) => boolean | void;
  /** A soft prompt (prompt or prefix tuning, src/train/soft-prompt.ts) before every row's prompt. */
  soft?: SoftPromptHook | null;
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

/** The LoRA hook of a batch whose row r (T positions each) uses hooks[r]: x [R*T, in] -> delta [R*T, out] or null. */
export class RowHooks implements LoraHook {
  constructor(
    private readonly hooks: (LoraHook | null)[],
    private readonly T: number,
  ) {}

  delta(layer: number, module: LinearModule, x: tf.Tensor2D): tf.Tensor2D | null {
    const T = this.T;
    const parts = this.hooks.map((h, r) => h?.delta(layer, module, tf.slice(x, [r * T, 0], [T, -1]) as tf.Tensor2D) ?? null); // [T, out] each
    const shaped = parts.find((d) => d !== null);
    if (!shaped) return null;
    return tf.concat(parts.map((d) => d ?? tf.zeros([T, shaped.shape[1]])), 0) as tf.Tensor2D; // [R*T, out]
  }
}

/**
 * One continuation per hook (null: the base model) of `prompt`, decoded together. `prompt` may
 * instead hold one prompt per row, all of one length (they then share positions, no padding).
 */
export async function generateRows(model: LlamaModel, prompt: number[] | number[][], hooks: (LoraHook | null)[], opts: GenerateRowsOptions): Promise<number[][]> {
  const prompts = isPerRow(prompt) ? prompt : hooks.map(() => prompt);
  if (prompts.length !== hooks.length) throw new Error(`generateRows: ${hooks.length} rows but ${prompts.length} prompts`);
  const L = prompts[0]?.length ?? 0;
  if (prompts.some((p) => p.length !== L)) throw new Error(`generateRows: prompts of one batch must be of one length, found ${prompts.map((p) => p.length).join(', ')}`);
  if (L === 0 && hooks.length > 0) throw new Error('generateRows: the prompt must hold at least one token (e.g. BOS)');
  const soft = opts.soft ?? null;
  const room = model.config.maxPositions - L - (soft?.length ?? 0);
  const maxNew = Math.max(0, Math.min(opts.maxNewTokens, room));
  const out: number[][] = hooks.map(() => []);
  if (opts.seeds && opts.seeds.length !== hooks.length) throw new Error(`generateRows: ${hooks.length} rows but ${opts.seeds.length} seeds`);
  const random = hooks.map((_, r) => seededRandom(opts.seeds?.[r] ?? opts.seed ?? 0));
  const stops = new Set(opts.stopIds ?? []);
  let live = maxNew > 0 ? hooks.map((_, r) => r) : []; // rows still decoding, in batch order
  const cache = newKvCache(model.config);
  try {
    const next: number[] = []; // each row's last token, its input after the prompt
    for (let prefill = true; live.length > 0; prefill = false) {
      const T = prefill ? L : 1;
      const R = live.length;
      const ids = tf.tensor2d(live.flatMap((r) => (prefill ? prompts[r] : [next[r]])), [R, T], 'int32');
      // The first forward puts a prompt-tuning soft prompt's N vectors before each row's tokens.
      const virtual = prefill && soft?.embeddings ? soft.embeddings : null;
      const rowLen = virtual ? soft!.length + T : T; // positions per row in this forward
      const rowHooks = live.map((r) => hooks[r]);
      // One hook for every row (a group of samples) applies to the whole batch at once.
      const lora = rowHooks.every((h) => h === rowHooks[0]) ? rowHooks[0] : new RowHooks(rowHooks, rowLen);
      const fwd = { lora, cache, prefix: soft?.prefix };
      const h = virtual
        ? tf.tidy(() => {
            const v = virtual().expandDims(0); // [1, N, C]
            const x = tf.concat([R === 1 ? v : tf.tile(v, [R, 1, 1]), model.embed(ids)], 1) as tf.Tensor3D; // [R, N+T, C]
            return model.forwardHiddenFromEmbeddings(x, fwd); // [R*(N+T), C]: the cache now holds N+T positions
          })
        : model.forwardHidden(ids, fwd); // [R*T, C]
      ids.dispose();
      // Only each row's last position needs logits: [R, V], not [R*rowLen, V].
      const logits = tf.tidy(() => model.logitsFrom(rowLen === 1 ? h : (tf.gather(h, live.map((_, i) => i * rowLen + rowLen - 1)) as tf.Tensor2D)));
      h.dispose();
      const rows = (await logits.data()) as Float32Array;
      logits.dispose();
      const V = rows.length / R;
      const keep: number[] = [];
      live.forEach((r, i) => {
        const id = sampleToken(rows.subarray(i * V, (i + 1) * V), opts, random[r]);
        if (stops.has(id)) return;
        out[r].push(id);
        next[r] = id;
        if (opts.onToken?.(r, id) !== false && out[r].length < maxNew) keep.push(i);
      });
      if (keep.length < R && keep.length > 0) dropRows(cache, keep);
      live = keep.map((i) => live[i]);
    }
  } finally {
    disposeKvCache(cache);
  }
  return out;
}

function isPerRow(p: number[] | number[][]): p is number[][] {
  return p.length > 0 && Array.isArray(p[0]);
}

/** Keeps batch rows `keep` (indices into the current batch) of every cached key and value. */
function dropRows(cache: KvCache, keep: number[]): void {
  for (const kv of [cache.k, cache.v]) {
    for (let i = 0; i < kv.length; i++) {
      const t = kv[i];
      if (!t) continue;
      kv[i] = tf.tidy(() => tf.gather(t, keep)) as tf.Tensor4D; // [R', K, S, D]
      t.dispose();
    }
  }
}
