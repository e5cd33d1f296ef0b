// Runs `npm run dataset -- check` as a person would and checks its JSON-lines output and exit status.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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
    expect(r.out.slice(0, -1).map((o) => (o as { line: number }).line)).toEqual([4, 5, 6, 7, 8, 9, 11, 12]);
    expect(r.out[1]).toEqual({ line: 5, error: 'missing field "text"' });
    expect(r.out[r.out.length - 1]).toEqual({ format: 'text', lines: 12, valid: 4, invalid: 8, examples: 4, tokens: 42, truncated: 3 });
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
});
