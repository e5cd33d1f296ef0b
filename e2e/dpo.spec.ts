// DPO in a real browser (wasm): pick the preference objective, drop the shipped preference set,
// train a few steps, and watch the reward and accuracy charts fill while the loss starts at ln 2.
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced } from './fixtures';

const PREFERENCES = fileURLToPath(new URL('../public/examples/stories-preference.jsonl', import.meta.url));

test('DPO on the shipped preference set charts rewards, margin and accuracy live', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(PREFERENCES);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-preference.jsonl');
  await page.getByLabel('Objective', { exact: true }).selectOption({ label: 'Preference (DPO)' });
  await expect(page.getByLabel('DPO beta')).toHaveValue('0.1');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '8', 'Batch size': '4', 'Sequence length': '56', 'Learning rate': '0.004', Warmup: '0', 'Evaluate every': '4', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 8 steps', { timeout: 150_000 });
  expect(await readNumber(page, 'train-first-loss')).toBeCloseTo(Math.LN2, 3);
  expect(await readNumber(page, 'train-loss')).toBeLessThan(Math.LN2);
  const rewards = page.getByRole('figure', { name: 'DPO rewards chart' });
  await expect(rewards).toHaveAttribute('data-points', '8');
  await expect(rewards).toHaveAttribute('data-eval-points', '2');
  await expect(page.getByRole('figure', { name: 'DPO accuracy chart' })).toHaveAttribute('data-points', '8');
});
