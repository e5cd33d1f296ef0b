// Preflight, presets and Evaluate in the real page (wasm): a serious finding blocks Start until it
// is acknowledged and training then goes ahead; after the bundled example run, the Evaluate view
// shows tuned held-out loss below base, generations that differ, the strength slider at 0 giving
// the base text exactly and at 1 the tuned text; and `npm run eval` on the downloaded adapter
// prints the same figures as the page. With SCREENSHOTS_DIR set it also saves the trained page at
// 375, 768 and 1280 px.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { test, expect, loadModel, openAdvanced, readNumber, STORIES_DIR, EXAMPLE_DATASET } from './fixtures';

async function settle(page: Page, steps: number): Promise<void> {
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText(`after ${steps} steps`, { timeout: 180_000 });
}

async function answers(page: Page, who: 'Base' | 'Tuned' | 'Reference', n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push((await page.getByLabel(`${who} answer ${i}`, { exact: true }).textContent()) ?? '');
  return out;
}

async function value(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-value'));
}

test('a serious finding blocks Start until acknowledged; Evaluate after the example run; npm run eval agrees', async ({ page, modelServer }) => {
  test.setTimeout(8 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await expect(page.getByTestId('state-dataset')).toContainText('Blocked: needs a model');
  await loadModel(page, modelServer.url);
  await page.getByRole('button', { name: /Example: short stories about Zed/ }).click();
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await expect(page.getByRole('region', { name: 'Dataset checks' })).toContainText('No problems found in 50 examples');
  await expect(page.getByTestId('state-train')).toContainText('Next');

  // Presets from the data: 45 training examples on a 260K-parameter model.
  await page.getByRole('radio', { name: /Quick look/ }).check();
  await expect(page.getByRole('list', { name: 'Why these settings' })).toContainText('1 pass over 45 examples (12 steps)');
  await openAdvanced(page);
  await expect(page.getByLabel('Steps')).toHaveValue('12');
  await expect(page.getByLabel('Learning rate')).toHaveValue('0.003');

  // A learning rate far below LoRA's range is serious: Start waits for the acknowledgement.
  await page.getByLabel('Learning rate').fill('0.0000001');
  await page.getByLabel('Steps').fill('2');
  const preflight = page.getByRole('region', { name: 'Preflight checks' });
  await expect(preflight.getByRole('listitem', { name: 'Serious: learning-rate' })).toContainText('below the usual');
  await expect(preflight).toContainText('Fix: Use a rate between');
  const start = page.getByRole('button', { name: 'Start training' });
  await expect(start).toBeDisabled();
  await expect(page.getByTestId('state-train')).toContainText('Blocked: review the serious findings');
  await expect(page.getByRole('radio', { name: /Quick look/ })).not.toBeChecked(); // the settings are custom now
  await page.getByLabel('I have read the serious findings and want to train anyway').check();
  await expect(start).toBeEnabled();
  await start.click();
  await settle(page, 2);

  // The bundled example run (README's settings, shortened): the finding is gone, nothing to acknowledge.
  for (const [label, v] of Object.entries({ 'Learning rate': '0.01', Steps: '30', 'Batch size': '4', 'Sequence length': '48', Warmup: '5', 'Evaluate every': '10' })) await page.getByLabel(label).fill(v);
  await expect(preflight).toHaveCount(0);
  await start.click();
  await settle(page, 30);
  await expect(page.getByTestId('state-train')).toContainText('Done: adapter ready');

  const evaluate = page.getByRole('region', { name: 'Evaluate' });
  await evaluate.getByRole('button', { name: 'Evaluate base vs tuned' }).click();
  await expect(evaluate.getByRole('table', { name: 'Held-out loss', exact: true })).toBeVisible({ timeout: 120_000 });
  const base = await value(page, 'eval-base-loss');
  const tuned = await value(page, 'eval-tuned-loss');
  expect(tuned).toBeLessThan(base);
  // The last evaluation during the run measured the same adapter on the same held-out set.
  expect(tuned).toBeCloseTo(await readNumber(page, 'eval-loss'), 4);
  await expect(evaluate.getByRole('table', { name: 'Forgetting' })).toContainText('10 paragraphs');
  await expect(page.getByTestId('state-train')).toContainText('Done: trained and evaluated');
  const n = 4;
  await expect(evaluate.getByRole('group', { name: /^Held-out example/ })).toHaveCount(n);
  const baseTexts = await answers(page, 'Base', n);
  const tunedTexts = await answers(page, 'Tuned', n);
  expect(tunedTexts).not.toEqual(baseTexts);

  // Strength 0 (Home, keyboard only) is the base model exactly; 1 (twenty steps of 0.05) the tuned one.
  const slider = evaluate.getByLabel('Adapter strength', { exact: true });
  await slider.focus();
  await page.keyboard.press('Home');
  await expect(evaluate.getByText('Tuned at strength 0', { exact: true }).first()).toBeVisible({ timeout: 120_000 });
  await expect(evaluate.getByText(/^Regenerating/)).toHaveCount(0, { timeout: 120_000 });
  expect(await answers(page, 'Tuned', n)).toEqual(baseTexts);
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight');
  await expect(evaluate.getByLabel('Adapter strength value')).toHaveText('1.00');
  await expect(evaluate.getByText(/^Tuned at strength/)).toHaveCount(0, { timeout: 120_000 });
  await expect(evaluate.getByText(/^Regenerating/)).toHaveCount(0, { timeout: 120_000 });
  await expect(slider).toBeFocused(); // regenerating never takes the keyboard away
  expect(await answers(page, 'Tuned', n)).toEqual(tunedTexts);

  // Charts save as CSV (the curve's numbers) and PNG.
  const lossChart = page.getByRole('figure', { name: 'Training loss chart' });
  const csv = page.waitForEvent('download');
  await lossChart.getByRole('button', { name: 'Save CSV' }).click();
  const csvText = (await readFile((await (await csv).path())!)).toString('utf8').trim().split('\n');
  expect(csvText[0]).toBe('step,loss,smoothed,validation_loss');
  expect(csvText).toHaveLength(31);
  const png = page.waitForEvent('download');
  await lossChart.getByRole('button', { name: 'Save PNG' }).click();
  expect([...(await readFile((await (await png).path())!)).subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');

  // Compare runs: both runs of this page overlaid, with their final figures.
  await page.getByText(/^Compare runs/).click();
  for (const box of await page.getByRole('group', { name: 'Runs to overlay' }).getByRole('checkbox').all()) await box.check();
  await expect(page.getByRole('figure', { name: 'Compared runs chart' })).toHaveAttribute('data-runs', '2');
  await expect(page.getByRole('table', { name: 'Compared runs' }).getByRole('row')).toHaveCount(3);
  await expect(page.getByRole('table', { name: 'Compared runs' })).toContainText('30 / 30');

  // npm run eval on the downloaded adapter, the same data and T: the same figures.
  const dir = mkdtempSync(path.join(tmpdir(), 'studio-quality-'));
  try {
    const saved: Promise<void>[] = [];
    page.on('download', (d) => saved.push(d.saveAs(path.join(dir, d.suggestedFilename()))));
    await page.getByRole('button', { name: 'Download adapter (PEFT)' }).click();
    await expect.poll(() => saved.length, { timeout: 30_000 }).toBe(2);
    await Promise.all(saved);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/eval.ts', '--model', STORIES_DIR, '--adapter', dir, '--data', EXAMPLE_DATASET, '--seq-len', '48', '--batch', '4', '--prompts', String(n), '--max-new-tokens', '32'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const held = lines.find((l) => l.eval === 'heldout')!;
    const general = lines.find((l) => l.eval === 'general')!;
    expect(held.base_loss as number).toBeCloseTo(base, 5);
    expect(held.tuned_loss as number).toBeCloseTo(tuned, 5);
    expect(general.base_loss as number).toBeCloseTo(await value(page, 'general-base-loss'), 5);
    expect(general.tuned_loss as number).toBeCloseTo(await value(page, 'general-tuned-loss'), 5);
    const gens = lines.filter((l) => l.eval === 'generation');
    expect(gens.map((g) => g.base)).toEqual(baseTexts);
    expect(gens.map((g) => g.tuned)).toEqual(tunedTexts);
    expect(gens.map((g) => g.reference)).toEqual(await answers(page, 'Reference', n));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const shots = process.env.SCREENSHOTS_DIR;
  if (shots) {
    await page.getByRole('textbox', { name: /^Prompt/ }).fill('Zed');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 120_000 });
    for (const width of [375, 768, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(300);
      writeFileSync(path.join(shots, `${width}.png`), await page.screenshot({ fullPage: true }));
    }
  }
});

/** Presses Tab until `target` has focus (it must be reachable in the tab order), then checks the focus is visible. */
async function tabTo(page: Page, target: ReturnType<Page['getByRole']>, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) {
      const outline = await target.evaluate((el) => getComputedStyle(el).outlineStyle);
      expect(outline, 'focused control shows an outline').not.toBe('none');
      return;
    }
    await page.keyboard.press('Tab');
  }
  throw new Error(`not reachable with Tab within ${max} presses: ${target.toString()}`);
}

test('keyboard alone: load the model, pick the example and a preset, train, evaluate', async ({ page, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await tabTo(page, page.getByLabel('Model URL or Hugging Face repo'));
  await page.keyboard.type(modelServer.url);
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Loaded model')).toContainText('loaded from', { timeout: 120_000 });
  await tabTo(page, page.getByRole('button', { name: /Example: short stories about Zed/ }));
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  // The step bar moves focus into the step it names.
  await page.keyboard.press('Shift+Tab');
  await tabTo(page, page.getByRole('link', { name: /^Train Next/ }), 200);
  await page.keyboard.press('Enter');
  await expect(page.locator('#step-train')).toBeFocused();
  await tabTo(page, page.getByRole('radio', { name: /Quick look/ }));
  await page.keyboard.press('Space');
  await expect(page.getByRole('radio', { name: /Quick look/ })).toBeChecked();
  await tabTo(page, page.getByRole('button', { name: 'Start training' }));
  await page.keyboard.press('Enter');
  await settle(page, 12);
  await tabTo(page, page.getByRole('button', { name: 'Evaluate base vs tuned' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('table', { name: 'Held-out loss', exact: true })).toBeVisible({ timeout: 120_000 });
});
