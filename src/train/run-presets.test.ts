// The presets as a table: data size and model size in, settings out, within the field's advice
// (LoRA rates of 2e-4 to 3e-3, 1 to 5 passes, micro-batches that fit a browser).
import { describe, expect, it } from 'vitest';
import { RUN_PRESETS, choosePreset, matchingPreset, type PresetSettings, type RunPreset } from './run-presets';

const STORIES = 260e3; // stories260K
const SMOLLM2 = 135e6; // SmolLM2-135M
const QWEN = 494e6; // Qwen2.5-0.5B

const TABLE: { preset: RunPreset; examples: number; params: number; want: Partial<PresetSettings>; epochs: number }[] = [
  { preset: 'quick', examples: 45, params: STORIES, epochs: 1, want: { r: 8, alpha: 16, learningRate: 3e-3, batchSize: 4, gradAccum: 1, steps: 12, evalEvery: 4 } },
  { preset: 'balanced', examples: 45, params: STORIES, epochs: 3, want: { r: 8, learningRate: 3e-3, batchSize: 4, gradAccum: 1, steps: 34, warmupSteps: 2, evalEvery: 6 } },
  { preset: 'thorough', examples: 45, params: STORIES, epochs: 5, want: { r: 16, alpha: 32, learningRate: 1.5e-3, batchSize: 4, gradAccum: 2, steps: 29, evalEvery: 2 } },
  { preset: 'balanced', examples: 1000, params: SMOLLM2, epochs: 2, want: { r: 8, learningRate: 1e-3, batchSize: 1, gradAccum: 8, steps: 250 } },
  { preset: 'balanced', examples: 3000, params: QWEN, epochs: 2, want: { r: 16, learningRate: 5e-4, batchSize: 1, gradAccum: 8, steps: 750 } },
  { preset: 'thorough', examples: 20000, params: 1.5e9, epochs: 2, want: { r: 32, alpha: 64, learningRate: 1e-4, batchSize: 1, gradAccum: 32, steps: 1250, warmupSteps: 63 } },
  { preset: 'quick', examples: 3, params: STORIES, epochs: 1, want: { batchSize: 4, gradAccum: 1, steps: 1, warmupSteps: 1, evalEvery: 1 } },
];

describe('run presets from the data', () => {
  for (const row of TABLE) {
    it(`${row.preset}, ${row.examples} examples, ${row.params / 1e6}M parameters`, () => {
      const c = choosePreset(row.preset, { trainExamples: row.examples, modelParameters: row.params });
      expect(c.settings).toMatchObject(row.want);
      expect(c.epochs).toBe(row.epochs);
      expect(c.reasons.map((r) => r.field)).toEqual(['steps', 'learningRate', 'r', 'batchSize', 'warmupSteps', 'evalEvery']);
      for (const r of c.reasons) expect(r.text).toMatch(/\.$/);
    });
  }

  it('stays inside the advice for every preset and size: LoRA rate 1e-4..3e-3, 1-5 passes, steps cover the passes', () => {
    for (const preset of RUN_PRESETS) {
      for (const examples of [1, 10, 45, 300, 4000, 100000]) {
        for (const params of [STORIES, 30e6, SMOLLM2, QWEN, 3e9]) {
          const c = choosePreset(preset, { trainExamples: examples, modelParameters: params });
          const s = c.settings;
          expect(s.learningRate).toBeGreaterThanOrEqual(1e-4);
          expect(s.learningRate).toBeLessThanOrEqual(3e-3);
          expect(c.epochs).toBeGreaterThanOrEqual(1);
          expect(c.epochs).toBeLessThanOrEqual(5);
          expect(s.steps * s.batchSize * s.gradAccum).toBeGreaterThanOrEqual(c.epochs * examples);
          expect(s.evalEvery).toBeLessThanOrEqual(s.steps);
        }
      }
    }
  });

  it('matchingPreset names the preset the settings came from, and null once one is changed', () => {
    const x = { trainExamples: 45, modelParameters: STORIES };
    for (const p of RUN_PRESETS) expect(matchingPreset(choosePreset(p, x).settings, x)).toBe(p);
    expect(matchingPreset({ ...choosePreset('balanced', x).settings, steps: 7 }, x)).toBeNull();
  });
});
