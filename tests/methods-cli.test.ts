// The new methods through `npm run train` / `npm run generate` on stories260K: DPO over a prefix-tuned
// soft prompt stopped at step K and resumed from its checkpoint folder prints the same losses and
// rewards as an uninterrupted run; the PEFT PREFIX_TUNING files it writes are read back by generate.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const STORIES = path.join(ROOT, '../shared/models/stories260K');
const PREFERENCES = path.join(ROOT, 'public/examples/stories-preference.jsonl');

function run(cli: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli', cli), '--model', STORIES, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);

describe('npm run train with --method and --objective', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'methods-cli-'));
  });
  const common = ['--data', PREFERENCES, '--method', 'prompt-tuning', '--virtual-tokens', '4', '--init-text', 'Once upon a time', '--objective', 'dpo', '--beta', '0.2', '--steps', '5', '--batch', '2', '--max-len', '56', '--lr', '0.002', '--checkpoint-every', '2', '--seed', '3'];

  it('DPO on prompt tuning resumed at step K equals the uninterrupted run; generate reads its PEFT files', async () => {
    const full = await run('train.ts', [...common, '--out', path.join(dir, 'full')]);
    expect(full.code, full.stderr).toBe(0);
    const steps = lines(full.stdout).filter((l) => 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4, 5]);
    expect(Object.keys(steps[0]).sort()).toEqual(['grad_norm', 'loss', 'lr', 'rewards_accuracy', 'rewards_chosen', 'rewards_margin', 'rewards_rejected', 'step', 'tokens']);

    const part = await run('train.ts', [...common, '--out', path.join(dir, 'part'), '--stop-at', '3']);
    expect(part.code, part.stderr).toBe(0);
    expect((await readdir(path.join(dir, 'part'))).sort()).toEqual(['checkpoint-2', 'checkpoint-3', 'run.json', 'train.jsonl', 'validation.jsonl']); // checkpoints + the run record
    const rest = await run('train.ts', ['--data', PREFERENCES, '--out', path.join(dir, 'part'), '--resume', path.join(dir, 'part', 'checkpoint-3')]);
    expect(rest.code, rest.stderr).toBe(0);
    const restSteps = lines(rest.stdout).filter((l) => 'loss' in l);
    expect(restSteps.map((l) => l.step)).toEqual([4, 5]);
    restSteps.forEach((l, i) => {
      expect(Math.abs(l.loss - steps[3 + i].loss)).toBeLessThan(1e-6);
      expect(Math.abs(l.rewards_margin - steps[3 + i].rewards_margin)).toBeLessThan(1e-5);
    });

    const cfg = JSON.parse(await readFile(path.join(dir, 'full', 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, token_dim: 64, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Once upon a time' });
    const tuned = await run('generate.ts', ['--adapter', path.join(dir, 'full'), '--prompt', 'Lily', '--max-new-tokens', '8', '--greedy']);
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(JSON.parse(tuned.stdout).output_ids).toHaveLength(8);
  });

  it('prefix tuning writes PREFIX_TUNING files (PEFT GQA layout) that generate reads', async () => {
    const out = path.join(dir, 'prefix');
    const r = await run('train.ts', ['--data', path.join(ROOT, 'public/examples/stories-dragon.jsonl'), '--out', out, '--method', 'prefix-tuning', '--virtual-tokens', '3', '--steps', '2', '--max-len', '32']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(out, 'adapter_config.json'), 'utf8'))).toMatchObject({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, token_dim: 32, num_attention_heads: 4, num_layers: 5 });
    const g = await run('generate.ts', ['--adapter', out, '--prompt', 'Zed', '--max-new-tokens', '6', '--greedy']);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).output_ids).toHaveLength(6);
  });

  it('refuses what does not apply, naming the flag', async () => {
    const r = await run('train.ts', ['--data', PREFERENCES, '--out', path.join(dir, 'x'), '--method', 'prefix-tuning', '--init-text', 'Once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--init-text applies to prompt tuning only/);
    const d = await run('train.ts', ['--data', path.join(ROOT, 'public/examples/stories-dragon.jsonl'), '--out', path.join(dir, 'y'), '--objective', 'dpo', '--steps', '1']);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/NotPreferenceDataError: DPO needs preference pairs/);
  });
});
