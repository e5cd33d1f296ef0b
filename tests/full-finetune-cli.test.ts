// Full fine-tuning through `npm run train -- --method full` on stories260K: the loss falls, <out> is a
// complete Hugging Face model folder (the checkpoint's float32, tied head left out, tokenizer files)
// and so is each checkpoint folder, and `npm run generate -- --model <out>` runs it like any model
// and continues the prompt differently from the base.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bufferSource, readHeader } from '../src/model/safetensors';

const ROOT = new URL('..', import.meta.url).pathname;
const STORIES = path.join(ROOT, '../shared/models/stories260K');
const DRAGON = path.join(ROOT, 'public/examples/stories-dragon.jsonl');

function run(cli: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli', cli), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);

describe('npm run train -- --method full', () => {
  it('writes a Hugging Face model folder that npm run generate -- --model opens', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'full-cli-')), 'out');
    const t = await run('train.ts', ['--model', STORIES, '--data', DRAGON, '--out', out, '--method', 'full', '--steps', '6', '--batch', '4', '--max-len', '32', '--lr', '0.002', '--warmup', '0', '--checkpoint-every', '3', '--seed', '1']);
    expect(t.code, t.stderr).toBe(0);
    const steps = lines(t.stdout).filter((l) => 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Math.min(...steps.slice(3).map((l) => l.loss))).toBeLessThan(steps[0].loss);
    expect(t.stderr).toMatch(/model folder in /);
    const files = (await readdir(out)).sort();
    // The model folder, its checkpoints, and the run record `npm run export -- --format bundle --run` reads.
    expect(files).toEqual(['checkpoint-3', 'checkpoint-6', 'config.json', 'generation_config.json', 'model.safetensors', 'run.json', 'tokenizer.json', 'tokenizer_config.json', 'train.jsonl', 'validation.jsonl']);
    expect((await readdir(path.join(out, 'checkpoint-3'))).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json', 'trainer_state.safetensors']);
    const header = await readHeader(bufferSource(new Uint8Array(await readFile(path.join(out, 'model.safetensors')))), 'model.safetensors');
    expect(header.tensors.get('model.embed_tokens.weight')?.dtype).toBe('F32');
    expect(header.tensors.size).toBe(2 + 5 * 9); // embed, final norm; per layer 2 norms + 7 projections

    const args = ['--prompt', 'Once upon a time', '--max-new-tokens', '16', '--greedy'];
    const tuned = await run('generate.ts', ['--model', out, ...args]);
    expect(tuned.code, tuned.stderr).toBe(0);
    const base = await run('generate.ts', ['--model', STORIES, ...args]);
    const [a, b] = [JSON.parse(tuned.stdout), JSON.parse(base.stdout)];
    expect(a.prompt_ids).toEqual(b.prompt_ids);
    expect(a.output_ids).toHaveLength(16);
    expect(a.output_ids).not.toEqual(b.output_ids);
  }, 120_000);

  it('refuses --virtual-tokens and --dtype where they do not apply', async () => {
    const bad = await run('train.ts', ['--model', STORIES, '--data', DRAGON, '--out', path.join(tmpdir(), 'never'), '--method', 'lora', '--dtype', 'BF16']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--dtype applies to --method full only/);
  }, 60_000);
});
