import { describe, expect, it } from 'vitest';
import { LengthTally } from './histogram';

function tally(lengths: number[]): LengthTally {
  const t = new LengthTally();
  for (const n of lengths) t.add(n);
  return t;
}

describe('LengthTally.histogram', () => {
  const cases: { name: string; lengths: number[]; bins: number; edges: number[]; counts: number[]; p50: number; p95: number }[] = [
    { name: 'one length is one bin', lengths: [7, 7, 7], bins: 20, edges: [7, 8], counts: [3], p50: 7, p95: 7 },
    { name: 'fewer distinct lengths than bins: width 1', lengths: [1, 2, 2, 4], bins: 20, edges: [1, 2, 3, 4, 5], counts: [1, 2, 0, 1], p50: 2, p95: 4 },
    { name: 'wide spread: width rounded up, last bin holds the longest', lengths: [10, 11, 19, 20, 50], bins: 4, edges: [10, 21, 32, 43, 54], counts: [4, 0, 0, 1], p50: 19, p95: 50 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = tally(c.lengths).histogram(c.bins)!;
      expect({ edges: h.edges, counts: h.counts, p50: h.p50, p95: h.p95 }).toEqual({ edges: c.edges, counts: c.counts, p50: c.p50, p95: c.p95 });
      expect(h.examples).toBe(c.lengths.length);
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(c.lengths.length);
      expect([h.shortest, h.longest]).toEqual([Math.min(...c.lengths), Math.max(...c.lengths)]);
    });
  }
  it('is null for no examples', () => expect(new LengthTally().histogram()).toBeNull());
});
