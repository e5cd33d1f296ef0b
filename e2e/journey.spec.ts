// The whole journey, as a person does it, on WebGPU (SwiftShader here) and on the wasm fallback:
// load stories260K into IndexedDB, drop a JSONL file, train a few LoRA steps and watch the chart,
// compare base and tuned text, download the PEFT adapter, open the share link in a fresh browser
// profile and get the same greedy text, then reload with the model server down.
import { readFile } from 'node:fs/promises';
import { test, expect, loadModel, openAdvanced, readNumber, EXAMPLE_DATASET } from './fixtures';
import { readHeader, bufferSource } from '../src/model/safetensors';

const STEPS = 6;

for (const backend of ['webgpu', 'wasm'] as const) {
  test(`journey on ${backend}: model, dataset, training, generation, download, share link, offline reload`, async ({ page, browser, modelServer }) => {
    test.setTimeout(15 * 60_000);
    await page.goto(`/?backend=${backend}`);
    await expect(page.getByTestId('backend-name')).toHaveText(backend === 'webgpu' ? 'WebGPU' : 'WebAssembly', { timeout: 60_000 });
    await expect(page.getByRole('heading', { name: '1. Model' })).toBeVisible();

    // 1. Model, streamed cross-origin into IndexedDB.
    await loadModel(page, modelServer.url);
    await expect(page.getByLabel('Loaded model')).toContainText('loaded from the network');

    // 2. Dataset through the file picker.
    await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
    await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
    expect(await readNumber(page, 'dataset-valid')).toBeGreaterThan(10);
    expect(await readNumber(page, 'dataset-invalid')).toBe(0);
    await expect(page.getByLabel(/^Example from line/).first()).toBeVisible();

    // 3. Train a few steps; the chart gains a point per step and the loss falls.
    await openAdvanced(page);
    await page.getByLabel('Steps').fill(String(STEPS));
    await page.getByLabel('Batch size').fill('4');
    await page.getByLabel('Sequence length').fill('48');
    await page.getByLabel('Learning rate').fill('0.01');
    await page.getByRole('button', { name: 'Start training' }).click();
    const chart = page.getByRole('figure', { name: 'Training loss chart' });
    await expect(chart).toHaveAttribute('data-points', /^[1-9]/, { timeout: 5 * 60_000 });
    await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText(`after ${STEPS} steps`, { timeout: 8 * 60_000 });
    await expect(chart).toHaveAttribute('data-points', String(STEPS));
    const first = await readNumber(page, 'train-first-loss');
    const last = await readNumber(page, 'train-loss');
    expect(last).toBeLessThan(first);

    // 4. Base and tuned side by side (greedy).
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
    await page.getByLabel('New tokens').fill('16');
    await page.getByRole('button', { name: 'Generate' }).click();
    const tuned = page.getByLabel('Tuned model output');
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 5 * 60_000 });
    const tunedText = (await tuned.textContent())!;
    const baseText = (await page.getByLabel('Base model output').textContent())!;
    expect(tunedText.startsWith('Zed')).toBe(true);
    expect(tunedText).not.toBe(baseText);
    // The speed this device generated at, measured in the worker; the columns decoded as one batch.
    await expect(page.getByTestId('tuned-speed')).toHaveText(/^\d+ new tokens at [\d.]+ tokens\/s; the \d+-token prompt read at \d+ tokens\/s, decoded side by side with the other column\.$/);

    // 5. Download the PEFT adapter: two files with PEFT's keys and shapes.
    const downloads: { name: string; bytes: Buffer }[] = [];
    page.on('download', async (d) => downloads.push({ name: d.suggestedFilename(), bytes: await readFile((await d.path())!) }));
    await page.getByRole('button', { name: 'Download adapter (PEFT)' }).click();
    await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(2);
    const cfg = JSON.parse(downloads.find((d) => d.name === 'adapter_config.json')!.bytes.toString('utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: modelServer.url });
    const st = downloads.find((d) => d.name === 'adapter_model.safetensors')!.bytes;
    const header = await readHeader(bufferSource(new Uint8Array(st)));
    expect(header.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([8, 64]);
    expect(header.tensors.get('base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight')?.shape).toEqual([32, 8]);
    expect(header.tensors.size).toBe(5 * 2 * 2);

    // 6. Share link, opened in a fresh browser profile: same greedy text.
    await page.getByRole('button', { name: 'Copy share link' }).click();
    const link = await page.getByLabel(/^Share link/).inputValue();
    expect(link).toContain('#adapter=');
    const other = await browser.newContext();
    const page2 = await other.newPage();
    const shared = new URL(link);
    shared.search = `?backend=${backend}`;
    await page2.goto(shared.toString());
    await expect(page2.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter', { timeout: 120_000 });
    await page2.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
    await page2.getByLabel('New tokens').fill('16');
    await page2.getByRole('button', { name: 'Generate' }).click();
    await expect(page2.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 5 * 60_000 });
    await expect(page2.getByLabel('Tuned model output')).toHaveText(tunedText);
    await other.close();

    // 7. Reload with the model server unreachable: the model comes from IndexedDB.
    modelServer.setOffline(true);
    try {
      await page.reload();
      await expect(page.getByLabel('Loaded model')).toContainText('loaded from this browser (IndexedDB, no network)', { timeout: 120_000 });
    } finally {
      modelServer.setOffline(false);
    }
  });
}
