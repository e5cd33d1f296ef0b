// Runs `npm run dataset -- check` as a person would and checks its JSON-lines output and exit status.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeParquetFixture } from './parquet-fixture';
import { storiesChatModel } from '../../tests/stories-chat-model';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K/', import.meta.url));

function run(...args: string[]): { rc: number | null; out: unknown[]; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/dataset.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { rc: r.status, out: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown), err: r.stderr };
}

describe('dataset check CLI', () => {
  it('lists each bad line then the summary with token counts, exit 1', () => {
    const r = run('check', 'tests/fixtures/datasets/mixed-quality.jsonl', '--model', MODEL, '--max-length', '12');
    expect(r.rc).toBe(1);
    const errors = r.out.filter((o) => 'error' in (o as object));
    expect(errors.map((o) => (o as { line: number }).line)).toEqual([4, 5, 6, 7, 8, 9, 11, 12]);
    expect(errors[1]).toEqual({ line: 5, error: 'missing field "text"' });
    // Beside the errors, the preflight finding: the 12-token limit cuts trained tokens and the EOS of three lines.
    expect(r.out.filter((o) => 'warning' in (o as object))).toEqual([
      expect.objectContaining({ warning: 'cut-by-max-length', severity: 'warning', count: 3, lines: [1, 2, 10], message: expect.stringContaining('3 of them lose their stop token') }),
    ]);
    expect(r.out[r.out.length - 1]).toEqual({ format: 'text', lines: 12, valid: 4, invalid: 8, examples: 4, tokens: 42, truncated: 3 });
  });

  it('settings findings with --steps / --lr: JSON lines with a "warning" field, exit status unchanged', () => {
    const r = run('check', 'public/examples/stories-dragon.jsonl', '--model', MODEL, '--steps', '2000', '--lr', '1');
    expect(r.rc).toBe(0);
    const warnings = r.out.filter((o) => 'warning' in (o as object)) as { warning: string; severity: string; fix: string }[];
    expect(warnings.map((w) => [w.warning, w.severity])).toEqual([['too-few-examples', 'serious'], ['learning-rate', 'serious']]);
    for (const w of warnings) expect(w.fix).toMatch(/\.$/);
    // The defaults on the same file: nothing to report.
    expect(run('check', 'public/examples/stories-dragon.jsonl', '--model', MODEL, '--steps', '30', '--lr', '3e-3').out.filter((o) => 'warning' in (o as object))).toEqual([]);
  });

  it('KTO rows: one label only is serious, the shipped balanced set is clean', () => {
    const r = run('check', 'tests/fixtures/datasets/kto-one-label.jsonl', '--model', MODEL);
    expect(r.out.filter((o) => 'warning' in (o as object))).toEqual([expect.objectContaining({ warning: 'one-label-only', severity: 'serious', count: 3, lines: [1, 2, 3] })]);
    expect(run('check', 'public/examples/stories-kto.jsonl', '--model', MODEL).out.filter((o) => 'warning' in (o as object))).toEqual([]);
  });

  it("KTO rows in TRL's conversational form: read through the model's chat template, one label only still named", async () => {
    const chatModel = await storiesChatModel();
    const dir = mkdtempSync(path.join(tmpdir(), 'dataset-cli-chat-'));
    const file = path.join(dir, 'kto-chat.jsonl');
    const chatRow = (q: string, a: string, label: boolean) => JSON.stringify({ prompt: [{ role: 'user', content: q }], completion: [{ role: 'assistant', content: a }], label });
    writeFileSync(file, [chatRow('Tom saw a dog.', 'He was happy.', false), chatRow('Sue had a cake.', 'She shared it.', false), chatRow('The sun came up.', 'Birds sang.', false)].join('\n') + '\n');
    const r = run('check', file, '--model', chatModel);
    expect(r.rc).toBe(0);
    expect(r.out.filter((o) => 'warning' in (o as object))).toEqual([expect.objectContaining({ warning: 'one-label-only', severity: 'serious', count: 3, lines: [1, 2, 3] })]);
    expect(r.out.at(-1)).toMatchObject({ format: 'prompt-completion', lines: 3, valid: 3, invalid: 0, examples: 3 });
    // Without a chat template (stories260K itself) every conversational line is named.
    const bare = run('check', file, '--model', MODEL);
    expect(bare.rc).toBe(1);
    expect(bare.out.filter((o) => 'error' in (o as object)).map((o) => (o as { line: number }).line)).toEqual([1, 2, 3]);
  });

  it('duplicates are found without a model too', () => {
    const r = run('check', 'tests/fixtures/datasets/duplicates.jsonl', '--val-percent', '0');
    expect(r.out.filter((o) => 'warning' in (o as object))).toEqual([expect.objectContaining({ warning: 'duplicates-in-train', lines: [3] })]);
  });

  it('a clean file exits 0 and, without a model, prints no token counts', () => {
    const r = run('check', 'public/examples/qa-prompt-completion.jsonl');
    expect(r.rc).toBe(0);
    expect(r.out).toEqual([{ format: 'prompt-completion', lines: 20, valid: 20, invalid: 0, examples: 20 }]);
  });

  it('--format forces a format: lines of another shape become errors', () => {
    const r = run('check', 'public/examples/qa-prompt-completion.jsonl', '--format', 'text');
    expect(r.rc).toBe(1);
    expect(r.out[0]).toEqual({ line: 1, error: 'line is in "prompt-completion" format but the file is "text"' });
    expect(r.out[r.out.length - 1]).toEqual({ format: 'text', lines: 20, valid: 0, invalid: 20, examples: 0 });
  });

  it('a binary file is one clear error, exit 2', () => {
    const r = run('check', 'tests/fixtures/datasets/not-text.jsonl');
    expect(r.rc).toBe(2);
    expect(JSON.parse(r.err.trim())).toMatchObject({ name: 'DatasetFileError' });
  });

  describe('files beyond JSONL and --columns', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dataset-cli-'));
    const csv = path.join(dir, 'qa.csv');
    writeFileSync(csv, 'question,answer\n"What is 2+2?\nThink.",4\n"Say ""hi""",hi\nempty answer,\n');
    const pq = path.join(dir, 'odd.parquet');
    writeFileSync(pq, writeParquetFixture([
      { name: 'q', type: 'string', values: ['one', 'two', 'three', null, 'five'] },
      { name: 'a', type: 'string', values: ['1', '2', '3', '4', '5'] },
    ], 2));

    it('--columns maps a CSV: rows start on the right lines, the empty cell is named by its column', () => {
      const r = run('check', csv, '--columns', 'prompt=question,completion=answer');
      expect(r.rc).toBe(1);
      expect(r.out).toEqual([
        { line: 5, error: 'field "completion" is empty (column "answer")' },
        { format: 'prompt-completion', lines: 3, valid: 2, invalid: 1, examples: 2, mapping: { source: 'given', columns: 'prompt=question,completion=answer' } },
      ]);
    });

    it('without --columns, question/answer is detected and said so', () => {
      expect(run('check', csv).out.at(-1)).toMatchObject({ format: 'prompt-completion', valid: 2, mapping: { source: 'detected', columns: 'completion=answer,prompt=question' } });
    });

    it('Parquet with unfamiliar columns: unknown without a mapping, trainable with --columns (tokens with --model)', () => {
      const unknown = run('check', pq);
      expect(unknown.rc).toBe(1);
      expect(unknown.out[0]).toEqual({ line: 1, error: expect.stringContaining("or map its columns (q, a) to a format's fields") });
      expect(unknown.out.at(-1)).toEqual({ format: null, lines: 5, valid: 0, invalid: 5, examples: 0 });
      const mapped = run('check', pq, '--columns', 'prompt=q,completion=a', '--model', MODEL);
      // (Preflight also warns that one-character answers are near-empty: not this test's point.)
      expect(mapped.out.filter((o) => !('warning' in (o as object)))).toEqual([
        { line: 4, error: 'missing column "q" (mapped to prompt)' },
        expect.objectContaining({ format: 'prompt-completion', lines: 5, valid: 4, invalid: 1, examples: 4, tokens: expect.any(Number), mapping: { source: 'given', columns: 'prompt=q,completion=a' } }),
      ]);
    });

    it('--columns prompt=<column> alone reads prompts (for GRPO); the other columns stay with each row', () => {
      const r = run('check', pq, '--columns', 'prompt=q', '--model', MODEL);
      expect(r.out.filter((o) => !('warning' in (o as object)))).toEqual([
        { line: 4, error: 'missing column "q" (mapped to prompt)' },
        expect.objectContaining({ format: 'prompt', lines: 5, valid: 4, invalid: 1, examples: 4, mapping: { source: 'given', columns: 'prompt=q' } }),
      ]);
    });

    it.each([
      ['prompt', '--columns: "prompt" is not field=column (e.g. prompt=question,completion=answer)'],
      ['prompt=q,answer=a', '--columns: "answer" is not a field of prompt-completion (prompt, completion); prompt-completion needs "completion" mapped to a column'],
    ])('a bad --columns %j is a usage error (exit 2) that says what is wrong', (flag, message) => {
      const r = run('check', pq, '--columns', flag);
      expect(r.rc).toBe(2);
      expect(JSON.parse(r.err.trim())).toEqual({ name: 'ColumnMappingError', error: message });
    });
  });
});
