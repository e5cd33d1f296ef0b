// The fused WebGPU ops (src/gpu/fused-ops.ts) against the tf-op composition on the cpu backend, in
// headless Chromium (SwiftShader here): forward values and the gradient of every input, at shapes
// off the 64-thread workgroup (odd rows, an odd hidden size, more columns than threads), rank 2
// to 4, the Gemma offset norm and both gate activations, the attention core they serve, and the
// AdamW update (no gradient: its new p, m and v).
import { expect, test } from '@playwright/test';
import type { FusedCase, FusedResult } from '../tests/browser/fused-ops-checks';

const CASES: { c: FusedCase; kernel: string }[] = [
  { c: { op: 'rmsNorm', shape: [37, 64], offset: 0 }, kernel: 'FusedRmsNorm' },
  { c: { op: 'rmsNorm', shape: [5, 13], offset: 1 }, kernel: 'FusedRmsNorm' }, // Gemma's 1 + w, odd C
  { c: { op: 'rmsNorm', shape: [3, 7, 200], offset: 0 }, kernel: 'FusedRmsNorm' }, // C > threads per row
  { c: { op: 'rmsNorm', shape: [2, 5, 3, 64], offset: 0 }, kernel: 'FusedRmsNorm' }, // q/k norm over D
  { c: { op: 'gate', rows: 37, width: 13, activation: 'silu' }, kernel: 'FusedGate' },
  { c: { op: 'gate', rows: 5, width: 70, activation: 'gelu_tanh' }, kernel: 'FusedGate' },
  { c: { op: 'rope', shape: [2, 5, 3, 64], tableBatch: 1, headsFirst: false }, kernel: 'FusedRope' },
  { c: { op: 'rope', shape: [1, 7, 3, 64], tableBatch: 1, headsFirst: true }, kernel: 'FusedRope' },
  { c: { op: 'rope', shape: [2, 5, 3, 6], tableBatch: 2, headsFirst: true }, kernel: 'FusedRope' }, // packed rows: a table per row
  { c: { op: 'attention', B: 1, K: 3, G: 2, T: 37, D: 64, packed: false }, kernel: 'FusedMaskedSoftmax' },
  { c: { op: 'attention', B: 2, K: 1, G: 3, T: 70, D: 8, packed: true }, kernel: 'FusedMaskedSoftmax' }, // S > threads, a mask per row
  { c: { op: 'adamw', size: 1000, weightDecay: 0 }, kernel: 'FusedAdamParam' },
  { c: { op: 'adamw', size: 77, weightDecay: 0.1 }, kernel: 'FusedAdamParam' },
];

test('fused WebGPU ops and their gradients match the tf composition on cpu', async ({ page }) => {
  test.setTimeout(5 * 60_000);
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && console.log(`[page] ${m.text()}`)); // WGSL errors arrive as warnings
  await page.goto('/tests/browser/kernels.html');
  await expect(page.locator('#status')).toHaveText('ready');
  await page.evaluate(() => window.nf4Checks.useBackend('webgpu'));
  for (const { c, kernel } of CASES) {
    const r: FusedResult = await page.evaluate((fc) => window.fusedChecks.runCase(fc), c);
    console.log(JSON.stringify({ ...c, ...r }));
    expect(r.gpuKernels, JSON.stringify(c)).toContain(kernel);
    expect(r.forwardRelErr, JSON.stringify(c)).toBeLessThan(1e-5);
    expect(r.gradRelErrs.length).toBe(c.op === 'adamw' ? 0 : c.op === 'rope' ? 1 : c.op === 'attention' ? 3 : 2);
    r.gradRelErrs.forEach((e, i) => expect(e, `${JSON.stringify(c)} input ${i}`).toBeLessThan(1e-5));
  }
});
