// People's feedback in the loop (wasm): rate the Use step's answer with a thumb and a correction,
// compare two sampled answers per prompt and pick one by key, download the ratings in TRL's formats,
// see them survive a reload, then "Train on this feedback" and train DPO on the pairs.
import { readFile } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import { test, expect, loadModel, readNumber, openAdvanced, EXAMPLE_DATASET } from './fixtures';
import type { Page } from '@playwright/test';

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, Tom', 'The sun was', 'Mom said', 'The cat and the bird'];

async function download(page: Page, button: RegExp): Promise<Record<string, unknown>[]> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
  const text = await readFile((await file.path())!, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('feedback: thumbs, compared answers by key, TRL downloads, kept over a reload, trained with DPO', async ({ page, modelServer }) => {
  test.setTimeout(8 * 60_000);
  await page.setViewportSize({ width: 390, height: 900 });
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('New tokens').fill('20');

  // A thumbs-down on the base model's answer, with a corrected answer: one preference pair.
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeEnabled({ timeout: 60_000 });
  await page.getByRole('button', { name: "Bad answer: the base model's answer" }).click();
  await expect(page.getByRole('button', { name: "Bad answer: the base model's answer" })).toHaveAttribute('aria-pressed', 'true');
  await page.getByLabel("Corrected answer for the base model's answer (optional)").fill(' there was a kind dragon who loved to fly.');
  await page.getByRole('button', { name: "Save correction for the base model's answer" }).click();
  await expect(page.getByRole('listitem', { name: 'Feedback 1' }).getByLabel('Corrected answer')).toHaveValue(' there was a kind dragon who loved to fly.');

  // Two samples per prompt (fresh seeds each time); the verdict is one key while the panel has focus.
  const panel = page.getByRole('group', { name: 'Compare two answers' });
  await page.getByLabel('Compare temperature').fill('1');
  const pairPrompts = ['Once upon a time']; // the correction above
  for (const [i, prompt] of PROMPTS.entries()) {
    await page.getByLabel('Input for both answers').fill(prompt);
    await panel.getByRole('button', { name: 'Compare two answers' }).click();
    const pickA = panel.getByRole('button', { name: 'A is better' });
    await expect(pickA).toBeEnabled({ timeout: 60_000 });
    // Focus came back to the panel when the answers finished.
    await expect(panel).toBeFocused();
    const a = (await page.getByLabel('Answer A', { exact: true }).textContent()) ?? '';
    const b = (await page.getByLabel('Answer B', { exact: true }).textContent()) ?? '';
    const key = i === PROMPTS.length - 1 ? '3' : i % 2 === 0 ? '1' : '2';
    await page.keyboard.press(key);
    const name = { '1': 'A is better', '2': 'B is better', '3': 'Tie' }[key]!;
    await expect(panel.getByRole('button', { name })).toHaveAttribute('aria-pressed', 'true');
    if (key !== '3' && a !== b && a.trim() !== '' && b.trim() !== '') pairPrompts.push(prompt);
  }
  expect(pairPrompts.length).toBeGreaterThanOrEqual(6);
  // A second key changes the verdict of the same comparison rather than adding one: the tie becomes both bad.
  await page.keyboard.press('4');
  await expect(panel.getByRole('button', { name: 'Both bad' })).toHaveAttribute('aria-pressed', 'true');
  const total = 1 + PROMPTS.length;
  await expect(page.getByRole('heading', { name: `Your feedback (${total})` })).toBeVisible();

  // At 390 px, with answers, thumbs, a correction and the list on screen: nothing scrolls sideways,
  // and axe finds no serious or critical violation in the feedback section.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.getByRole('region', { name: 'Feedback', exact: true }).screenshot({ path: test.info().outputPath('feedback-390px.png') });
  const axe = await new AxeBuilder({ page }).include('section[aria-label="Feedback"]').analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, bad.join('\n')).toEqual([]);

  const pairs = await download(page, /Download preference pairs/);
  expect(pairs.map((p) => p.prompt)).toEqual(pairPrompts);
  for (const p of pairs) {
    expect(Object.keys(p).sort()).toEqual(['chosen', 'prompt', 'rejected']);
    expect(typeof p.chosen).toBe('string');
    expect(p.chosen).not.toBe(p.rejected);
  }
  expect(pairs[0]).toMatchObject({ prompt: 'Once upon a time', chosen: ' there was a kind dragon who loved to fly.' });
  const unpaired = await download(page, /Download unpaired rows/);
  for (const r of unpaired) expect(Object.keys(r).sort()).toEqual(['completion', 'label', 'prompt']);
  // Thumbs-down: one false row, its correction one true row; each A/B verdict one true and one false; both bad two false.
  const labels = unpaired.map((r) => r.label);
  expect(labels.slice(0, 2)).toEqual([false, true]);
  expect(labels.filter((l) => l === false).length).toBe(1 + (PROMPTS.length - 1) + 2);

  // Editable and deletable in the list: the both-bad comparison goes.
  const last = page.getByRole('listitem', { name: `Feedback ${total}` });
  await expect(last.getByLabel('Verdict')).toHaveValue('both-bad');
  await last.getByRole('button', { name: `Delete feedback ${total}` }).click();
  await expect(page.getByRole('heading', { name: `Your feedback (${total - 1})` })).toBeVisible();

  // Ratings are in IndexedDB: a reload lists them again, before any model is loaded.
  await page.reload();
  await expect(page.getByRole('heading', { name: `Your feedback (${total - 1})` })).toBeVisible();
  await expect(page.getByRole('listitem', { name: 'Feedback 2' })).toContainText(PROMPTS[0]);

  // The page loads the last model again from IndexedDB by itself.
  await expect(page.getByLabel('Loaded model')).toContainText('loaded from', { timeout: 120_000 });
  await expect(page.getByRole('button', { name: 'Train on this feedback' })).toBeEnabled();
  await page.getByRole('button', { name: 'Train on this feedback' }).click();
  await expect(page.getByLabel('Dataset summary')).toContainText('feedback-pairs.jsonl');
  await expect(page.getByLabel('Objective', { exact: true })).toHaveValue('dpo');
  await expect(page.locator('#step-train')).toBeFocused();

  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '4', 'Batch size': '2', 'Learning rate': '0.004', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  const ack = page.getByLabel('I have read the serious findings and want to train anyway');
  if (await ack.isVisible()) await ack.check();
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 4 steps', { timeout: 150_000 });
  // The adapter starts equal to the base, so DPO's first loss is exactly ln 2.
  expect(await readNumber(page, 'train-first-loss')).toBeCloseTo(Math.LN2, 3);
  await expect(page.getByRole('figure', { name: 'DPO rewards chart' })).toHaveAttribute('data-points', '4');
  // Whether 4 steps on a handful of sampled pairs lower the loss is not asserted (it varies with the samples): recorded for a person.
  test.info().annotations.push({ type: 'dpo-last-loss', description: String(await readNumber(page, 'train-loss')) });

  // Training on feedback again continues the adapter just trained (the choice is offered, and taken by default):
  // its policy already differs from the base, so DPO's first loss is no longer ln 2.
  await page.getByRole('button', { name: 'Train on this feedback' }).click();
  await expect(page.getByLabel('Start from')).toHaveValue('current');
  await expect(page.getByLabel('Start from')).toContainText('The current adapter (rank');
  await page.getByLabel('Steps').fill('2');
  if (await ack.isVisible()) await ack.check();
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 2 steps', { timeout: 150_000 });
  expect(Math.abs((await readNumber(page, 'train-first-loss')) - Math.LN2)).toBeGreaterThan(1e-4);
  await page.getByText(/Past runs/).click();
  await expect(page.getByRole('table', { name: 'Past runs' })).toContainText('continued');
});

test('train on feedback says what is missing when there are too few pairs', async ({ page }) => {
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Train on this feedback' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'DPO needs at least 2 preference pairs' })).toContainText('your feedback makes 0');
  await expect(page.getByLabel('Dataset summary')).toHaveCount(0);
  // The empty panel (no answers, no ratings yet) has no serious or critical axe finding either.
  const axe = await new AxeBuilder({ page }).include('section[aria-label="Feedback"]').analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
});

test('an Evaluate row sends its prompt to Compare, and base vs tuned answers are rated as a pair', async ({ page, modelServer }) => {
  test.setTimeout(5 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '3', 'Batch size': '2', 'Sequence length': '32', 'Learning rate': '0.01', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  const ack = page.getByLabel('I have read the serious findings and want to train anyway');
  if (await ack.isVisible()) await ack.check();
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 3 steps', { timeout: 150_000 });

  const evaluate = page.getByRole('region', { name: 'Evaluate' });
  await evaluate.getByLabel('Tokens per answer').fill('8');
  await evaluate.getByRole('button', { name: 'Evaluate base vs tuned' }).click();
  const row = evaluate.getByRole('group', { name: 'Held-out example 1' });
  await expect(row).toBeVisible({ timeout: 120_000 });
  const prompt = ((await row.locator('.gen-prompt strong').textContent()) ?? '').trim();
  expect(prompt).not.toBe('');
  await row.getByRole('button', { name: 'Compare two answers to this prompt (example 1)' }).click();
  const panel = page.getByRole('group', { name: 'Compare two answers' });
  await expect(panel).toBeFocused();
  await expect(page.getByLabel('Input for both answers')).toHaveValue(prompt);

  await panel.getByLabel('Answer sources').selectOption({ label: 'Base vs tuned' });
  await panel.getByRole('button', { name: 'Compare two answers' }).click();
  await expect(panel.getByRole('button', { name: 'B is better' })).toBeEnabled({ timeout: 60_000 });
  await expect(panel.getByRole('figure').first()).toContainText('base model');
  await expect(panel.getByRole('figure').nth(1)).toContainText('with adapter');
  await page.keyboard.press('2');
  const item = page.getByRole('listitem', { name: 'Feedback 1' });
  await expect(item).toContainText(prompt);
  await expect(item.getByLabel('Verdict')).toHaveValue('b');
  // The record names the adapter it came from.
  await expect(item).toContainText('trained (run');
});
