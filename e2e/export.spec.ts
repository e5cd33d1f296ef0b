// The Use step's export panel (wasm): with an adapter opened from a hosted link, choosing "LoRA
// adapter as GGUF" shows its exact size and downloads a GGUF adapter file with llama.cpp's keys;
// the base model as Q8_0 GGUF downloads with its architecture and tokenizer sections, and as Q4_K_M
// with llama-quantize's type mix at the size shown before. A run
// trained in the page becomes a cluster bundle holding exactly the dataset's rows and its settings.
import { readFile } from 'node:fs/promises';
import { unzipSync, strFromU8 } from 'fflate';
import { test, expect, loadModel, EXAMPLE_DATASET, openAdvanced } from './fixtures';
import { hostSyntheticAdapter } from './hosted-synthetic-adapter';
import { parseGguf } from '../src/export/gguf/reader';
import { GgmlType } from '../src/export/gguf/constants';
import { formatBytes } from '../src/ui/format';
import type { LoraSpec } from '../src/adapters/lora-types';

test('exports the adapter and the base model as GGUF files from the Use step', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: modelServer.url };
  const { host } = await hostSyntheticAdapter(spec);
  try {
    await page.goto(`/?backend=wasm#adapter-url=${encodeURIComponent(host.url)}`);
    await expect(page.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter: rank 4', { timeout: 60_000 });

    await page.getByLabel('Export format').selectOption({ label: 'LoRA adapter as GGUF (llama.cpp --lora)' });
    await expect(page.getByLabel('Files to export')).toContainText('lora-f32.gguf');
    const [adapterDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
    await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toContainText('to your downloads');
    const lora = parseGguf(new Uint8Array(await readFile(await adapterDownload.path())));
    expect(adapterDownload.suggestedFilename()).toMatch(/lora-f32\.gguf$/);
    expect(lora.metadata.get('general.type')).toBe('adapter');
    expect(lora.metadata.get('adapter.type')).toBe('lora');
    expect(lora.metadata.get('adapter.lora.alpha')).toBe(8);
    expect(lora.tensors.get('blk.4.attn_v.weight.lora_b')?.shape).toEqual([32, 4]);

    await page.getByLabel('Export format').selectOption({ label: 'Base model as GGUF' });
    await page.getByLabel('GGUF tensor type').selectOption('q8_0');
    await expect(page.getByLabel('Files to export')).toContainText('q8_0.gguf');
    const [baseDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
    const bytes = new Uint8Array(await readFile(await baseDownload.path()));
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('GGUF');
    const base = parseGguf(bytes);
    expect(base.metadata.get('general.architecture')).toBe('llama');
    expect(base.metadata.get('tokenizer.ggml.model')).toBe('llama');
    expect(base.tensors.get('blk.0.attn_q.weight')?.type).toBe(GgmlType.Q8_0);

    // Q4_K_M: llama-quantize's mix on rows of 64 (Q4_K falls back to Q5_0; Q6_K to Q8_0 for attn_v of
    // layers 2 and 4 and the tied embedding), its size shown before writing.
    await page.getByLabel('GGUF tensor type').selectOption({ label: 'Q4_K_M (4-bit k-quant mix, the usual local choice)' });
    await expect(page.getByLabel('Files to export')).toContainText('q4_k_m.gguf');
    const planned = await page.getByLabel('Files to export').innerText();
    const [quantDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
    const qbytes = new Uint8Array(await readFile(await quantDownload.path()));
    expect(planned).toContain(`q4_k_m.gguf: ${formatBytes(qbytes.byteLength)}`);
    const q = parseGguf(qbytes);
    expect(q.metadata.get('general.file_type')).toBe(15);
    expect([q.tensors.get('blk.0.attn_q.weight')?.type, q.tensors.get('blk.2.attn_v.weight')?.type, q.tensors.get('token_embd.weight')?.type]).toEqual([GgmlType.Q5_0, GgmlType.Q8_0, GgmlType.Q8_0]);
  } finally {
    await host.close();
  }
});

test('a run trained in the page exports as a cluster bundle with its exact rows and settings', async ({ page, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await page.goto('/?backend=wasm');
  await loadModel(page, modelServer.url);
  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await openAdvanced(page);
  for (const [label, value] of Object.entries({ Steps: '2', 'Batch size': '2', 'Sequence length': '32' })) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toBeVisible({ timeout: 120_000 });
  await page.getByLabel('Export format').selectOption({ label: 'Bundle to continue on a GPU cluster (zip: exact rows, adapter, axolotl + TRL configs)' });
  await expect(page.getByLabel('Files to export')).toContainText('cluster-bundle.zip');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
  const zip = unzipSync(new Uint8Array(await readFile(await download.path())));
  const rows = (f: string) => strFromU8(zip[f]!).split('\n').filter(Boolean);
  const original = (await readFile(EXAMPLE_DATASET, 'utf8')).split(/\r?\n/).filter(Boolean);
  expect([...rows('data/train.jsonl'), ...rows('data/validation.jsonl')].sort()).toEqual([...original].sort());
  const yaml = strFromU8(zip['axolotl.yaml']!);
  expect(yaml).toContain('max_steps: 2');
  expect(yaml).toContain('micro_batch_size: 2');
  expect(yaml).toContain('sequence_len: 32');
  expect(zip['adapter/adapter_model.safetensors']!.byteLength).toBeGreaterThan(1000);
});

test('"Export to a folder" streams the files into the picked folder (File System Access API)', async ({ page, modelServer }) => {
  test.setTimeout(3 * 60_000);
  // The picker needs a person; the origin-private file system is a real FileSystemDirectoryHandle.
  await page.addInitScript(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  });
  await page.goto('/?backend=wasm');
  await loadModel(page, modelServer.url);
  await page.getByLabel('Export format').selectOption({ label: 'Base model as GGUF' });
  await page.getByLabel('GGUF tensor type').selectOption('f32');
  await expect(page.getByLabel('Files to export')).toContainText('f32.gguf');
  await page.getByRole('button', { name: 'Export to a folder…' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toContainText('to the folder');
  const stored = await page.evaluate(async () => {
    const dir = await navigator.storage.getDirectory();
    const names: string[] = [];
    for await (const [name] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) names.push(name);
    const file = await (await dir.getFileHandle(names.find((n) => n.endsWith('.gguf'))!)).getFile();
    return { names, size: file.size, head: new TextDecoder().decode(await file.slice(0, 4).arrayBuffer()) };
  });
  expect(stored.names).toEqual(['llama-f32.gguf']); // served from a bare host: named by model_type
  expect(stored.head).toBe('GGUF');
  expect(stored.size).toBe(1054528); // the same bytes `npm run export -- --format gguf --type f32` writes
});
