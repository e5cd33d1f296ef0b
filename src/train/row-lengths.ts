// How long a training batch will be, before training, for the Train step's estimate and the
// trainer's memory plan. Unpacked batches are as long as their longest row, rounded up to
// PAD_MULTIPLE and at most the sequence length (paddedLength in batches.ts), so a dataset of short
// rows runs short batches: the step's time follows the average batch length, its memory the
// longest batch. Packed rows are full; GRPO's sampled rows and KTO's mismatched pairs (a prompt of
// one row with the answer of another) are not known in advance, so those count the sequence length.
import { PAD_MULTIPLE, paddedLength, type TokenizedExample } from './batches';
import type { Objective } from './settings';

/** Rows whose padded length is (i + 1) x PAD_MULTIPLE, at index i: a compact summary of a dataset's row lengths. */
export type PaddedRowCounts = number[];

/** Each row counted at the length paddedLength gives it alone (a preference pair: its longer side), uncut. */
export function paddedRowCounts(examples: readonly TokenizedExample[]): PaddedRowCounts {
  const counts: number[] = [];
  for (const e of examples) {
    const i = paddedLength(e.rejected ? [e, e.rejected] : [e], Infinity) / PAD_MULTIPLE - 1;
    while (counts.length <= i) counts.push(0);
    counts[i]++;
  }
  return counts;
}

/** Batch lengths in token positions: the longest any batch can be, and the average over batches of B rows drawn at random. */
export interface BatchLengths {
  peak: number;
  mean: number;
}

/**
 * From the counts, at sequence length seqLen and B rows a batch: the peak is exact (the longest row,
 * padded); the mean is the expected padded maximum of B rows drawn with replacement, a close
 * estimate of drawing without (the trainer shuffles, then takes B at a time).
 */
export function batchLengths(counts: PaddedRowCounts, seqLen: number, batchSize: number): BatchLengths {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return { peak: seqLen, mean: seqLen };
  const B = Math.max(1, batchSize);
  // Lengths clamped to seqLen, ascending, with the share of rows at or below each.
  let peak = 0;
  let mean = 0;
  let below = 0;
  let prevCdfB = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    const len = Math.min(seqLen, (i + 1) * PAD_MULTIPLE);
    below += counts[i];
    const cdfB = (below / total) ** B; // P(the longest of B rows is at most this bucket)
    mean += len * (cdfB - prevCdfB);
    prevCdfB = cdfB;
    peak = Math.max(peak, len);
  }
  return { peak, mean };
}

/** What the estimate should assume for a run: null when every batch is seqLen long (packed rows, GRPO, KTO). */
export function runBatchLengths(counts: PaddedRowCounts | null | undefined, o: { seqLen: number; batchSize: number; packed: boolean; objective?: Objective }): BatchLengths | null {
  if (!counts || o.packed || o.objective === 'grpo' || o.objective === 'kto') return null;
  return batchLengths(counts, o.seqLen, o.batchSize);
}
