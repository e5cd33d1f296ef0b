// chooseBackend in Node (no navigator.gpu): falls back to wasm saying why, and honours force.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, chooseBackend, resolveWasmThreads } from './backend-choice';

const require = createRequire(import.meta.url);
const WASM_DIR = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/';

describe('chooseBackend without WebGPU', () => {
  it('picks wasm and says there is no adapter', async () => {
    const c = await chooseBackend({ wasmPaths: WASM_DIR });
    // Node is never cross-origin isolated, so the single-threaded wasm build trains.
    expect(c).toEqual({ backend: 'wasm', adapterDescription: null, reason: 'no WebGPU adapter', crossOriginIsolated: false, threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('honours a forced cpu backend', async () => {
    const c = await chooseBackend({ force: 'cpu' });
    expect(c.backend).toBe('cpu');
    expect(c.reason).toBe('forced: cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('fails loudly when forced onto WebGPU with no adapter', async () => {
    await expect(chooseBackend({ force: 'webgpu' })).rejects.toThrow(BackendUnavailableError);
    await expect(chooseBackend({ force: 'webgpu' })).rejects.toThrow(/forced backend 'webgpu'.*no WebGPU adapter/);
  });
});

describe('resolveWasmThreads', () => {
  it.each([
    [1, 1], [2, 2], [4, 4], [6, 3], [8, 4], [16, 8], [64, 8], [undefined, 1], [0, 1],
  ])("'auto' on %s logical cores trains on %i threads", (cores, want) => {
    expect(resolveWasmThreads('auto', cores)).toBe(want);
  });

  it('keeps an explicit count within 1..8', () => {
    expect(resolveWasmThreads(3, 2)).toBe(3);
    expect(resolveWasmThreads(0, 8)).toBe(1);
    expect(resolveWasmThreads(32, 8)).toBe(8);
  });
});
