// The pre-training memory plan at SmolLM2-135M's real config: the int8/NF4 base is under 0.2x of
// fp32, 'auto' recomputes the fewest layers that keep the step within its target (none for small
// steps, a table of choices), and a step that cannot fit is refused with the largest batch that does
// (same sequences per optimizer step through accumulation). The trainer's own resolution of 'auto'
// agrees with the plan's.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../model/config';
import { AUTO_RECOMPUTE_TARGET, memoryPlan, memoryPlanMessage, planEstimateInput, recomputeLayersFor, resolveRecomputeLayers, type PlanChoice } from './memory-plan';
import { baseMemory } from '../model/load';
import { INT8_HEAD_BLOCK_ROWS } from '../model/frozen-head';
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from './lora';
import { estimateTraining } from './estimate';

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
  it.each([
    { batchSize: 1, seqLen: 64, recompute: 'auto', layers: 0 },
    { batchSize: 4, seqLen: 256, recompute: 'auto', layers: 0 },
    { batchSize: 8, seqLen: 256, recompute: 'auto', layers: 0 },
    { batchSize: 16, seqLen: 256, recompute: 'auto', layers: 20 },
    { batchSize: 32, seqLen: 256, recompute: 'auto', layers: 30 },
    { batchSize: 1, seqLen: 2048, recompute: 'auto', layers: 1 },
    { batchSize: 4, seqLen: 256, recompute: 'off', layers: 0 },
    { batchSize: 1, seqLen: 64, recompute: 'on', layers: 30 },
    { batchSize: 4, seqLen: 256, recompute: 7, layers: 7 },
  ] as const)('recomputes $layers of 30 layers at $batchSize x $seqLen with $recompute', ({ batchSize, seqLen, recompute, layers }) => {
    const choice = { ...base, batchSize, seqLen, recompute };
    const plan = memoryPlan(choice);
    expect(plan.recomputeLayers).toBe(layers);
    expect(plan.recompute).toBe(layers > 0);
    if (recompute !== 'auto') return;
    // The fewest that fit the target: one layer fewer would not.
    const target = plan.budgetBytes * AUTO_RECOMPUTE_TARGET;
    const peak = (n: number) => estimateTraining(planEstimateInput(choice, n)).memory.peakBackend;
    if (layers < 30) expect(peak(layers)).toBeLessThanOrEqual(target);
    if (layers > 0) expect(peak(layers - 1)).toBeGreaterThan(target);
  });
  it.each([
    { name: 'fits without recomputation', peak: (n: number) => 40 - n, want: 0 },
    { name: 'each layer saves 10 bytes; 5 reach the target of 50', peak: (n: number) => 100 - 10 * n, want: 5 },
    { name: 'just over the target needs one', peak: (n: number) => (n === 0 ? 51 : 50), want: 1 },
    { name: 'nothing fits: all', peak: () => 1000, want: 8 },
  ])('recomputeLayersFor: $name', ({ peak, want }) => {
    expect(recomputeLayersFor('auto', 8, peak, 100)).toBe(want);
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
  it.each([
    [4, 256], [1, 2048], [16, 256], [8, 512],
  ])('the trainer recomputes what the Train step planned, within one layer, at %i x %i (the fused loss, not [N, V] logits)', (batchSize, seqLen) => {
    const mem = baseMemory(cfg);
    const table = 4 * cfg.vocabSize * cfg.hiddenSize;
    // A loaded model as the trainer sees it: its weights' bytes and its head's blocks (NF4 base, int8 head).
    const model = { config: cfg, baseWeightBytes: () => ({ linear: mem.linearNf4Bytes, other: mem.otherBytes - table + table / 4 + 4 * cfg.vocabSize }), head: { blockRows: INT8_HEAD_BLOCK_ROWS } } as unknown as LlamaModel;
    const adapter = { spec: { r: 8, targetModules: ['q_proj', 'v_proj'] } } as unknown as LoraAdapter;
    const planned = memoryPlan({ ...base, batchSize, seqLen }).recomputeLayers;
    const fused = resolveRecomputeLayers('auto', model, adapter, { batchSize, seqLen, gradAccum: 1, loss: 'fused' });
    expect(Math.abs(fused - planned)).toBeLessThanOrEqual(1);
    // The plain loss holds the logits: at least as many layers.
    expect(resolveRecomputeLayers('auto', model, adapter, { batchSize, seqLen, gradAccum: 1, loss: 'plain' })).toBeGreaterThanOrEqual(fused);
  });
});
