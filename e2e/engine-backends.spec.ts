// The training step on WebGPU equals the cpu backend's: loss, every LoRA gradient and the first
// optimizer steps on stories260K, computed in the same headless Chromium, over an fp32 base and
// over an NF4 base (fused WGSL kernels on WebGPU, JS dequantization on cpu); and WebGPU's gradients
// with every layer recomputed equal them too; tiny Gemma 3 and Qwen3 the same way.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures';
import { startModelServer } from './model-server';

const here = path.dirname(fileURLToPath(import.meta.url));

type Result = { backend: string; linearPath: string; loss: number; grads: Record<string, number[]>; recomputedGrads: Record<string, number[]>; trainLosses: number[] };

for (const precision of ['fp32', 'nf4'] as const) {
  test(`one LoRA training step on WebGPU matches the cpu backend (${precision} base)`, async ({ page, modelServer }) => {
    test.setTimeout(8 * 60_000);
    await page.goto('/tests/browser/engine.html');
    await page.waitForFunction(() => 'engineChecks' in window);
    const run = (backend: string) =>
      page.evaluate(([b, url, p]) => (window as unknown as { engineChecks: { stepOn(b: string, u: string, p: string): Promise<Result> } }).engineChecks.stepOn(b, url, p), [backend, modelServer.url, precision] as const);
    const gpu = await run('webgpu');
    const cpu = await run('cpu');
    expect(gpu.backend).toBe('webgpu');
    expect(cpu.backend).toBe('cpu');
    // NF4: the fused WGSL kernels on WebGPU against the JS dequantization on cpu, same codes.
    expect([gpu.linearPath, cpu.linearPath]).toEqual(precision === 'nf4' ? ['fused', 'js-dequant'] : ['dense', 'dense']);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4);
    expect(Object.keys(gpu.grads).sort()).toEqual(Object.keys(cpu.grads).sort());
    for (const [name, g] of Object.entries(cpu.grads)) {
      const scale = Math.max(...g.map(Math.abs));
      const diff = Math.max(...g.map((x, i) => Math.abs(x - gpu.grads[name][i])));
      expect(diff / scale, name).toBeLessThan(1e-3);
      // Recomputed layers (the backward without down_proj's forward) give the same gradients on WebGPU.
      const rc = gpu.recomputedGrads[name];
      expect(Math.max(...g.map((x, i) => Math.abs(x - rc[i]))) / scale, `${name} recomputed`).toBeLessThan(1e-3);
    }
    gpu.trainLosses.forEach((l, i) => expect(Math.abs(l - cpu.trainLosses[i])).toBeLessThan(1e-3));
  });
}

// The families whose differences run through the fused WebGPU ops: Gemma 3 (offset and sandwich
// norms, gelu-tanh gate, query scale) and Qwen3 (per-head q/k norms over rank-4 tensors).
for (const name of ['tiny-gemma3', 'tiny-qwen3'] as const) {
  test(`one LoRA training step of ${name} on WebGPU matches the cpu backend`, async ({ page }) => {
    test.setTimeout(8 * 60_000);
    const server = await startModelServer({ root: path.resolve(here, `../../shared/models/${name}`) });
    try {
      await page.goto('/tests/browser/engine.html');
      await page.waitForFunction(() => 'engineChecks' in window);
      const run = (backend: string) =>
        page.evaluate(([b, url]) => (window as unknown as { engineChecks: { stepOn(b: string, u: string, p: string): Promise<Result> } }).engineChecks.stepOn(b, url, 'fp32'), [backend, server.url] as const);
      const gpu = await run('webgpu');
      const cpu = await run('cpu');
      expect(gpu.backend).toBe('webgpu');
      expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4);
      for (const [n, g] of Object.entries(cpu.grads)) {
        const scale = Math.max(...g.map(Math.abs));
        expect(Math.max(...g.map((x, i) => Math.abs(x - gpu.grads[n][i]))) / scale, n).toBeLessThan(1e-3);
        expect(Math.max(...g.map((x, i) => Math.abs(x - gpu.recomputedGrads[n][i]))) / scale, `${n} recomputed`).toBeLessThan(1e-3);
      }
      gpu.trainLosses.forEach((l, i) => expect(Math.abs(l - cpu.trainLosses[i])).toBeLessThan(1e-3));
    } finally {
      await server.close();
    }
  });
}

// Generation on wasm in Chromium goes through the SIMD kernels of src/kernels (relaxed SIMD, on the
// threaded build's shared heap when the page is cross-origin isolated) and gives the greedy ids of
// tfjs's own path: stories260K's reference ids over fp32, the same NF4 ids over NF4 + int8 head.
const STORIES_REFERENCE = [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282];
for (const precision of ['fp32', 'nf4'] as const) {
  test(`generation on wasm through the SIMD kernels equals tfjs's path (${precision} base)`, async ({ page, modelServer }) => {
    test.setTimeout(4 * 60_000);
    await page.goto('/tests/browser/engine.html');
    await page.waitForFunction(() => 'engineChecks' in window);
    type Gen = { backend: string; variant: string | null; sharedHeap: boolean; withKernels: number[]; withoutKernels: number[] };
    const r = await page.evaluate(
      ([url, p]) => (window as unknown as { engineChecks: { generateOnWasm(u: string, p: string): Promise<Gen> } }).engineChecks.generateOnWasm(url, p),
      [modelServer.url, precision] as const,
    );
    expect(r.backend).toBe('wasm');
    expect(r.variant).toBe('relaxed-simd');
    expect(r.sharedHeap).toBe(true); // the page is cross-origin isolated, so tfjs loads its threaded build, whose heap is shared
    expect(r.withKernels).toEqual(r.withoutKernels);
    if (precision === 'fp32') expect(r.withKernels).toEqual(STORIES_REFERENCE);
  });
}

// The studio's GEMM splits a product's columns over helper workers on the threaded build's shared
// heap (src/kernels/gemm-pool.ts): the helpers come up, and every product is the same bit for bit
// on one thread and on two.
test('the GEMM on two threads gives the one-thread products bit for bit', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (res) => res.status() >= 400 && errors.push(`${res.status()} ${res.url()}`));
  await page.goto('/tests/browser/engine.html');
  await page.waitForFunction(() => 'engineChecks' in window);
  type Res = { threadsBefore: number; threadsAfter: number; identical: boolean[] };
  const r = await page.evaluate(() => (window as unknown as { engineChecks: { gemmOnThreads(): Promise<Res> } }).engineChecks.gemmOnThreads());
  expect(errors).toEqual([]);
  expect(r.threadsBefore).toBe(1);
  expect(r.threadsAfter).toBe(2);
  expect(r.identical).toEqual([true, true, true, true]);
});
