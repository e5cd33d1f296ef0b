// Hosted adapters: PEFT files served from another origin open through a `#adapter-url=` link, and
// the browser's tuned greedy text equals what `npm run generate -- --adapter` prints in Node for the
// same files. A missing hosted adapter gets a clear message.
import { execFileSync } from 'node:child_process';
import { test, expect, STORIES_DIR } from './fixtures';
import { hostSyntheticAdapter } from './hosted-synthetic-adapter';
import type { LoraSpec } from '../src/adapters/lora-types';

test('a hosted PEFT adapter opens from a link and generates what the Node CLI generates', async ({ page, modelServer, baseURL }) => {
  test.setTimeout(5 * 60_000);
  const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false, baseModel: modelServer.url };
  const { dir, host } = await hostSyntheticAdapter(spec);
  try {
    const cli = JSON.parse(
      execFileSync('npx', ['tsx', 'cli/generate.ts', '--model', STORIES_DIR, '--adapter', dir, '--prompt', 'Zed', '--max-new-tokens', '16', '--greedy'], { encoding: 'utf8' }),
    ) as { text: string };

    await page.goto(`/?backend=wasm#adapter-url=${encodeURIComponent(host.url)}`);
    await expect(page.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter: rank 4', { timeout: 60_000 });
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
    await page.getByLabel('New tokens').fill('16');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
    await expect(page.getByLabel('Tuned model output')).toHaveText(cli.text);
    expect(cli.text).not.toBe(await page.getByLabel('Base model output').textContent());

    // The page makes the same kind of link from a location typed in.
    await page.getByText('Adapter too large for a link? Share a hosted copy').click();
    await page.getByLabel('Hosted adapter location').fill(host.url);
    await page.getByRole('button', { name: 'Make hosted link' }).click();
    await expect(page.getByLabel(/^Share link/)).toHaveValue(`${baseURL}/#adapter-url=${encodeURIComponent(host.url)}`);

    const missing = await page.context().newPage();
    await missing.goto(`/?backend=wasm#adapter-url=${encodeURIComponent(host.url + '/nothing')}`);
    await expect(missing.getByRole('alert')).toContainText('This share link could not be opened', { timeout: 60_000 });
    await expect(missing.getByRole('alert')).toContainText('HTTP 404');
  } finally {
    await host.close();
  }
});
