// A dataset by its hub id, from a local server that answers like the hub (the Parquet listing and
// the files): pick a config and split, download it with a progress bar into IndexedDB, see the
// question/answer columns mapped automatically, and load it again without a second download.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, loadModel, readNumber } from './fixtures';
import { startModelServer, type ModelServer } from './model-server';
import { writeParquetFixture } from '../src/data/parquet-fixture';

const ROWS = 40;
const parquet = (split: string) => writeParquetFixture([
  { name: 'question', type: 'string', values: Array.from({ length: ROWS }, (_, i) => `${split} question ${i}?`) },
  { name: 'answer', type: 'string', values: Array.from({ length: ROWS }, (_, i) => `Zed says ${i}.`) },
], 16);

let hub: ModelServer;
test.beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'hub-e2e-'));
  hub = await startModelServer({ root });
  const url = (config: string, split: string) => `${hub.url}/datasets/zed/talk/resolve/refs%2Fconvert%2Fparquet/${config}/${split}/0000.parquet`;
  mkdirSync(join(root, 'api/datasets/zed/talk'), { recursive: true });
  writeFileSync(join(root, 'api/datasets/zed/talk/parquet'), JSON.stringify({ default: { train: [url('default', 'train')], test: [url('default', 'test')] }, small: { train: [url('small', 'train')] } }));
  for (const [config, split] of [['default', 'train'], ['default', 'test'], ['small', 'train']]) {
    const dir = join(root, `datasets/zed/talk/resolve/refs/convert/parquet/${config}/${split}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0000.parquet'), parquet(split));
  }
});
test.afterAll(async () => hub.close());

test('a hub dataset by id: config and split, downloaded once into IndexedDB, columns mapped', async ({ page, modelServer }) => {
  await page.goto(`/?backend=wasm&hub=${encodeURIComponent(hub.url)}`);
  await loadModel(page, modelServer.url);

  const form = page.getByRole('group', { name: 'Dataset from the Hugging Face hub' });
  await form.getByLabel('Hub dataset id').fill('zed/none');
  await form.getByRole('button', { name: 'List splits' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Hub dataset not available' })).toContainText('The hub has no dataset zed/none');

  await form.getByLabel('Hub dataset id').fill('zed/talk');
  await form.getByRole('button', { name: 'List splits' }).click();
  await expect(form.getByLabel('Config')).toHaveValue('default');
  await expect(form.getByLabel('Split')).toHaveValue('train');
  await form.getByLabel('Split').selectOption('test');
  await form.getByRole('button', { name: 'Load from the hub' }).click();

  await expect(page.getByLabel('Dataset summary')).toContainText('zed/talk/default/test/0000.parquet');
  await expect(page.getByTestId('column-mapping-status')).toHaveText('Mapping detected from the column names: prompt ← question, completion ← answer.');
  expect(await readNumber(page, 'dataset-valid')).toBe(ROWS);
  await expect(page.getByLabel('Example from row 1', { exact: true })).toContainText('test question 0?');
  const downloads = () => hub.requests.filter((r) => r.path.endsWith('.parquet')).length;
  expect(downloads()).toBe(1);

  // Again, in a fresh page: from IndexedDB, no second download.
  await page.reload();
  await loadModel(page, modelServer.url);
  await form.getByLabel('Hub dataset id').fill('zed/talk');
  await form.getByRole('button', { name: 'List splits' }).click();
  await form.getByLabel('Split').selectOption('test');
  await form.getByRole('button', { name: 'Load from the hub' }).click();
  await expect(page.getByLabel('Dataset summary')).toContainText('zed/talk/default/test/0000.parquet');
  expect(await readNumber(page, 'dataset-valid')).toBe(ROWS);
  expect(downloads()).toBe(1);
});
