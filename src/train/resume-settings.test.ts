import { describe, it, expect } from 'vitest';
import { resumeSettings, smallerMicroBatch, ResumeSettingsError } from './resume-settings';
import { DEFAULT_TRAIN } from './settings';

describe('resume with a smaller micro-batch', () => {
  const stored = { ...DEFAULT_TRAIN, batchSize: 8, gradAccum: 1 };
  it('keeps the examples per optimizer step', () => {
    expect(resumeSettings(stored, { batchSize: 4, gradAccum: 2 })).toMatchObject({ batchSize: 4, gradAccum: 2, learningRate: stored.learningRate });
    expect(resumeSettings(stored, null)).toBe(stored);
    expect(() => resumeSettings(stored, { batchSize: 4, gradAccum: 1 })).toThrow(ResumeSettingsError);
    expect(() => resumeSettings(stored, { batchSize: 4, gradAccum: 1 })).toThrow(/8 examples per optimizer step.*got 4 x 1/);
    expect(() => resumeSettings(stored, { batchSize: 0, gradAccum: 8 })).toThrow(/at least 1/);
  });
  it.each([
    [8, 1, { batchSize: 4, gradAccum: 2 }],
    [6, 1, { batchSize: 3, gradAccum: 2 }],
    [4, 3, { batchSize: 3, gradAccum: 4 }],
    [3, 1, { batchSize: 1, gradAccum: 3 }],
    [1, 4, null],
  ])('batch %i x %i -> %j', (batchSize, gradAccum, want) => {
    expect(smallerMicroBatch({ batchSize, gradAccum })).toEqual(want);
  });
});
