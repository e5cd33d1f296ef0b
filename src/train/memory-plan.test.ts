// The pre-training memory plan at SmolLM2-135M's real config: the int8/NF4 base is under 0.2x of
// fp32, 'auto' recomputes only when the step is large, and a step that cannot fit is refused with
// the largest batch that does (same sequences per optimizer step through accumulation).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../model/config';
import { memoryPlan, memoryPlanMessage, type PlanChoice } from './memory-plan';

const cfg = parseConfig(JSON.parse(readFileSync(new URL('../../../shared/tokenizers/smollm2/config.json', import.meta.url), 'utf8')));
const base: PlanChoice = {
  config: cfg, precision: 'nf4', head: 'int8', backend: 'wasm', rank: 8, targets: ['q_proj', 'v_proj'], batchSize: 4, seqLen: 256, gradAccum: 1,
  recompute: 'auto', loss: 'fused', examples: 1, steps: 1,
};

describe('memoryPlan at the SmolLM2-135M shape', () => {
  it('keeps the NF4 + int8 base under 0.2x of its fp32 bytes', () => {
    const fp32 = memoryPlan({ ...base, precision: 'fp32', head: 'fp32' }).estimate.memory.base;
    expect(memoryPlan(base).estimate.memory.base / fp32).toBeLessThan(0.2);
  });
  it('turns recomputation on only for large steps', () => {
    expect(memoryPlan({ ...base, batchSize: 1, seqLen: 64 }).recompute).toBe(false);
    expect(memoryPlan(base).recompute).toBe(true);
  });
  it('refuses a step that cannot fit and offers the largest batch that does', () => {
    const p = memoryPlan({ ...base, batchSize: 64, seqLen: 2048, recompute: 'on' });
    expect(p.fits).toBe(false);
    expect(p.suggestion).not.toBeNull();
    const s = p.suggestion!;
    expect(s.batchSize).toBeLessThan(64);
    expect(s.batchSize * s.gradAccum).toBeGreaterThanOrEqual(64);
    expect(s.peakBackendBytes).toBeLessThanOrEqual(p.budgetBytes);
    expect(memoryPlan({ ...base, batchSize: s.batchSize + 1, seqLen: 2048, recompute: 'on' }).fits).toBe(false);
    expect(memoryPlanMessage(p, { batchSize: 64, seqLen: 2048, backend: 'wasm' })).toContain(`Batch ${s.batchSize} with gradient accumulation ${s.gradAccum}`);
  });
});
