// The flash attention kernels (src/gpu/flash-attention.ts) against the dense tf-op reference on cpu,
// in headless Chromium (SwiftShader here): forward values and the q, k, v gradients, for causal
// attention with and without GQA, times off the tiles, past keys, a sliding window, a soft-cap,
// packed rows, head dims 8 to 64 and both tile paths (D in one workgroup chunk or several); then a
// tiny Gemma 3 (GQA, sliding-window and full layers) whose blocked attention runs as the kernels
// gives the logits and LoRA gradients of blockedAttention's tf ops.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { startModelServer } from './model-server';
import type { FlashCase, FlashResult, ModelCheckResult } from '../tests/browser/flash-attention-checks';

const here = path.dirname(fileURLToPath(import.meta.url));
const FLASH_KERNELS = ['FlashAttentionForward', 'FlashAttentionRowDot', 'FlashAttentionGradKV', 'FlashAttentionGradQ'];

const CASES: { name: string; c: FlashCase }[] = [
  { name: 'causal, G = 1, T off the tiles', c: { B: 1, K: 2, G: 1, T: 37, D: 16, past: 0, window: null, softcap: null } },
  { name: 'causal GQA (G = 3), D = 8', c: { B: 1, K: 1, G: 3, T: 70, D: 8, past: 0, window: null, softcap: null } },
  { name: 'past keys (S = past + T)', c: { B: 2, K: 1, G: 2, T: 37, D: 32, past: 20, window: null, softcap: null } },
  { name: 'sliding window < T, with past keys', c: { B: 1, K: 1, G: 2, T: 70, D: 16, past: 10, window: 24, softcap: null } },
  { name: 'soft-cap, D = 64 in several chunks', c: { B: 1, K: 1, G: 2, T: 37, D: 64, past: 0, window: null, softcap: 2 } },
  { name: 'packed rows (2 and 3 segments)', c: { B: 2, K: 1, G: 2, T: 37, D: 16, past: 0, window: null, softcap: null, segments: [[20, 17], [10, 15, 12]] } },
  { name: 'packed rows with a window', c: { B: 2, K: 2, G: 1, T: 40, D: 8, past: 0, window: 8, softcap: null, segments: [[25, 15], [7, 21, 12]] } },
  { name: 'T = 150, D = 64, 16 x 16 tiles (D in one chunk, ten key tiles)', c: { B: 1, K: 1, G: 1, T: 150, D: 64, past: 0, window: null, softcap: null, tiles: { queryTile: 16, keyTile: 16 } } },
  { name: 'T = 150, GQA, 64 x 64 tiles (D = 64 in four chunks)', c: { B: 1, K: 1, G: 2, T: 150, D: 64, past: 5, window: null, softcap: null, tiles: { queryTile: 64, keyTile: 64 } } },
  { name: '16 x 64 tiles, window and soft-cap', c: { B: 1, K: 2, G: 2, T: 70, D: 32, past: 0, window: 30, softcap: 3, tiles: { queryTile: 16, keyTile: 64 } } },
];

test.describe('flash attention on WebGPU', () => {
  test.beforeEach(async ({ page }) => {
    page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && console.log(`[page] ${m.text()}`)); // WGSL errors arrive as warnings
    await page.goto('/tests/browser/kernels.html');
    await expect(page.locator('#status')).toHaveText('ready');
    await page.evaluate(() => window.nf4Checks.useBackend('webgpu'));
  });

  test('forward and q, k, v gradients match the dense reference on cpu', async ({ page }) => {
    test.setTimeout(8 * 60_000);
    for (const { name, c } of CASES) {
      const r: FlashResult = await page.evaluate((fc) => window.flashChecks.runCase(fc), c);
      console.log(JSON.stringify({ name, forward: r.forwardRelErr, grads: r.gradRelErrs }));
      for (const k of FLASH_KERNELS) expect(r.gpuKernels, name).toContain(k);
      expect(r.forwardRelErr, name).toBeLessThan(1e-5);
      expect(r.gradRelErrs.length, name).toBe(3);
      r.gradRelErrs.forEach((e, i) => expect(e, `${name}: d${'qkv'[i]}`).toBeLessThan(1e-5));
    }
  });

  test('a tiny Gemma 3 gives the same logits and LoRA gradients with the kernels as with the tf ops', async ({ page }) => {
    test.setTimeout(8 * 60_000);
    const server = await startModelServer({ root: path.resolve(here, '../../shared/models/tiny-gemma3') });
    try {
      for (const segments of [undefined, [[18, 22], [9, 16, 15]]]) {
        const r: ModelCheckResult = await page.evaluate(([url, s]) => window.flashChecks.modelCheck(url, 2, 40, s), [server.url, segments] as const);
        console.log(JSON.stringify({ packed: !!segments, ...r }));
        expect(r.kernelsOn.sort()).toEqual([...FLASH_KERNELS].sort());
        expect(r.kernelsOff).toEqual([]);
        expect(r.gradCount).toBeGreaterThan(0);
        expect(r.logitsRelErr).toBeLessThan(1e-5);
        expect(r.gradRelErr).toBeLessThan(1e-5);
      }
    } finally {
      await server.close();
    }
  });
});
