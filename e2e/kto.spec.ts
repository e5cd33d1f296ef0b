// KTO in a real browser (wasm): pick the thumbs up / down objective, drop the shipped unpaired set
// (the preference set's answers labelled true / false), train a few steps: the first loss is exactly
// 0.5 (a fresh adapter equals the base), the loss falls, and the rewards and KL are charted per step.
// ORPO on the shipped preference set charts its rewards and odds ratio term per step.
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced } from './fixtures';

const KTO = fileURLToPath(new URL('../public/examples/stories-kto.jsonl', import.meta.url));
const PAIRS = fileURLToPath(new URL('../public/examples/stories-preference.jsonl', import.meta.url));

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
  // TRL's figures charted live: a point per step on the rewards and KL charts.
  await expect(page.getByRole('figure', { name: 'KTO rewards chart' })).toHaveAttribute('data-points', '8');
  await expect(page.getByRole('figure', { name: 'KTO KL estimate chart' })).toHaveAttribute('data-points', '8');
});

test('ORPO on the shipped preference set charts its rewards and odds ratio term', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  await page.goto('/?backend=wasm');
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(PAIRS);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-preference.jsonl');
  await page.getByLabel('Objective', { exact: true }).selectOption({ label: 'Preference without a reference (ORPO)' });
  await expect(page.getByLabel('ORPO lambda')).toHaveValue('0.1');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '4', 'Batch size': '2', 'Sequence length': '56', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 4 steps', { timeout: 150_000 });
  await expect(page.getByRole('figure', { name: 'ORPO rewards chart' })).toHaveAttribute('data-points', '4');
  await expect(page.getByRole('figure', { name: 'ORPO odds chart' })).toHaveAttribute('data-points', '4');
  await expect(page.getByRole('figure', { name: 'DPO rewards chart' })).toHaveCount(0);
});
