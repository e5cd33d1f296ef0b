// The app is served cross-origin isolated (COOP/COEP from vite preview) and still works: the
// worker starts tfjs's threaded wasm build with the thread count shown, the cross-origin model server's files load,
// and a few training steps run with the estimate shown (every layer recomputed, as asked; batches as
// long as the example's rows, not the sequence length), after
// which the estimate is timed by the speed they measured, also after a reload.
import { test, expect, loadModel, EXAMPLE_DATASET, openAdvanced } from './fixtures';

test('cross-origin isolated page: wasm threads reported, cross-origin model loads and trains', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  await page.goto('/?backend=wasm');
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  // The threaded SIMD build runs (tools/tfjs-wasm-threads-plugin.ts) with every logical core up to 4.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.min(8, cores <= 4 ? cores : Math.floor(cores / 2));
  await expect(page.getByTestId('train-threads')).toContainText(`Trains on ${threads} CPU thread${threads === 1 ? '' : 's'}`);
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await openAdvanced(page);
  await page.getByLabel('Steps').fill('3');
  await page.getByLabel('Recompute activations').selectOption('on');
  await expect(page.getByLabel('Training estimate')).toContainText('5 of 5 layers recomputed');
  // The example's rows are 67-102 tokens: at a sequence length of 256 each batch runs 128 positions.
  await page.getByLabel('Sequence length').fill('256');
  await expect(page.getByLabel('Training estimate')).toContainText('batches as long as their longest row (about 128 tokens on average, at most 128 of 256)');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished after 3 steps' })).toBeVisible({ timeout: 120_000 });
  // The time estimate now runs at the speed those steps measured, and keeps it for the next visit.
  await expect(page.getByLabel('Training estimate')).toContainText('GFLOP/s measured on this device');
  await page.reload();
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Training estimate')).toContainText('GFLOP/s measured on this device');
});
