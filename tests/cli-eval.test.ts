// `npm run eval` as a person runs it, after `npm run train` on the same data: its held-out loss for
// the tuned adapter is the trainer's own final validation loss (same split, same seed, same T).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MODEL = fileURLToPath(new URL('../../shared/models/stories260K/', import.meta.url));
const DATA = 'public/examples/stories-dragon.jsonl';
const out = mkdtempSync(path.join(tmpdir(), 'studio-eval-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function lines(script: string, args: string[]): Record<string, unknown>[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('npm run eval', () => {
  it('prints held-out, general-text, generation and score lines; tuned held-out loss = the trainer’s eval loss', () => {
    const train = lines('cli/train.ts', ['--model', MODEL, '--data', DATA, '--out', out, '--steps', '12', '--lr', '1e-2', '--batch', '4', '--max-len', '48', '--eval-every', '12']);
    const evalLoss = train.filter((l) => 'eval_loss' in l).at(-1)!.eval_loss as number;
    const ev = lines('cli/eval.ts', ['--model', MODEL, '--adapter', out, '--data', DATA, '--seq-len', '48', '--prompts', '2', '--max-new-tokens', '12']);
    expect(ev.map((l) => l.eval)).toEqual(['heldout', 'general', 'generation', 'generation', 'scores']);
    const h = ev[0] as { tuned_loss: number; base_loss: number; examples: number };
    expect(h.examples).toBe(5);
    expect(h.tuned_loss).toBeCloseTo(evalLoss, 6);
    expect(h.tuned_loss).toBeLessThan(h.base_loss);
    expect(ev[1]).toMatchObject({ paragraphs: 10 });
    expect(ev[2]).toMatchObject({ strength: 1, base_scores: { exact: false }, prompt: expect.any(String), reference: expect.any(String) });
  }, 180_000);

  it('refuses a missing --adapter with the usage line, exit 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/eval.ts', '--model', MODEL, '--data', DATA], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr.trim())).toMatchObject({ name: 'UsageError', error: expect.stringContaining('--adapter <folder>') });
  });
});
