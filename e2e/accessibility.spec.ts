// Accessibility of the page at every step of the journey (wasm, stories260K): axe-core finds no
// serious or critical violation when the page opens, with the model loaded, with a dataset, with
// the settings open, while training, when training has finished, after Evaluate and with the export
// picker open, each at a desktop (1280 px) and a phone (390 px) width. Screenshots of each state go
// to test-results/a11y/ for a person to look at.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { test, expect, loadModel, openAdvanced, EXAMPLE_DATASET } from './fixtures';

const WIDTHS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
];

/** Serious and critical violations at both widths, as "rule: target" lines (empty when clean). */
async function violations(page: Page, state: string): Promise<string[]> {
  const found: string[] = [];
  for (const w of WIDTHS) {
    await page.setViewportSize({ width: w.width, height: w.height });
    await page.screenshot({ path: test.info().outputPath(`a11y/${state}-${w.name}.png`), fullPage: true });
    const result = await new AxeBuilder({ page }).analyze();
    for (const v of result.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      for (const n of v.nodes) found.push(`${state} @${w.width}px ${v.id} (${v.impact}): ${n.target.join(' ')} - ${n.failureSummary?.split('\n')[1]?.trim() ?? ''}`);
    }
  }
  await page.setViewportSize({ width: WIDTHS[0]!.width, height: WIDTHS[0]!.height });
  return found;
}

test('no serious or critical axe violation at any step, at 1280 and 390 px', async ({ page, modelServer }) => {
  test.setTimeout(10 * 60_000);
  const all: string[] = [];
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  all.push(...(await violations(page, 'open')));

  await loadModel(page, modelServer.url);
  all.push(...(await violations(page, 'model-loaded')));

  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  all.push(...(await violations(page, 'dataset')));

  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '30', 'Batch size': '2', 'Sequence length': '32', 'Learning rate': '0.01', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  all.push(...(await violations(page, 'settings')));

  await page.getByRole('button', { name: 'Start training' }).click();
  const chart = page.getByRole('figure', { name: 'Training loss chart' });
  await expect(chart).toHaveAttribute('data-points', /^[1-9]/, { timeout: 120_000 });
  all.push(...(await violations(page, 'training')));
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toBeVisible({ timeout: 5 * 60_000 });
  all.push(...(await violations(page, 'finished')));

  const evaluate = page.getByRole('region', { name: 'Evaluate' });
  await evaluate.getByRole('button', { name: 'Evaluate base vs tuned' }).click();
  await expect(evaluate.getByRole('table', { name: 'Held-out loss', exact: true })).toBeVisible({ timeout: 120_000 });
  all.push(...(await violations(page, 'evaluated')));

  await page.getByRole('heading', { name: 'Take it anywhere' }).scrollIntoViewIfNeeded();
  all.push(...(await violations(page, 'export')));

  expect(all, all.join('\n')).toEqual([]);
});
