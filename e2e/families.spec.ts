// Model families in the browser: tiny Qwen3 and Gemma 3 (../shared/models, transformers-made) load
// from a base URL, train a few LoRA steps, generate, and round-trip a share link into a fresh
// profile with the same greedy text (wasm); a couple of steps of Qwen3 on WebGPU (SwiftShader).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced, EXAMPLE_DATASET } from './fixtures';
import { startModelServer } from './model-server';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = (name: string) => path.resolve(here, `../../shared/models/${name}`);

const CASES = [
  { name: 'tiny-qwen3', family: 'qwen3', backend: 'wasm', steps: 3, share: true },
  { name: 'tiny-gemma3', family: 'gemma3', backend: 'wasm', steps: 3, share: true },
  { name: 'tiny-qwen3', family: 'qwen3', backend: 'webgpu', steps: 2, share: false },
] as const;

for (const c of CASES) {
  test(`${c.name} on ${c.backend}: load from a base URL, train ${c.steps} steps, generate${c.share ? ', share link' : ''}`, async ({ page, browser }) => {
    test.setTimeout(6 * 60_000);
    const server = await startModelServer({ root: modelDir(c.name) });
    try {
      await page.goto(`/?backend=${c.backend}`);
      await expect(page.getByTestId('backend-name')).toHaveText(c.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly', { timeout: 60_000 });
      await loadModel(page, server.url);
      await expect(page.getByLabel('Loaded model')).toContainText(`(${c.family} family)`);

      await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
      expect(await readNumber(page, 'dataset-valid')).toBeGreaterThan(10);
      await openAdvanced(page);
      await page.getByLabel('Steps').fill(String(c.steps));
      await page.getByLabel('Batch size').fill('2');
      await page.getByLabel('Sequence length').fill('32');
      await page.getByLabel('Learning rate').fill('0.02');
      if (c.backend === 'webgpu') {
        // SwiftShader is slow: no periodic samples or evaluation, just the steps.
        await page.getByLabel('Samples every').fill('0');
        await page.getByLabel('Evaluate every').fill('0');
      }
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText(`after ${c.steps} steps`, { timeout: 4 * 60_000 });
      expect(Number.isFinite(await readNumber(page, 'train-loss'))).toBe(true);

      await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
      await page.getByLabel('New tokens').fill('8');
      await page.getByRole('button', { name: 'Generate' }).click();
      await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 2 * 60_000 });
      const tunedText = (await page.getByLabel('Tuned model output').textContent())!;
      expect(tunedText.startsWith('Zed')).toBe(true);
      expect(tunedText.length).toBeGreaterThan('Zed'.length);
      if (!c.share) return;

      await page.getByRole('button', { name: 'Copy share link' }).click();
      const link = new URL(await page.getByLabel(/^Share link/).inputValue());
      expect(link.hash).toContain('adapter=');
      link.search = `?backend=${c.backend}`;
      const other = await browser.newContext();
      try {
        const page2 = await other.newPage();
        await page2.goto(link.toString());
        await expect(page2.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter', { timeout: 120_000 });
        await expect(page2.getByLabel('Loaded model')).toContainText(`(${c.family} family)`);
        await page2.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
        await page2.getByLabel('New tokens').fill('8');
        await page2.getByRole('button', { name: 'Generate' }).click();
        await expect(page2.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 2 * 60_000 });
        await expect(page2.getByLabel('Tuned model output')).toHaveText(tunedText);
      } finally {
        await other.close();
      }
    } finally {
      await server.close();
    }
  });
}
