// Token-length histogram of a dataset, shown before training so the user can pick a sensible maximum
// length. Lengths are tallied exactly while streaming (one counter per distinct length, so memory is
// bounded by the longest example, not by the number of lines), then grouped into equal-width bins.

export interface LengthHistogram {
  /** Bin i covers lengths [edges[i], edges[i + 1]); the last bin includes its upper edge. */
  edges: number[]; // [bins + 1]
  counts: number[]; // [bins]
  examples: number;
  shortest: number;
  longest: number;
  /** Median and 95th percentile token length. */
  p50: number;
  p95: number;
}

/** Tallies lengths one at a time. */
export class LengthTally {
  private readonly counts = new Map<number, number>();
  add(length: number): void {
    this.counts.set(length, (this.counts.get(length) ?? 0) + 1);
  }
  /** Equal-width integer bins (at most `maxBins`) from the shortest to the longest length; null when empty. */
  histogram(maxBins = 20): LengthHistogram | null {
    if (this.counts.size === 0) return null;
    const lengths = [...this.counts.keys()].sort((a, b) => a - b);
    const shortest = lengths[0];
    const longest = lengths[lengths.length - 1];
    const span = longest - shortest + 1;
    const width = Math.max(1, Math.ceil(span / maxBins));
    const bins = Math.ceil(span / width);
    const edges = Array.from({ length: bins + 1 }, (_, i) => shortest + i * width);
    const counts = new Array<number>(bins).fill(0);
    let examples = 0;
    for (const n of lengths) {
      const c = this.counts.get(n) as number;
      counts[Math.min(bins - 1, Math.floor((n - shortest) / width))] += c;
      examples += c;
    }
    const quantile = (q: number): number => {
      const rank = Math.ceil(q * examples);
      let seen = 0;
      for (const n of lengths) {
        seen += this.counts.get(n) as number;
        if (seen >= rank) return n;
      }
      return longest;
    };
    return { edges, counts, examples, shortest, longest, p50: quantile(0.5), p95: quantile(0.95) };
  }
}
