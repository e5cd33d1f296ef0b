// The Model step's catalog: every entry parses as its family, its size comes out as the model card
// says (so the shape keys are the real ones), gated repos are marked, and the fit verdict follows
// the memory estimate.
import { describe, expect, it } from 'vitest';
import { CATALOG, catalogFacts, deviceBudget } from '../src/catalog/catalog';

// Parameter counts from the model cards / safetensors metadata of each repo.
const PUBLISHED: Record<string, { family: string; parameters: number }> = {
  'HuggingFaceTB/SmolLM2-135M': { family: 'llama', parameters: 134.5e6 },
  'HuggingFaceTB/SmolLM2-135M-Instruct': { family: 'llama', parameters: 134.5e6 },
  'HuggingFaceTB/SmolLM2-360M': { family: 'llama', parameters: 361.8e6 },
  'HuggingFaceTB/SmolLM2-360M-Instruct': { family: 'llama', parameters: 361.8e6 },
  'Qwen/Qwen2.5-0.5B-Instruct': { family: 'qwen2', parameters: 494e6 },
  'Qwen/Qwen3-0.6B': { family: 'qwen3', parameters: 596e6 },
  'google/gemma-3-270m-it': { family: 'gemma3', parameters: 268e6 },
  'meta-llama/Llama-3.2-1B-Instruct': { family: 'llama', parameters: 1236e6 },
};

describe('catalog', () => {
  const budget = deviceBudget('webgpu', 8);
  it.each(CATALOG.map((e) => [e.id, e] as const))('%s: family and parameter count as published (within 1%)', (id, e) => {
    const f = catalogFacts(e, 'webgpu', budget);
    expect(f.config.family).toBe(PUBLISHED[id].family);
    expect(Math.abs(f.parameters / PUBLISHED[id].parameters - 1)).toBeLessThan(0.01);
    expect(f.downloadBytes).toBe(2 * f.parameters);
  });

  it('offers every model issue 9 names, and marks Llama 3.2 and Gemma 3 gated', () => {
    expect(CATALOG.map((e) => e.id).sort()).toEqual(Object.keys(PUBLISHED).sort());
    expect(CATALOG.filter((e) => e.gated).map((e) => e.id).sort()).toEqual(['google/gemma-3-270m-it', 'meta-llama/Llama-3.2-1B-Instruct']);
  });

  it('fit follows the estimate: the smallest fits a GPU with 8 GB, the 1B model not a 2 GB wasm heap', () => {
    const smol = CATALOG.find((e) => e.id === 'HuggingFaceTB/SmolLM2-135M')!;
    const big = CATALOG.find((e) => e.id === 'meta-llama/Llama-3.2-1B-Instruct')!;
    expect(catalogFacts(smol, 'webgpu', budget).fits).toBe('yes');
    expect(catalogFacts(big, 'wasm', deviceBudget('wasm', 8)).fits).not.toBe('yes');
    expect(catalogFacts(big, 'wasm', deviceBudget('wasm', 8)).trainingBytes).toBeGreaterThan(catalogFacts(smol, 'wasm', deviceBudget('wasm', 8)).trainingBytes);
  });
});
