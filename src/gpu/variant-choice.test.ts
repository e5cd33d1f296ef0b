// The NF4 kernel choice's bookkeeping (the timing itself runs on WebGPU: e2e/nf4.spec.ts): a software
// adapter is recognised, the timed shape is the model's MLP projection, and a measurement is made
// once per adapter and shape, then read from IndexedDB.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { choiceKey, isSoftwareAdapter, nf4VariantFor, timedShape, type Nf4VariantChoice } from './variant-choice';

describe('NF4 kernel choice by measurement', () => {
  it('names software adapters, never a real GPU', () => {
    for (const d of ['Google SwiftShader', 'swiftshader (fallback adapter)', 'llvmpipe (LLVM 15.0.6, 256 bits)', 'Microsoft Basic Render Driver']) expect(isSoftwareAdapter(d), d).toBe(true);
    for (const d of ['nvidia ampere', 'apple m2', 'intel gen-12lp', 'amd rdna-3', null]) expect(isSoftwareAdapter(d), String(d)).toBe(false);
  });

  it('times the MLP projection at a micro-batch of rows', () => {
    expect(timedShape({ hiddenSize: 576, intermediateSize: 1536 }, 512)).toEqual({ M: 512, K: 576, N: 1536 });
  });

  it('measures once per adapter and shape; later loads read the choice back', async () => {
    const calls: string[] = [];
    const measure = async (shape: { M: number; K: number; N: number }, adapter: string): Promise<Nf4VariantChoice> => {
      calls.push(choiceKey(adapter, shape));
      return { choice: adapter === 'gpu A' ? 'unfused' : 'fused', tile: 64, fusedMs: 2, unfusedMs: adapter === 'gpu A' ? 1 : 3, fusedMsByTile: { 16: 4, 32: 3, 64: 2 }, shape, adapter, software: false, measuredAt: 1, cached: false };
    };
    const shape = { M: 512, K: 64, N: 128 };
    const first = await nf4VariantFor('gpu A', shape, measure);
    expect(first).toMatchObject({ choice: 'unfused', cached: false });
    expect(await nf4VariantFor('gpu A', shape, measure)).toMatchObject({ choice: 'unfused', tile: 64, fusedMs: 2, unfusedMs: 1, fusedMsByTile: { 16: 4, 32: 3, 64: 2 }, cached: true });
    // Another adapter, or another shape, is measured on its own.
    expect(await nf4VariantFor('gpu B', shape, measure)).toMatchObject({ choice: 'fused', cached: false });
    expect(await nf4VariantFor('gpu A', { ...shape, K: 96 }, measure)).toMatchObject({ cached: false });
    expect(calls).toEqual(['nf4:gpu A:512x64x128', 'nf4:gpu B:512x64x128', 'nf4:gpu A:512x96x128']);
  });

  it('measures again over a record made before tile sizes were timed', async () => {
    const { createStore, set } = await import('idb-keyval');
    const shape = { M: 512, K: 64, N: 256 };
    const old = { choice: 'fused', fusedMs: 2, unfusedMs: 3, shape, adapter: 'gpu C', software: false, measuredAt: 1, cached: false };
    await set(choiceKey('gpu C', shape), old, createStore('studio-gpu-variants-v1', 'choices'));
    let calls = 0;
    const measure = async (): Promise<Nf4VariantChoice> => {
      calls++;
      return { ...old, choice: 'fused', tile: 16, fusedMsByTile: { 16: 2, 32: 2.5, 64: 3 } };
    };
    expect(await nf4VariantFor('gpu C', shape, measure)).toMatchObject({ tile: 16, cached: false });
    expect(await nf4VariantFor('gpu C', shape, measure)).toMatchObject({ tile: 16, cached: true });
    expect(calls).toBe(1);
  });
});
