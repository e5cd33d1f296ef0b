// GRPO in a real browser (wasm): drop a file of prompts, pick "Reward you write (GRPO)", try the
// reward in its sandbox (an opaque origin with no storage or network APIs), train a few steps with a
// function written in the editor, and see TRL's figures charted per step. A reward that throws names
// its data line and keeps the adapter; one that never returns is cut off by the time limit.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { unzipSync, strFromU8 } from 'fflate';
import AxeBuilder from '@axe-core/playwright';
import { test, expect, loadModel, openAdvanced } from './fixtures';

const PROMPTS = fileURLToPath(new URL('../public/examples/stories-prompts.jsonl', import.meta.url));

async function setUp(page: Page, url: string, steps: string): Promise<void> {
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(PROMPTS);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-prompts.jsonl');
  await page.getByLabel('Objective', { exact: true }).selectOption({ label: 'Reward you write (GRPO)' });
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: steps, 'Batch size': '2', 'Sequence length': '40', 'Learning rate': '0.01', Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByLabel('Completions per prompt').fill('2');
  // Preflight for prompts: 40 tokens leave the longest opening less room than 64 new tokens, and it says so.
  await page.getByLabel('Longest completion (tokens)').fill('64');
  await expect(page.getByTestId('grpo-room')).toContainText('its completions stop after');
  await page.getByLabel('Longest completion (tokens)').fill('12');
  await expect(page.getByTestId('grpo-room')).toHaveCount(0);
}

test('GRPO with a reward written in the page: tried in its sandbox, trained, charted', async ({ page, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await setUp(page, modelServer.url, '4');
  const code = page.getByLabel('Reward function (JavaScript module)');
  await expect(code).toHaveValue(/export default function reward/);
  // The reward form has no serious or critical axe finding, at desktop and phone width.
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.locator('fieldset[aria-label="GRPO reward and sampling"]').screenshot({ path: test.info().outputPath(`grpo-form-${width}.png`) });
    const axe = await new AxeBuilder({ page }).include('fieldset[aria-label="GRPO reward and sampling"]').analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${width}px ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  // The default pays for the word Lily: tried in the same sandbox the run uses.
  await page.getByLabel('Completion to try').fill('Lily went to the park.');
  await page.getByRole('button', { name: 'Try the reward' }).click();
  await expect(page.getByText('Reward 1 for this completion.')).toBeVisible({ timeout: 30_000 });
  // The sandbox: an opaque origin, and no storage or network API left in its scope.
  await code.fill(`export default () => (self.origin === 'null' && typeof indexedDB === 'undefined' && typeof caches === 'undefined' && typeof fetch === 'undefined' && typeof XMLHttpRequest === 'undefined' && typeof WebSocket === 'undefined' && !('storage' in navigator)) ? 7 : 0;`);
  await page.getByRole('button', { name: 'Try the reward' }).click();
  await expect(page.getByText('Reward 7 for this completion.')).toBeVisible({ timeout: 30_000 });
  // A module without a default export cannot start a run.
  await code.fill('const reward = () => 1;');
  await expect(page.getByRole('alert').filter({ hasText: 'needs a default export' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Start training' })).toBeDisabled();
  // Pays for words: every completion of 12 tokens has several, so rewards differ within groups.
  await code.fill(`export default function reward({ completion }) {\n  return completion.split(/\\s+/).filter(Boolean).length / 10;\n}\n`);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 4 steps', { timeout: 200_000 });
  // TRL's figures charted live: a point per step on the reward, KL and length charts.
  await expect(page.getByRole('figure', { name: 'GRPO reward chart' })).toHaveAttribute('data-points', '4');
  await expect(page.getByRole('figure', { name: 'GRPO KL chart' })).toHaveAttribute('data-points', '4');
  await expect(page.getByRole('figure', { name: 'GRPO completion length chart' })).toHaveAttribute('data-points', '4');
  // Handed off: the cluster bundle holds a TRL GRPOTrainer script, the prompt rows as the file has them,
  // and the function as written (reward.py asks for it to be ported).
  await page.getByLabel('Export format').selectOption({ label: 'Bundle to continue on a GPU cluster (zip: exact rows, adapter, axolotl + TRL configs)' });
  await expect(page.getByLabel('Files to export')).toContainText('cluster-bundle.zip');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
  const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
  const script = strFromU8(zip['train_trl.py']!);
  expect(script).toContain('GRPOTrainer');
  expect(script).toMatch(/"num_generations": 2\b/);
  expect(script).toMatch(/"max_completion_length": 12\b/);
  expect(zip['axolotl.yaml']).toBeUndefined();
  expect(strFromU8(zip['reward.mjs']!)).toContain('completion.split');
  expect(strFromU8(zip['reward.py']!)).toContain('NotImplementedError');
  const rows = (f: string) => strFromU8(zip[f]!).split('\n').filter(Boolean);
  const original = (await readFile(PROMPTS, 'utf8')).split('\n').filter(Boolean);
  expect([...rows('data/train.jsonl'), ...rows('data/validation.jsonl')].sort()).toEqual([...original].sort());
  expect(JSON.parse(strFromU8(zip['run.json']!)).reward).toEqual({ kind: 'module', fileName: 'reward.mjs', source: expect.stringContaining('completion.split') });
});

test('a reward that throws names its data line and keeps the adapter; one that hangs is cut off', async ({ page, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await setUp(page, modelServer.url, '3');
  const code = page.getByLabel('Reward function (JavaScript module)');
  // Step 1 scores 2 prompts x 2 completions; the fifth call, in step 2, throws and says which prompt it had.
  await code.fill(`let calls = 0;\nexport default ({ prompt }) => {\n  if (++calls > 4) throw new Error('refused: ' + prompt);\n  return calls % 2;\n};\n`);
  await page.getByRole('button', { name: 'Start training' }).click();
  const error = page.getByRole('alert').filter({ hasText: 'Training stopped with an error' });
  await expect(error).toContainText('reward function threw on data line', { timeout: 200_000 });
  const [, line, prompt] = /threw on data line (\d+): Error: refused: (.*)$/m.exec((await error.textContent())!.replace(/\s+$/, ''))!;
  // The line it names is the line of the file that holds that prompt.
  const lines = (await readFile(PROMPTS, 'utf8')).trim().split('\n');
  expect(prompt.startsWith(JSON.parse(lines[Number(line) - 1]).prompt)).toBe(true);
  // The adapter of step 1 stays: it can be used and downloaded.
  await expect(page.getByText(/Trained adapter: rank/)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Download adapter (PEFT)' })).toBeEnabled();
  await expect(page.getByRole('button', { name: 'Start training' })).toBeEnabled();

  await code.fill('export default () => { for (;;) {} };');
  await page.getByLabel('Time limit per reward call (ms)').fill('300');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Training stopped with an error' })).toContainText(/reward function timed out on data line \d+: no answer within 300 ms/, { timeout: 200_000 });
});
