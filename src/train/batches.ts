// Turns tokenized examples into next-token batches [B, T]; short rows are padded with weight 0.
// T is the longest row's length rounded up to a multiple of PAD_MULTIPLE (at most seqLen), as
// PyTorch collators pad to the longest row: a batch of 60-token rows with seqLen 256 computes 64
// positions, not 256, while the few distinct shapes still let the GPU buffer pool (keyed by exact
// size) reuse buffers. Data order is a seeded permutation per epoch, so a run is reproducible and
// resumable.
import { permutation } from '../util/random';

export interface TokenizedExample {
  inputIds: number[];
  /** lossMask[t] = 1 when token t is a training target. */
  lossMask: number[];
  /** Packed rows only (src/data/packing.ts): each token's position within its example, and its example's id. */
  positions?: number[];
  segments?: number[];
  /** Preference pairs (DPO): this example is the chosen answer, `rejected` the worse answer to the same prompt. */
  rejected?: TokenizedExample;
  /** Unpaired feedback (KTO): whether this answer is desirable (true) or undesirable (false). */
  label?: boolean;
  /** Prompt-only rows (GRPO): the prompt's text and the whole JSON line, handed to the reward function. */
  prompt?: string;
  row?: Record<string, unknown>;
  /** 1-based line in the data file, for messages that name a row. */
  line?: number;
}

export interface Batch {
  inputs: Int32Array; // [B*T] tokens 0..T-1 of each row
  targets: Int32Array; // [B*T] tokens 1..T
  weights: Float32Array; // [B*T] 1 where the target carries loss
  batchSize: number;
  seqLen: number;
  /** Number of target tokens that carry loss. */
  tokens: number;
  /** Set when any row is packed: per-input-token positions and segment ids for model.forward. */
  packing?: { positions: Int32Array; segments: Int32Array }; // [B*T] each
}

/** Batch lengths are rounded up to a multiple of this (see paddedLength). */
export const PAD_MULTIPLE = 64;

/**
 * The T a batch of `rows` needs: its longest row's predictions, rounded up to a multiple of
 * PAD_MULTIPLE, at most `seqLen` (longer rows are cut there, as before). Padding changes no loss
 * (weight 0, and causal attention never reads it from a real token), so this only skips work.
 */
export function paddedLength(rows: TokenizedExample[], seqLen: number): number {
  const longest = Math.max(1, ...rows.map((r) => r.inputIds.length - 1));
  return Math.min(seqLen, Math.ceil(longest / PAD_MULTIPLE) * PAD_MULTIPLE);
}

export function makeBatch(rows: TokenizedExample[], seqLen: number, padId = 0): Batch {
  const B = rows.length;
  const T = seqLen;
  const inputs = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(padId);
  const weights = new Float32Array(B * T);
  let tokens = 0;
  // Padding gets segment -1 (its own segment) so no real token attends to it.
  const packed = rows.some((ex) => ex.positions !== undefined);
  const positions = packed ? new Int32Array(B * T) : null;
  const segments = packed ? new Int32Array(B * T).fill(-1) : null;
  rows.forEach((ex, b) => {
    const n = Math.min(ex.inputIds.length - 1, T); // predictions in this row
    for (let t = 0; t < n; t++) {
      if (positions && segments) {
        positions[b * T + t] = ex.positions?.[t] ?? t;
        segments[b * T + t] = ex.segments?.[t] ?? 0;
      }
      inputs[b * T + t] = ex.inputIds[t];
      targets[b * T + t] = ex.inputIds[t + 1];
      const w = ex.lossMask[t + 1] ? 1 : 0;
      weights[b * T + t] = w;
      tokens += w;
    }
  });
  const batch: Batch = { inputs, targets, weights, batchSize: B, seqLen: T, tokens };
  if (positions && segments) batch.packing = { positions, segments };
  return batch;
}

/**
 * Batches for measuring a loss over `examples` (no gradient): `batchSize` rows at a time, the last
 * batch only as many rows as are left, and each batch only as long as its longest row (at most
 * `seqLen`). Padding changes no loss (its weight is 0 and causal attention never reads it from a
 * real token), so this only skips work: ~40-token paragraphs were computed at 256 positions each,
 * and a last batch of one example as four rows.
 */
export function lossBatches(examples: TokenizedExample[], seqLen: number, batchSize: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    const rows = examples.slice(i, i + batchSize);
    const longest = Math.max(1, ...rows.map((r) => r.inputIds.length - 1));
    const b = makeBatch(rows, Math.min(seqLen, longest));
    if (b.tokens > 0) out.push(b);
  }
  return out;
}

/** Where the data stream stands: epoch and index into that epoch's permutation. */
export interface DataPosition {
  epoch: number;
  index: number;
}

/** The next batch of `batchSize` examples, walking seeded epoch permutations; returns the new position. */
export function nextRows<T>(examples: T[], batchSize: number, pos: DataPosition, seed: number): { rows: T[]; pos: DataPosition } {
  if (examples.length === 0) throw new Error('no training examples');
  const rows: T[] = [];
  let { epoch, index } = pos;
  let perm = permutation(examples.length, seed + epoch);
  while (rows.length < batchSize) {
    if (index >= examples.length) {
      epoch++;
      index = 0;
      perm = permutation(examples.length, seed + epoch);
    }
    rows.push(examples[perm[index++]]);
  }
  return { rows, pos: { epoch, index } };
}
