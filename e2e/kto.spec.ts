// KTO in a real browser (wasm): pick the thumbs up / down objective, drop the shipped unpaired set
// (the preference set's answers labelled true / false), train a few steps: the first loss is exactly
// 0.5 (a fresh adapter equals the base) and the loss falls.
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced } from './fixtures';

const KTO = fileURLToPath(new URL('../public/examples/stories-kto.jsonl', import.meta.url));

test('KTO on the shipped thumbs up / down set starts at 0.5 and lowers the loss', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(KTO);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-kto.jsonl');
  await page.getByLabel('Objective', { exact: true }).selectOption({ label: 'Thumbs up / down (KTO)' });
  await expect(page.getByLabel('KTO beta')).toHaveValue('0.1');
  await page.getByLabel('KTO beta').fill('0.5');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '8', 'Batch size': '4', 'Sequence length': '56', 'Learning rate': '0.01', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 8 steps', { timeout: 150_000 });
  expect(await readNumber(page, 'train-first-loss')).toBe(0.5);
  expect(await readNumber(page, 'train-loss')).toBeLessThan(0.5);
});
