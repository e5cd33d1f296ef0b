// The full fine-tuning memory estimate: 16 bytes per parameter (weights, gradients, two AdamW moments)
// on top of the frozen base kept as the reference, and the device decision the method picker shows.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig, parameterCount } from '../model/config';
import { estimateTraining, fullFineTuneFit, deviceTrainingBudget, type EstimateInput } from './estimate';

const config = (p: string) => parseConfig(JSON.parse(readFileSync(new URL(p, import.meta.url), 'utf8')));
const stories = config('../../../shared/models/stories260K/config.json');
const smol = config('../../../shared/tokenizers/smollm2/config.json');
const qwen = config('../../../shared/tokenizers/qwen2.5-0.5b-instruct/config.json');
const input = (c: ReturnType<typeof parseConfig>, method: 'lora' | 'full'): EstimateInput => ({ config: c, rank: 8, targets: ['q_proj', 'v_proj'], batchSize: 4, seqLen: 64, gradAccum: 1, examples: 100, steps: 10, backend: 'wasm', method });

describe('full fine-tuning estimate', () => {
  it.each([
    ['stories260K', stories],
    ['SmolLM2', smol],
    ['Qwen2.5-0.5B', qwen],
  ])('%s: trainable memory is 16 bytes per parameter, the base 4 more, and it costs more time than LoRA', (_n, c) => {
    const full = estimateTraining(input(c, 'full'));
    const lora = estimateTraining(input(c, 'lora'));
    expect(full.loraParameters).toBe(parameterCount(c));
    expect(full.memory.trainable).toBe(16 * parameterCount(c));
    expect(full.memory.base).toBe(4 * parameterCount(c));
    expect(full.secondsPerStep).toBeGreaterThan(lora.secondsPerStep);
  });

  it('is offered when it fits the device and says why not when it does not', () => {
    const wasm = deviceTrainingBudget({ backend: 'wasm' });
    expect(wasm).toBe(4 * 1024 ** 3);
    expect(fullFineTuneFit(estimateTraining(input(stories, 'full')), wasm)).toEqual({ ok: true });
    const q = fullFineTuneFit(estimateTraining(input(qwen, 'full')), deviceTrainingBudget({ backend: 'wasm', deviceMemoryGiB: 8 }));
    expect(q.ok).toBe(false);
    if (!q.ok) expect(q.reason).toMatch(/16 bytes per parameter.*more than the 4\.0 GB this device allows; use LoRA or QLoRA/);
  });
});
