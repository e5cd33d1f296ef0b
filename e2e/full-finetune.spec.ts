// Full fine-tuning in a real browser (wasm): pick it in the method picker (offered for stories260K),
// train 3 steps, compare base and tuned greedy text, download the Hugging Face folder (config.json,
// model.safetensors with every decoder tensor in float32, tokenizer files); adapter download and
// share link are off for it; the folder, hosted, opens as a model and generates the tuned text.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startModelServer } from './model-server';
import { test, expect, loadModel, EXAMPLE_DATASET, openAdvanced } from './fixtures';
import { readHeader, bufferSource } from '../src/model/safetensors';

test('full fine-tuning trains, generates and downloads a Hugging Face model folder that opens hosted', async ({ page, browser, modelServer }) => {
  test.setTimeout(3 * 60_000);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await expect(page.getByTestId('full-why-not')).toHaveCount(0);
  await page.getByLabel('Method', { exact: true }).selectOption({ label: 'Full fine-tuning' });
  await expect(page.getByTestId('method-line')).toContainText('16 bytes per parameter');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '3', 'Batch size': '4', 'Sequence length': '32', 'Learning rate': '0.002', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 3 steps', { timeout: 120_000 });
  await expect(page.getByLabel('Adapter', { exact: true })).toContainText('full fine-tuning, every weight');

  await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
  await page.getByLabel('New tokens').fill('12');
  await page.getByLabel('Temperature (0 = greedy)').fill('0');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
  const tuned = (await page.getByLabel('Tuned model output').textContent())!;
  expect(tuned.startsWith('Zed')).toBe(true);
  expect(tuned).not.toBe(await page.getByLabel('Base model output').textContent());

  await expect(page.getByRole('button', { name: 'Download adapter (PEFT)' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Copy share link' })).toBeDisabled();
  await expect(page.getByLabel('Fully fine-tuned model')).toContainText('share links carry adapters');
  const downloads: { name: string; bytes: Buffer }[] = [];
  page.on('download', async (d) => downloads.push({ name: d.suggestedFilename(), bytes: await readFile((await d.path())!) }));
  await page.getByRole('button', { name: 'Download model (Hugging Face folder)' }).click();
  await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(5);
  expect(downloads.map((d) => d.name).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const cfg = JSON.parse(downloads.find((d) => d.name === 'config.json')!.bytes.toString('utf8'));
  expect(cfg).toMatchObject({ model_type: 'llama', num_hidden_layers: 5, tie_word_embeddings: true });
  const header = await readHeader(bufferSource(new Uint8Array(downloads.find((d) => d.name === 'model.safetensors')!.bytes)));
  expect(header.tensors.size).toBe(2 + 5 * 9);
  expect(header.tensors.get('model.layers.4.mlp.down_proj.weight')).toMatchObject({ dtype: 'F32', shape: [64, 172] });

  // The folder on a web server, opened as the model in a fresh profile: its own (base) output is the tuned text.
  const dir = await mkdtemp(path.join(tmpdir(), 'full-ft-folder-'));
  for (const d of downloads) await writeFile(path.join(dir, d.name), d.bytes);
  const hosted = await startModelServer({ root: dir });
  const other = await browser.newContext();
  const page2 = await other.newPage();
  await page2.goto('/?backend=wasm');
  await expect(page2.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
  await loadModel(page2, hosted.url);
  await page2.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
  await page2.getByLabel('New tokens').fill('12');
  await page2.getByLabel('Temperature (0 = greedy)').fill('0');
  await page2.getByRole('button', { name: 'Generate' }).click();
  await expect(page2.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
  await expect(page2.getByLabel('Base model output')).toHaveText(tuned);
  await other.close();
  await hosted.close();
});
