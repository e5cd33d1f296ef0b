// `npm run generate` as CI and users call it: one JSON line with the reference greedy ids for
// stories260K, sampling that is repeatable by seed, and a clear error with a non-zero exit.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';

const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npx', ['tsx', 'cli/generate.ts', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run generate', () => {
  it('prints the reference greedy continuation of "The cat" as one JSON line', () => {
    const r = run(['--model', STORIES, '--prompt', 'The cat', '--max-new-tokens', '64', '--greedy']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]) as { prompt_ids: number[]; output_ids: number[]; text: string; prefill_tokens_per_s: number; decode_tokens_per_s: number };
    expect(out.prompt_ids).toEqual([1, 291, 280, 294]);
    expect(out.prefill_tokens_per_s).toBeGreaterThan(0);
    expect(out.decode_tokens_per_s).toBeGreaterThan(0);
    expect(out.output_ids).toEqual([269, 261, 268, 414, 422, 382, 276, 337, 299, 322, 265, 282, 295, 433, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 269, 352, 379, 261, 420, 277, 264, 265, 282, 295, 433, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 269, 262, 411, 411, 433, 426, 13, 441, 416, 411, 328, 432, 261, 376, 268]);
    expect(out.text.startsWith('The cat and a boy were playing in the park.')).toBe(true);
  });

  it('samples repeatably for a seed and differently for another', () => {
    const sample = (seed: string) => JSON.parse(run(['--model', STORIES, '--prompt', 'Lily', '--max-new-tokens', '24', '--temperature', '1.0', '--seed', seed]).stdout).output_ids;
    const a = sample('7');
    expect(sample('7')).toEqual(a);
    expect(sample('8')).not.toEqual(a);
  });

  it('fails with a message on stderr when the model folder does not exist', () => {
    const r = run(['--model', '/nonexistent/model', '--prompt', 'x']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/config\.json|ENOENT/);
  });
});
