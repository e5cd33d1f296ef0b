// `npm run train` and `npm run eval` with --columns on a file that is not JSONL: a Parquet file with
// unfamiliar column names trains, the run record keeps the mapping and writes the rows it trained on
// as mapped JSON objects, and eval reads the same file through the same mapping.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeParquetFixture } from '../src/data/parquet-fixture';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MODEL = fileURLToPath(new URL('../../shared/models/stories260K/', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'studio-columns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 20;
const DATA = path.join(dir, 'zed.parquet');
writeFileSync(DATA, writeParquetFixture([
  { name: 'ask', type: 'string', values: Array.from({ length: N }, (_, i) => `Who is Zed ${i}?`) },
  { name: 'say', type: 'string', values: Array.from({ length: N }, (_, i) => `Zed is a dragon, story ${i}.`) },
], 6));

function run(script: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8' });
}
const json = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('--columns on train and eval', () => {
  it('trains on mapped Parquet rows, records the mapping and the mapped rows, and eval takes the same flag', () => {
    const out = path.join(dir, 'run');
    const t = run('cli/train.ts', ['--model', MODEL, '--data', DATA, '--columns', 'prompt=ask,completion=say', '--out', out, '--steps', '2', '--batch', '2', '--max-len', '32', '--val-percent', '10']);
    expect(t.status, t.stderr).toBe(0);
    expect(json(t.stdout).filter((l) => 'step' in l && 'loss' in l)).toHaveLength(2);

    const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { data: Record<string, unknown> };
    expect(record.data).toMatchObject({
      format: 'prompt-completion', trainRows: 18, validationRows: 2,
      source: { fileName: 'zed.parquet', kind: 'parquet', gzip: false },
      columns: { format: 'prompt-completion', fields: { prompt: 'ask', completion: 'say' }, source: 'given' },
    });
    const rows = readFileSync(path.join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows).toHaveLength(18);
    for (const r of rows) expect(Object.keys(r)).toEqual(['prompt', 'completion']);
    expect(rows[0].completion).toMatch(/^Zed is a dragon, story \d+\.$/);

    const e = run('cli/eval.ts', ['--model', MODEL, '--adapter', out, '--data', DATA, '--columns', 'prompt=ask,completion=say', '--seq-len', '32', '--prompts', '0']);
    expect(e.status, e.stderr).toBe(0);
    expect(json(e.stdout)[0]).toMatchObject({ eval: 'heldout', examples: 2 });
  }, 240_000);

  // Each CLI keeps its own exit convention for usage errors: train exits 1 (all errors), eval 2.
  it.each([
    ['cli/train.ts', ['--out', path.join(dir, 'x')], 1, 'UsageError: --columns: prompt-completion needs "completion" mapped to a column (a prompt alone makes a file of prompts, for --objective grpo)'],
    ['cli/eval.ts', ['--adapter', path.join(dir, 'x')], 2, '{"error":"--columns: prompt-completion needs \\"completion\\" mapped to a column (a prompt alone makes a file of prompts, for --objective grpo)","name":"ColumnMappingError"}'],
  ])('%s refuses a --columns without its required fields before loading anything', (script, extra, code, message) => {
    const r = run(script as string, ['--model', MODEL, '--data', DATA, '--columns', 'prompt=ask', ...(extra as string[])]);
    expect(r.status).toBe(code);
    expect(r.stderr).toContain(message);
  }, 120_000);
});
