// KTO in a real browser (wasm): pick the thumbs up / down objective, drop the shipped unpaired set
// (the preference set's answers labelled true / false), train a few steps: the first loss is exactly
// 0.5 (a fresh adapter equals the base), the loss falls, and the rewards and KL are charted per step.
// ORPO on the shipped preference set charts its rewards and odds ratio term per step. Ratings of
// answers sent as chat turns (stories260K given a chat template) download in TRL's conversational
// form and "Train on the ratings (KTO)" trains on them, from loss 0.5.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced } from './fixtures';
import { startModelServer } from './model-server';
import { storiesChatModel } from '../tests/stories-chat-model';

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

test('KTO on chat-turn ratings: the conversational rows download as TRL reads them and train from loss 0.5', async ({ page }) => {
  test.setTimeout(4 * 60_000);
  // stories260K with a chat template (none of the tiny models ships one), so the Use step offers chat turns.
  const server = await startModelServer({ root: await storiesChatModel() });
  try {
    await page.goto('/?backend=wasm');
    await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
    await loadModel(page, server.url);
    await page.getByLabel('Send as a chat turn', { exact: false }).check();
    await page.getByLabel('New tokens').fill('12');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeEnabled({ timeout: 60_000 });
    // A thumbs-down with a correction: one false row (the answer) and one true row (the correction).
    await page.getByRole('button', { name: "Bad answer: the base model's answer" }).click();
    await page.getByLabel("Corrected answer for the base model's answer (optional)").fill('A kind dragon.');
    await page.getByRole('button', { name: "Save correction for the base model's answer" }).click();
    await expect(page.getByRole('listitem', { name: 'Feedback 1' })).toContainText('(chat turn)');

    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download unpaired rows/ }).click()]);
    const rows = (await readFile((await file.path())!, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { prompt: unknown; completion: { role: string; content: string }[]; label: boolean });
    expect(rows.map((r) => r.label)).toEqual([false, true]);
    for (const r of rows) expect(r.prompt).toEqual([{ role: 'user', content: 'Once upon a time' }]);
    expect(rows[1].completion).toEqual([{ role: 'assistant', content: 'A kind dragon.' }]);

    await page.getByRole('button', { name: 'Train on the ratings (KTO)' }).click();
    await expect(page.getByLabel('Dataset summary')).toContainText('feedback-unpaired.jsonl');
    await expect(page.getByTestId('dataset-template')).toContainText("the model's chat_template");
    await expect(page.getByLabel('Objective', { exact: true })).toHaveValue('kto');
    await openAdvanced(page);
    for (const [label, value] of Object.entries({ Steps: '2', 'Batch size': '2', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
    const ack = page.getByLabel('I have read the serious findings and want to train anyway');
    if (await ack.isVisible()) await ack.check();
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 2 steps', { timeout: 150_000 });
    expect(await readNumber(page, 'train-first-loss')).toBe(0.5);
  } finally {
    await server.close();
  }
});
