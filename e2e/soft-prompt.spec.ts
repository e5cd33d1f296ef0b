// Prefix tuning in a real browser (wasm): pick it in the method picker, train a few steps, compare
// base and tuned greedy text, download the PEFT PREFIX_TUNING files (config fields and the one
// prompt_embeddings tensor in PEFT's [N, L*2*K*D] shape), and open the share link in a fresh
// profile to get the same tuned text.
import { readFile } from 'node:fs/promises';
import { test, expect, loadModel, readNumber, openAdvanced, EXAMPLE_DATASET } from './fixtures';
import { readHeader, bufferSource } from '../src/model/safetensors';

test('prefix tuning trains, generates, downloads PEFT files and shares by link', async ({ page, browser, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await page.getByLabel('Method', { exact: true }).selectOption({ label: 'Prefix tuning' });
  await expect(page.getByTestId('method-line')).toContainText('virtual keys and values');
  await page.getByLabel('Virtual tokens').fill('4');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '12', 'Batch size': '4', 'Sequence length': '40', 'Learning rate': '0.05', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 12 steps', { timeout: 150_000 });
  expect(await readNumber(page, 'train-loss')).toBeLessThan(await readNumber(page, 'train-first-loss'));
  await expect(page.getByLabel('Adapter', { exact: true })).toContainText('prefix tuning, 4 virtual tokens');

  await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
  await page.getByLabel('New tokens').fill('12');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
  const tunedText = (await page.getByLabel('Tuned model output').textContent())!;
  expect(tunedText.startsWith('Zed')).toBe(true);
  expect(tunedText).not.toBe(await page.getByLabel('Base model output').textContent());

  const downloads: { name: string; bytes: Buffer }[] = [];
  page.on('download', async (d) => downloads.push({ name: d.suggestedFilename(), bytes: await readFile((await d.path())!) }));
  await page.getByRole('button', { name: 'Download adapter (PEFT)' }).click();
  await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(2);
  const cfg = JSON.parse(downloads.find((d) => d.name === 'adapter_config.json')!.bytes.toString('utf8'));
  expect(cfg).toMatchObject({ peft_type: 'PREFIX_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 4, num_layers: 5, num_attention_heads: 4, token_dim: 32, prefix_projection: false, base_model_name_or_path: modelServer.url });
  const header = await readHeader(bufferSource(new Uint8Array(downloads.find((d) => d.name === 'adapter_model.safetensors')!.bytes)));
  expect([...header.tensors.keys()]).toEqual(['prompt_embeddings']);
  expect(header.tensors.get('prompt_embeddings')?.shape).toEqual([4, 5 * 2 * 4 * 8]);

  await page.getByRole('button', { name: 'Copy share link' }).click();
  const link = await page.getByLabel(/^Share link/).inputValue();
  const other = await browser.newContext();
  const page2 = await other.newPage();
  const shared = new URL(link);
  shared.search = '?backend=wasm';
  await page2.goto(shared.toString());
  await expect(page2.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter: prefix tuning', { timeout: 120_000 });
  await page2.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
  await page2.getByLabel('New tokens').fill('12');
  await page2.getByRole('button', { name: 'Generate' }).click();
  await expect(page2.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
  await expect(page2.getByLabel('Tuned model output')).toHaveText(tunedText);
  await other.close();
});
