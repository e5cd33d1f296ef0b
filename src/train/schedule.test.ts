import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULE, learningRate, ScheduleError, type LrSchedule } from './schedule';

const base = { peakLr: 1e-3, warmupSteps: 10, totalSteps: 110 };
const cos = (p: number, min = 0): number => min + (1e-3 - min) * 0.5 * (1 + Math.cos(Math.PI * p));

describe('learningRate', () => {
  // [kind, minLrRatio, step, expected]: hand-computed from the documented formulas.
  const table: [LrSchedule['kind'], number | undefined, number, number][] = [
    // warmup is the same for every kind: peak * (step + 1) / warmupSteps
    ['constant', undefined, 0, 1e-4],
    ['linear', undefined, 0, 1e-4],
    ['cosine', undefined, 4, 5e-4],
    ['cosine', 0.1, 9, 1e-3],
    // constant holds the peak, even past the end
    ['constant', undefined, 10, 1e-3],
    ['constant', 0.5, 500, 1e-3],
    // linear: 100 decay steps from the peak to min
    ['linear', undefined, 10, 1e-3],
    ['linear', undefined, 35, 7.5e-4],
    ['linear', undefined, 60, 5e-4],
    ['linear', undefined, 109, 1e-5],
    ['linear', undefined, 110, 0],
    ['linear', 0.1, 60, 1e-4 + 9e-4 * 0.5],
    ['linear', 0.1, 1000, 1e-4],
    // cosine
    ['cosine', undefined, 10, 1e-3],
    ['cosine', undefined, 35, cos(0.25)],
    ['cosine', undefined, 60, 5e-4],
    ['cosine', undefined, 85, cos(0.75)],
    ['cosine', undefined, 110, 0],
    ['cosine', 0.1, 60, 1e-4 + 9e-4 * 0.5],
    ['cosine', 0.1, 110, 1e-4],
    ['cosine', 0.1, 5000, 1e-4],
  ];
  it.each(table)('%s (minLrRatio %s) at step %i is %d', (kind, minLrRatio, step, expected) => {
    expect(learningRate(step, { ...base, kind, minLrRatio })).toBeCloseTo(expected, 12);
  });

  it('starts at the peak when there is no warmup', () => {
    expect(learningRate(0, { ...base, warmupSteps: 0, kind: 'cosine' })).toBe(1e-3);
    expect(learningRate(0, { ...base, warmupSteps: 0, kind: 'linear' })).toBe(1e-3);
  });

  it('is all warmup, then the floor, when warmupSteps equals totalSteps', () => {
    const s: LrSchedule = { peakLr: 1, warmupSteps: 4, totalSteps: 4, kind: 'linear', minLrRatio: 0.2 };
    expect([0, 1, 2, 3, 4].map((i) => learningRate(i, s))).toEqual([0.25, 0.5, 0.75, 1, 0.2]);
  });

  it.each(['linear', 'cosine'] as const)('%s rises through warmup, then never increases, staying within [min, peak]', (kind) => {
    const s: LrSchedule = { ...base, kind, minLrRatio: 0.1 };
    const lrs = Array.from({ length: 130 }, (_, i) => learningRate(i, s));
    for (let i = 1; i < lrs.length; i++) {
      if (i < 10) expect(lrs[i]!).toBeGreaterThan(lrs[i - 1]!);
      else expect(lrs[i]!).toBeLessThanOrEqual(lrs[i - 1]!);
      expect(lrs[i]!).toBeGreaterThanOrEqual(1e-4 - 1e-18);
      expect(lrs[i]!).toBeLessThanOrEqual(1e-3);
    }
  });

  it('has usable defaults', () => {
    expect(learningRate(0, DEFAULT_SCHEDULE)).toBeGreaterThan(0);
    expect(learningRate(DEFAULT_SCHEDULE.warmupSteps, DEFAULT_SCHEDULE)).toBe(DEFAULT_SCHEDULE.peakLr);
  });

  it.each([
    ['a negative step', -1, {}, /step must be a non-negative integer, got -1/],
    ['a fractional step', 1.5, {}, /step must be a non-negative integer, got 1.5/],
    ['a NaN peak', 0, { peakLr: NaN }, /peakLr must be a finite number >= 0, got NaN/],
    ['negative warmup', 0, { warmupSteps: -2 }, /warmupSteps must be a non-negative integer, got -2/],
    ['zero total steps', 0, { totalSteps: 0, warmupSteps: 0 }, /totalSteps must be a positive integer, got 0/],
    ['warmup longer than the run', 0, { warmupSteps: 200 }, /warmupSteps \(200\) must not exceed totalSteps \(110\)/],
    ['a floor above the peak', 0, { minLrRatio: 1.5 }, /minLrRatio must be in \[0, 1\], got 1.5/],
    ['an unknown kind', 0, { kind: 'step' }, /kind must be constant, linear or cosine, got "step"/],
  ])('refuses %s', (_name, step, over, message) => {
    const s = { ...base, kind: 'cosine', ...over } as LrSchedule;
    expect(() => learningRate(step, s)).toThrow(ScheduleError);
    expect(() => learningRate(step, s)).toThrow(message);
  });
});
