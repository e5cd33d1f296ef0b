// `npm run train` end to end on stories260K: JSON lines per step and eval, a run stopped at step K
// and resumed from its checkpoint folder prints the same losses from K+1 on as an uninterrupted run,
// a diverging run exits 3 naming its last good checkpoint, and bad data exits 1 before training.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const STORIES = path.join(ROOT, '../shared/models/stories260K');

function train(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli/train.ts'), '--model', STORIES, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);

describe('npm run train', () => {
  let dir: string;
  let data: string;
  const common = () => ['--data', data, '--steps', '8', '--batch', '2', '--max-len', '24', '--seed', '5', '--dropout', '0.1', '--targets', 'attention', '--eval-every', '4', '--checkpoint-every', '3'];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'train-cli-'));
    data = path.join(dir, 'data.jsonl');
    const texts = Array.from({ length: 10 }, (_, i) => JSON.stringify({ text: `Zed the purple dragon number ${i} liked to fly over the green hill.` }));
    await writeFile(data, texts.join('\n') + '\n');
  });

  it('resumed from step K, prints the same losses from K+1 on as an uninterrupted run', async () => {
    const full = await train([...common(), '--out', path.join(dir, 'full')]);
    expect(full.code).toBe(0);
    const fullLines = lines(full.stdout);
    const steps = fullLines.filter((l) => 'step' in l && 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const l of steps) expect(Object.keys(l).sort()).toEqual(['grad_norm', 'loss', 'lr', 'step', 'tokens']);
    expect(fullLines.filter((l) => 'eval_loss' in l).map((l) => l.step)).toEqual([4, 8]);
    await access(path.join(dir, 'full', 'adapter_model.safetensors'));

    const part = await train([...common(), '--out', path.join(dir, 'part'), '--stop-at', '5']);
    expect(part.code).toBe(0);
    expect(lines(part.stdout).filter((l) => 'loss' in l).map((l) => l.step)).toEqual([1, 2, 3, 4, 5]);
    expect((await readdir(path.join(dir, 'part'))).sort()).toEqual(['checkpoint-3', 'checkpoint-5', 'run.json', 'train.jsonl', 'validation.jsonl']);

    const rest = await train(['--data', data, '--out', path.join(dir, 'part'), '--resume', path.join(dir, 'part', 'checkpoint-5')]);
    expect(rest.code).toBe(0);
    const restSteps = lines(rest.stdout).filter((l) => 'loss' in l);
    expect(restSteps.map((l) => l.step)).toEqual([6, 7, 8]);
    restSteps.forEach((l, i) => {
      expect(Math.abs(l.loss - steps[5 + i].loss)).toBeLessThan(1e-6);
      expect(l.lr).toBe(steps[5 + i].lr);
    });
    expect(lines(rest.stdout).filter((l) => 'eval_loss' in l).map((l) => l.eval_loss)).toEqual(fullLines.filter((l) => 'eval_loss' in l && l.step === 8).map((l) => l.eval_loss));

    // After running out of memory: the same checkpoint resumed one row at a time, two micro-batches a
    // step (the same rows per step; only the dropout masks of the smaller shapes differ).
    const small = await train(['--data', data, '--out', path.join(dir, 'part'), '--resume', path.join(dir, 'part', 'checkpoint-5'), '--batch', '1']);
    expect(small.code).toBe(0);
    const smallSteps = lines(small.stdout).filter((l) => 'loss' in l);
    expect(smallSteps.map((l) => l.step)).toEqual([6, 7, 8]);
    expect(Math.abs(smallSteps[0].loss - steps[5].loss) / steps[5].loss).toBeLessThan(0.05);
    expect(smallSteps[0].tokens).toBe(steps[5].tokens);
    const odd = await train(['--data', data, '--out', path.join(dir, 'part'), '--resume', path.join(dir, 'part', 'checkpoint-5'), '--batch', '3']);
    expect(odd.code).toBe(1);
    expect(odd.stderr).toMatch(/this run takes 2 examples per optimizer step, so on resume --batch must divide 2/);
  });

  it('exits 3 on a diverging run, naming the reason and the last good checkpoint', async () => {
    const r = await train(['--data', data, '--out', path.join(dir, 'nan'), '--steps', '20', '--batch', '2', '--max-len', '24', '--checkpoint-every', '1', '--lr', '1e6', '--warmup', '0', '--schedule', 'constant']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/TrainingDivergedError: Training stopped at step 2/);
    // Step 2's loss came from the weights after step 1: checkpoint-1 is not good, and there is none before it.
    expect(r.stderr).toMatch(/No good checkpoint: the weights went bad right after step 1/);
    await access(path.join(dir, 'nan', 'checkpoint-1', 'trainer_state.json'));
    await expect(access(path.join(dir, 'nan', 'adapter_model.safetensors'))).rejects.toThrow();
  });

  it('exits 1 on invalid lines, with file and line on stderr, before training', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    await writeFile(bad, '{"text": "fine line here"}\n{"txet": "typo"}\nnot json\n');
    const r = await train(['--data', bad, '--out', path.join(dir, 'bad'), '--steps', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl:2: /);
    expect(r.stderr).toMatch(/BadDataError: .*2 of 3 lines are invalid/);
    expect(r.stdout).toBe('');
  });
});
