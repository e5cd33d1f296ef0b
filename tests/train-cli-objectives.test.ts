// `npm run train` with --objective kto, orpo and grpo on stories260K: KTO's first step prints loss 0.5
// and TRL's figures (on string rows, and on conversational rows through a chat template), KTO and
// ORPO runs write their adapters in PEFT layout, a GRPO reward module that throws mid-run exits 1
// naming the data line with the last good adapter checkpointed, preflight findings reach stderr,
// and flags of another objective are refused.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storiesChatModel } from './stories-chat-model';

const ROOT = new URL('..', import.meta.url).pathname;
const STORIES = path.join(ROOT, '../shared/models/stories260K');
const PREFERENCES = path.join(ROOT, 'public/examples/stories-preference.jsonl');

function train(args: string[], model = STORIES): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli/train.ts'), '--model', model, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);

/** The PEFT files' tensor names and shapes. */
async function peftTensors(dir: string): Promise<{ config: Record<string, unknown>; tensors: Record<string, number[]> }> {
  const config = JSON.parse(await readFile(path.join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  const bytes = await readFile(path.join(dir, 'adapter_model.safetensors'));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  const tensors: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') tensors[k] = v.shape;
  return { config, tensors };
}

describe('npm run train --objective kto | orpo | grpo', () => {
  let dir: string;
  let ktoData: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'train-objectives-'));
    ktoData = path.join(dir, 'kto.jsonl');
    const rows = (await readFile(PREFERENCES, 'utf8')).trim().split('\n').slice(0, 8).flatMap((l) => {
      const p = JSON.parse(l) as { prompt: string; chosen: string; rejected: string };
      return [JSON.stringify({ prompt: p.prompt, completion: p.chosen, label: true }), JSON.stringify({ prompt: p.prompt, completion: p.rejected, label: false })];
    });
    await writeFile(ktoData, rows.join('\n') + '\n');
  });

  it('KTO: step 1 prints loss 0.5 and TRL\'s figures, and the adapter is written in PEFT layout', async () => {
    const out = path.join(dir, 'kto');
    const r = await train(['--data', ktoData, '--out', out, '--objective', 'kto', '--beta', '0.2', '--steps', '4', '--batch', '4', '--max-len', '56', '--rank', '4', '--lr', '5e-3']);
    expect(r.stderr).toMatch(/^done after step 4 of 4/m);
    expect(r.code).toBe(0);
    const steps = lines(r.stdout);
    expect(steps).toHaveLength(4);
    expect(steps[0]).toMatchObject({ step: 1, loss: 0.5, kl: 0, rewards_chosen: 0, rewards_rejected: 0 });
    expect(steps[3].loss).not.toBe(0.5);
    const { config, tensors } = await peftTensors(out);
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, target_modules: ['q_proj', 'v_proj'] });
    expect(tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight']).toEqual([4, 64]);
    expect(tensors['base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight']).toEqual([32, 4]);
  });

  it("KTO on TRL's conversational unpaired rows (message lists, stories260K given a chat template): step 1 prints loss 0.5; without a template each line is refused", async () => {
    const model = await storiesChatModel();
    const data = path.join(dir, 'kto-chat.jsonl');
    const rows = (await readFile(PREFERENCES, 'utf8')).trim().split('\n').slice(0, 8).flatMap((l) => {
      const p = JSON.parse(l) as { prompt: string; chosen: string; rejected: string };
      const prompt = [{ role: 'user', content: p.prompt }];
      return [{ prompt, completion: [{ role: 'assistant', content: p.chosen }], label: true }, { prompt, completion: [{ role: 'assistant', content: p.rejected }], label: false }];
    });
    await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const args = ['--data', data, '--objective', 'kto', '--beta', '0.2', '--batch', '4', '--max-len', '64', '--rank', '4', '--lr', '5e-3'];
    const r = await train([...args, '--out', path.join(dir, 'kto-chat'), '--steps', '4'], model);
    expect(r.stderr).toMatch(/^done after step 4 of 4/m);
    expect(r.stderr).not.toMatch(/preflight serious/);
    expect(r.code).toBe(0);
    const steps = lines(r.stdout);
    expect(steps).toHaveLength(4);
    expect(steps[0]).toMatchObject({ step: 1, loss: 0.5, kl: 0, rewards_chosen: 0, rewards_rejected: 0 });
    expect(steps[3].loss).not.toBe(0.5);
    const bare = await train([...args, '--out', path.join(dir, 'kto-chat-bare'), '--steps', '1']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain(`${data}:1: conversational prompt/completion rows are rendered with the model's chat template, and this model has none`);
    expect(bare.stderr).toContain(`${data}: 16 of 16 lines are invalid`);
  });

  it('ORPO: prints the odds-ratio figures per step and writes the adapter in PEFT layout', async () => {
    const out = path.join(dir, 'orpo');
    const r = await train(['--data', PREFERENCES, '--out', out, '--objective', 'orpo', '--orpo-lambda', '0.5', '--steps', '3', '--batch', '2', '--max-len', '56', '--rank', '4']);
    expect(r.code).toBe(0);
    const steps = lines(r.stdout);
    for (const k of ['nll_loss', 'log_odds_ratio', 'log_odds_chosen', 'rewards_chosen', 'rewards_rejected', 'rewards_accuracies', 'rewards_margins']) expect(Number.isFinite(steps[0][k])).toBe(true);
    // loss = nll - lambda x mean log sigmoid(log odds), from the printed figures.
    expect(steps[0].loss).toBeCloseTo(steps[0].nll_loss - 0.5 * steps[0].log_odds_ratio, 4);
    const { config, tensors } = await peftTensors(out);
    expect(config.peft_type).toBe('LORA');
    expect(Object.keys(tensors)).toHaveLength(5 * 2 * 2);
  });

  it('GRPO: a reward module that throws on step 2 exits 1 naming the line; the step-1 adapter is kept', async () => {
    const data = path.join(dir, 'prompts.jsonl');
    await writeFile(data, ['Once upon a time', 'The cat', 'Tom and his mom'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const reward = path.join(dir, 'flaky.mjs');
    // Module state lives as long as the worker: the first 8 calls (step 1: 2 prompts x 4) succeed.
    await writeFile(reward, 'let calls = 0;\nexport default ({ completion }) => { if (++calls > 8) throw new Error("scorer broke"); return completion.length % 3; };\n');
    const out = path.join(dir, 'grpo');
    const r = await train(['--data', data, '--out', out, '--objective', 'grpo', '--reward', reward, '--num-generations', '4', '--max-new-tokens', '8', '--steps', '4', '--batch', '2', '--max-len', '20', '--rank', '4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RewardError: reward function threw on data line \d: Error: scorer broke/);
    const steps = lines(r.stdout);
    expect(steps).toHaveLength(1);
    for (const k of ['reward', 'reward_std', 'kl', 'completion_length']) expect(Number.isFinite(steps[0][k])).toBe(true);
    expect(await readdir(out)).toContain('checkpoint-1');
    const { tensors } = await peftTensors(path.join(out, 'checkpoint-1'));
    expect(Object.keys(tensors).length).toBeGreaterThan(0);
    // Resumed without --reward: the module kept with the checkpoint scores again (its state starts
    // afresh in a new worker, so step 2 passes and step 3 throws).
    const again = await train(['--data', data, '--out', out, '--resume', path.join(out, 'checkpoint-1')]);
    expect(again.stderr).toMatch(/reward function threw on data line \d: Error: scorer broke/);
    expect(again.code).toBe(1);
    expect(lines(again.stdout).map((l) => l.step)).toEqual([2]);
  });

  it('GRPO with a reward that pays for one word raises the mean reward over 30 steps (stories260K)', async () => {
    const openings = ['Once upon a time, there was a little girl named', 'One day, a boy went to the park with', 'Tom and his mom went to the', 'There was a big dog who liked to', 'The sun was shining and the birds were', 'Sue had a red ball. She', 'A little cat saw a', 'Ben wanted to play with his', 'The bird flew up to the', 'Mom said, "Let\'s go to the', 'Once upon a time, a small bear', 'Max found a shiny', 'The girl was sad because her', 'One morning, the kids', 'Anna liked to draw', 'The frog jumped into the'];
    const data = path.join(dir, 'openings.jsonl');
    await writeFile(data, openings.map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const r = await train(['--data', data, '--out', path.join(dir, 'lily'), '--objective', 'grpo', '--reward', 'builtin:regex=\\bLily\\b', '--num-generations', '4', '--max-new-tokens', '24', '--steps', '30', '--batch', '4', '--max-len', '40', '--lr', '0.01', '--rank', '8', '--warmup', '0']);
    expect(r.code).toBe(0);
    const rewards = lines(r.stdout).map((l) => l.reward);
    expect(rewards).toHaveLength(30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Measured: 0.06 over the first 10 steps, 0.86 over the last 10.
    expect(mean(rewards.slice(-10))).toBeGreaterThan(mean(rewards.slice(0, 10)) + 0.4);
  }, 300_000);

  it('GRPO reads prompts from a CSV file, from the column --columns names; the reward sees the row as the file has it', async () => {
    const data = path.join(dir, 'prompts.csv');
    await writeFile(data, 'question,answer\n"Once upon a time, there",x\nThe cat,y\n');
    const reward = path.join(dir, 'row-reader.mjs');
    await writeFile(reward, 'export default ({ prompt, row }) => (row.question === prompt && typeof row.answer === "string" ? 1 : 0) + Math.random() * 1e-3;\n');
    const r = await train(['--data', data, '--columns', 'prompt=question', '--out', path.join(dir, 'csv'), '--objective', 'grpo', '--reward', reward, '--num-generations', '2', '--max-new-tokens', '4', '--steps', '1', '--batch', '2', '--max-len', '16', '--rank', '2']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)[0].reward).toBeGreaterThan(0.99);
    const bad = await train(['--data', data, '--columns', 'prompt=question,completion=answer', '--out', path.join(dir, 'csv2'), '--objective', 'grpo', '--reward', 'builtin:json']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--columns: GRPO reads one column, the prompt: expected prompt=<column>/);
  });

  it('preflight names a KTO set with one label only and a GRPO reward that is constant', async () => {
    const oneLabel = path.join(dir, 'one-label.jsonl');
    await writeFile(oneLabel, [0, 1, 2, 3].map((i) => JSON.stringify({ prompt: `Tom had ${i} cats.`, completion: ' He was happy.', label: true })).join('\n') + '\n');
    const r = await train(['--data', oneLabel, '--out', path.join(dir, 'one'), '--objective', 'kto', '--steps', '1', '--batch', '2', '--max-len', '24', '--rank', '2']);
    expect(r.stderr).toMatch(/preflight serious one-label-only: Every one of the 4 rows is labelled desirable/);
    // The same in TRL's conversational form, on the model given a chat template.
    const oneLabelChat = path.join(dir, 'one-label-chat.jsonl');
    await writeFile(oneLabelChat, [0, 1, 2, 3].map((i) => JSON.stringify({ prompt: [{ role: 'user', content: `Tom had ${i} cats.` }], completion: [{ role: 'assistant', content: 'He was happy.' }], label: false })).join('\n') + '\n');
    const c = await train(['--data', oneLabelChat, '--out', path.join(dir, 'one-chat'), '--objective', 'kto', '--steps', '1', '--batch', '2', '--max-len', '40', '--rank', '2'], await storiesChatModel());
    expect(c.stderr).toMatch(/preflight serious one-label-only: Every one of the 4 rows is labelled undesirable/);
    const data = path.join(dir, 'prompts2.jsonl');
    await writeFile(data, JSON.stringify({ prompt: 'The cat' }) + '\n' + JSON.stringify({ prompt: 'Once upon a time' }) + '\n');
    const g = await train(['--data', data, '--out', path.join(dir, 'const'), '--objective', 'grpo', '--reward', 'builtin:regex=^$', '--num-generations', '2', '--max-new-tokens', '4', '--steps', '1', '--batch', '2', '--max-len', '12', '--rank', '2']);
    expect(g.code).toBe(0);
    expect(g.stderr).toMatch(/preflight warning constant-reward: The reward gave all 4 completions of the first batch the same value \(0\)/);
  });

  it.each([
    [['--objective', 'dpo', '--orpo-lambda', '0.2'], /--orpo-lambda applies to --objective orpo only/],
    [['--objective', 'grpo'], /--objective grpo needs --reward/],
    [['--objective', 'grpo', '--reward', 'builtin:exact', '--num-generations', '1'], /--num-generations: GRPO compares completions/],
    [['--objective', 'ppo'], /--objective: expected sft, dpo, kto, orpo, grpo/],
  ])('refuses %j', async (args, message) => {
    const r = await train(['--data', PREFERENCES, '--out', path.join(dir, 'x'), ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });
});
