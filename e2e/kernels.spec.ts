// NF4 WGSL kernels in headless Chromium on WebGPU (SwiftShader here): the fused forward and its
// input-gradient kernel against tfjs ops on the dequantized weight, plus backend choice.
import { expect, test, type Page } from '@playwright/test';
import type { KernelCase, KernelResult } from '../tests/browser/kernels-entry';

async function openPage(page: Page): Promise<void> {
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/tests/browser/kernels.html');
  await expect(page.locator('#status')).toHaveText('ready');
}

// Shapes chosen off the output tile (32 x 32 unless named) and the reduction slice, with padded blocks.
const CASES: KernelCase[] = [
  { m: 5, out: 37, in: 70, doubleQuant: false },
  { m: 33, out: 20, in: 45, doubleQuant: false },
  { m: 7, out: 65, in: 19, doubleQuant: true },
  // K % 8 == 0: the word-at-a-time B-tile decode, still off the tile sizes.
  { m: 5, out: 37, in: 72, doubleQuant: false },
  { m: 33, out: 41, in: 136, doubleQuant: true },
  { m: 6, out: 37, in: 70, doubleQuant: false, unfused: true },
  // The other output tiles (16 x 16 with a 32-wide slice, 64 x 64 with an 8-wide one), each off its
  // tile and slice, word-aligned and not, both absmax layouts.
  { m: 19, out: 37, in: 72, doubleQuant: false, tile: 16 },
  { m: 40, out: 21, in: 45, doubleQuant: true, tile: 16 },
  { m: 70, out: 130, in: 136, doubleQuant: false, tile: 64 },
  { m: 5, out: 65, in: 19, doubleQuant: true, tile: 64 },
];

test('chooseBackend picks wasm over a SwiftShader fallback adapter and honours force', async ({ page }) => {
  await openPage(page);
  const auto = await page.evaluate(() => window.nf4Checks.useBackend());
  expect(auto.adapterDescription).toMatch(/swiftshader/i);
  expect(auto.backend).toBe('wasm');
  expect(auto.reason).toBe('WebGPU adapter is a software fallback (SwiftShader)');
  const forced = await page.evaluate(() => window.nf4Checks.useBackend('webgpu'));
  expect(forced).toMatchObject({ backend: 'webgpu', reason: 'forced: webgpu' });
});

test('NF4 kernels on WebGPU match tfjs ops on the dequantized weight', async ({ page }) => {
  await openPage(page);
  await page.evaluate(() => window.nf4Checks.useBackend('webgpu'));
  for (const c of CASES) {
    const before = await page.evaluate(() => window.nf4Checks.numTensors());
    const r: KernelResult = await page.evaluate((kc) => window.nf4Checks.runCase(kc), c);
    console.log(JSON.stringify({ ...c, ...r }));
    expect(r.path).toBe(c.unfused ? 'gpu-dequant' : 'fused');
    expect(r.gpuErrors).toEqual([]);
    expect(r.forwardRelErr).toBeLessThan(1e-4);
    expect(r.gradRelErr).toBeLessThan(1e-4);
    expect(r.forwardRelErrVsFp32).toBeGreaterThan(1e-3); // the comparison can tell NF4 from fp32
    expect(await page.evaluate(() => window.nf4Checks.numTensors())).toBe(before);
  }
});

test('the js-dequant path on wasm matches too', async ({ page }) => {
  await openPage(page);
  await page.evaluate(() => window.nf4Checks.useBackend('wasm'));
  const r: KernelResult = await page.evaluate((kc) => window.nf4Checks.runCase(kc), CASES[0]!);
  expect(r.path).toBe('js-dequant');
  expect(r.forwardRelErr).toBeLessThan(1e-4);
  expect(r.gradRelErr).toBeLessThan(1e-4);
});
