// Shared pieces of the Playwright journeys: the stories260K model server (cross-origin, with Range,
// as the hub serves files) and small helpers that act on the page as a person would.
import { test as base, expect, type Page } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer, type ModelServer } from './model-server';

const here = path.dirname(fileURLToPath(import.meta.url));
export const STORIES_DIR = path.resolve(here, '../../shared/models/stories260K');
export const EXAMPLE_DATASET = path.resolve(here, '../public/examples/stories-dragon.jsonl');

export const test = base.extend<object, { modelServer: ModelServer }>({
  modelServer: [
    async ({}, use) => {
      const server = await startModelServer({ root: STORIES_DIR });
      await use(server);
      await server.close();
    },
    { scope: 'worker' },
  ],
});
export { expect };

export async function loadModel(page: Page, url: string): Promise<void> {
  await page.getByLabel('Model URL or Hugging Face repo').fill(url);
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.getByLabel('Loaded model')).toContainText('loaded from', { timeout: 120_000 });
}

/** Opens the Train step's "Advanced settings" fold (closed by default) as a person would, once. */
export async function openAdvanced(page: Page): Promise<void> {
  const fold = page.locator('details.advanced');
  if ((await fold.getAttribute('open')) === null) await fold.getByText('Advanced settings', { exact: true }).click();
  await expect(page.getByLabel('Steps')).toBeVisible();
}

export async function readNumber(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).textContent());
}
