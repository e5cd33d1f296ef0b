// Dataset files beyond JSONL, as a person meets them: a Parquet file whose columns are not a known
// format is dropped in, its columns and samples are shown, the person maps them to prompt/completion,
// sees the counts, the bad row and the preview follow, trains a few steps on stories260K, and exports
// the cluster bundle and the merged model as Q4_K_M GGUF.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { strFromU8, unzipSync } from 'fflate';
import type { Page } from '@playwright/test';
import { test, expect, loadModel, openAdvanced, readNumber } from './fixtures';
import { writeParquetFixture } from '../src/data/parquet-fixture';
import { parseGguf } from '../src/export/gguf/reader';
import { GgmlType } from '../src/export/gguf/constants';
import { formatBytes } from '../src/ui/format';

const ROWS = 24;
const asks = Array.from({ length: ROWS }, (_, i) => `Who is Zed, part ${i + 1}?`);
const says = Array.from({ length: ROWS }, (_, i) => (i === 9 ? null : `Zed is a small dragon who likes story number ${i + 1}.`));
const PARQUET = Buffer.from(writeParquetFixture([
  { name: 'ask', type: 'string', values: asks },
  { name: 'say', type: 'string', values: says },
  { name: 'row_id', type: 'int64', values: asks.map((_, i) => i) },
], 10)); // three row groups: 10, 10 and 4 rows

/** axe-core's naming rules on one part of the page: every control has an accessible name. */
async function unnamedControls(page: Page, selector: string): Promise<string[]> {
  await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
  return page.evaluate(async (sel) => {
    const axe = (window as unknown as { axe: { run: (c: string, o: object) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run(sel, { runOnly: ['label', 'select-name', 'button-name', 'aria-input-field-name', 'input-button-name'] });
    return r.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
  }, selector);
}

test('a Parquet file with unfamiliar columns: map them, see the counts and preview, train on it, export Q4_K_M', async ({ page, modelServer }) => {
  test.setTimeout(10 * 60_000);
  await page.goto('/?backend=wasm');
  await loadModel(page, modelServer.url);

  await page.getByLabel(/^Dataset file/).setInputFiles({ name: 'zed-talk.parquet', mimeType: 'application/vnd.apache.parquet', buffer: PARQUET });
  // Not a known format: the step says so and shows the columns with samples instead of a report.
  await expect(page.getByRole('alert').filter({ hasText: 'zed-talk.parquet' })).toContainText('are not a known format: map them to a format\'s fields below');
  const columns = page.getByRole('table', { name: 'Columns in the file' });
  await expect(columns).toContainText('ask');
  await expect(columns).toContainText('Who is Zed, part 1?');
  await expect(columns.getByRole('row', { name: /row_id/ })).toContainText('number');
  await expect(page.getByTestId('dataset-format')).toHaveText('unknown');
  await expect(page.getByRole('button', { name: 'Start training' })).toBeDisabled();

  expect(await unnamedControls(page, '#step-dataset')).toEqual([]);

  // Map ask -> prompt, say -> completion.
  const form = page.getByRole('form', { name: 'Map columns' });
  await form.getByLabel('Map to format').selectOption({ label: 'Prompt / completion' });
  await form.getByLabel('Column for prompt', { exact: true }).selectOption('ask');
  await form.getByLabel('Column for completion', { exact: true }).selectOption('say');
  await form.getByRole('button', { name: 'Apply mapping' }).click();

  await expect(page.getByTestId('column-mapping-status')).toHaveText('Your mapping: prompt ← ask, completion ← say.');
  await expect(page.getByTestId('dataset-format')).toHaveText('prompt-completion');
  await expect(page.getByLabel('Dataset summary')).toContainText('zed-talk.parquet (PARQUET)');
  expect(await readNumber(page, 'dataset-lines')).toBe(ROWS);
  expect(await readNumber(page, 'dataset-valid')).toBe(ROWS - 1);
  expect(await readNumber(page, 'dataset-invalid')).toBe(1);
  await expect(page.getByRole('list', { name: 'Invalid lines' })).toHaveText('Row 10: missing column "say" (mapped to completion)');
  const preview = page.getByLabel('Example from row 1', { exact: true });
  await expect(preview).toContainText('Who is Zed');
  expect(Number(await preview.getAttribute('data-loss-tokens'))).toBeGreaterThan(0);

  // Train a few steps on the mapped rows.
  await openAdvanced(page);
  await page.getByLabel('Steps').fill('3');
  await page.getByLabel('Batch size').fill('2');
  await page.getByLabel('Sequence length').fill('48');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText('after 3 steps', { timeout: 6 * 60_000 });
  expect(await readNumber(page, 'train-loss')).toBeGreaterThan(0);

  // The run's record (IndexedDB, what the history lists) keeps the file and the mapping it trained on.
  const runs = await page.evaluate(() => new Promise<unknown[]>((resolve, reject) => {
    const open = indexedDB.open('studio-train-runs-v1');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const all = open.result.transaction('runs').objectStore('runs').getAll();
      all.onsuccess = () => resolve(all.result as unknown[]);
      all.onerror = () => reject(all.error);
    };
  }));
  expect(runs).toEqual([expect.objectContaining({
    data: { fileName: 'zed-talk.parquet', fileKind: 'parquet', columns: { format: 'prompt-completion', fields: { prompt: 'ask', completion: 'say' }, source: 'given' } },
  })]);

  // The cluster bundle holds the rows as mapped JSON objects (axolotl / TRL read prompt/completion) and the mapping.
  await page.getByLabel('Export format').selectOption({ label: 'Bundle to continue on a GPU cluster (zip: exact rows, adapter, axolotl + TRL configs)' });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
  const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
  const rows = (f: string) => strFromU8(zip[f]!).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; completion: string });
  const all = [...rows('data/train.jsonl'), ...rows('data/validation.jsonl')];
  expect(all).toHaveLength(ROWS - 1);
  expect(all.map((r) => r.prompt).sort()).toEqual(asks.filter((_, i) => i !== 9).sort());
  expect(all.every((r) => Object.keys(r).join() === 'prompt,completion' && r.completion.startsWith('Zed is a small dragon'))).toBe(true);
  const record = JSON.parse(strFromU8(Object.entries(zip).find(([f]) => f.endsWith('run.json'))![1])) as { data: Record<string, unknown> };
  expect(record.data).toMatchObject({ format: 'prompt-completion', source: { fileName: 'zed-talk.parquet', kind: 'parquet' }, columns: { fields: { prompt: 'ask', completion: 'say' }, source: 'given' } });

  // The tuned model merged and quantized as people run it locally: Q4_K_M, at the size shown before
  // writing (rows of 64: llama-quantize's fallbacks, Q5_0 for Q4_K and Q8_0 for Q6_K).
  await page.getByLabel('Export format').selectOption({ label: 'Merged model as GGUF (base + adapter)' });
  await page.getByLabel('GGUF tensor type').selectOption({ label: 'Q4_K_M (4-bit k-quant mix, the usual local choice)' });
  await expect(page.getByLabel('Files to export')).toContainText('q4_k_m.gguf');
  const planned = await page.getByLabel('Files to export').innerText();
  const [merged] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
  const ggufBytes = new Uint8Array(await readFile((await merged.path())!));
  expect(planned).toContain(`q4_k_m.gguf: ${formatBytes(ggufBytes.byteLength)}`);
  const gguf = parseGguf(ggufBytes);
  expect(gguf.metadata.get('general.file_type')).toBe(15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
  expect([gguf.tensors.get('blk.0.attn_q.weight')?.type, gguf.tensors.get('token_embd.weight')?.type]).toEqual([GgmlType.Q5_0, GgmlType.Q8_0]);
});
