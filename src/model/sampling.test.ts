// The sampler against the distribution it claims: greedy is argmax (lowest id on ties); tempered
// draws follow softmax(logits / T) and nucleus draws renormalise over the top-p set, checked by
// frequencies over many seeded draws; the same seed gives the same draws.
import { describe, expect, it } from 'vitest';
import { argmax, sampleToken } from './sampling';
import { seededRandom } from '../util/random';

const LOGITS = new Float32Array([1.0, 2.5, -1.0, 2.5, 0.3, 3.1, -4.0, 0.0]);

function softmax(logits: Float32Array, temp: number): number[] {
  const m = Math.max(...logits);
  const e = Array.from(logits, (l) => Math.exp((l - m) / temp));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function frequencies(opts: { temperature: number; topP?: number }, n: number, seed: number): number[] {
  const random = seededRandom(seed);
  const counts = new Array<number>(LOGITS.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(LOGITS, opts, random)]++;
  return counts.map((c) => c / n);
}

describe('sampleToken', () => {
  it('greedy is argmax, the lowest id on ties', () => {
    expect(argmax(new Float32Array([0, 2, 2, 1]))).toBe(1);
    expect(sampleToken(LOGITS, {}, () => 0.5)).toBe(5);
    expect(sampleToken(LOGITS, { temperature: 0 }, () => 0.5)).toBe(5);
  });

  it.each([0.7, 1, 1.8])('temperature %s draws follow softmax(logits / T)', (temp) => {
    const want = softmax(LOGITS, temp);
    const got = frequencies({ temperature: temp }, 40_000, 3);
    // 40,000 draws: a frequency's standard error is at most 0.0025; 0.012 is ~5 of them.
    got.forEach((f, i) => expect(Math.abs(f - want[i])).toBeLessThan(0.012));
  });

  it('top-p draws only from the smallest set holding p of the mass, renormalised', () => {
    const p = softmax(LOGITS, 1);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]);
    let mass = 0;
    const kept: number[] = [];
    for (const i of order) {
      mass += p[i];
      kept.push(i);
      if (mass >= 0.8) break;
    }
    const got = frequencies({ temperature: 1, topP: 0.8 }, 40_000, 5);
    got.forEach((f, i) => expect(Math.abs(f - (kept.includes(i) ? p[i] / mass : 0))).toBeLessThan(0.012));
    expect(kept.length).toBeLessThan(LOGITS.length);
  });

  it('the same seed gives the same draws, another seed other draws', () => {
    const draws = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 50 }, () => sampleToken(LOGITS, { temperature: 1 }, r));
    };
    expect(draws(9)).toEqual(draws(9));
    expect(draws(9)).not.toEqual(draws(10));
  });
});
