// GRPO's reward functions: the built-ins as a table, and a user's .mjs module run in a worker thread:
// its values come back, and a throw, a NaN, a non-number or a call past the time limit becomes a
// RewardError naming the data line (the worker of a hung call is ended, and the next call works).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtinReward, RewardError, RewardSpecError } from '../src/train/objectives/reward';
import { ModuleRewardScorer } from '../cli/reward-module';

const input = (completion: string, row: Record<string, unknown> = {}) => ({ prompt: 'Q', completion, row });

describe('built-in rewards', () => {
  it.each([
    ['builtin:exact', ' 42 ', { answer: '42' }, 1],
    ['builtin:exact', '41', { answer: '42' }, 0],
    ['builtin:regex=\\bcat\\b', 'the cat sat', {}, 1],
    ['builtin:regex=\\bcat\\b', 'the catalogue', {}, 0],
    ['builtin:json', '{"a": [1, 2]}', {}, 1],
    ['builtin:json', '{"a": ', {}, 0],
    ['builtin:length=3-5', 'abcd', {}, 1],
    ['builtin:length=3-5', 'abcdef', {}, 0],
  ])('%s scores %j as %d', async (spec, completion, row, expected) => {
    expect(await builtinReward(spec).score([input(completion, row)], [7])).toEqual([expected]);
  });

  it('builtin:exact without an "answer" names the row', async () => {
    await expect(builtinReward('builtin:exact').score([input('x')], [12])).rejects.toThrow(/data line 12.*answer/);
  });

  it.each(['builtin:nope', 'builtin:length=5-3', 'builtin:regex=(', 'cat'])('refuses the spec %s', (spec) => {
    expect(() => builtinReward(spec)).toThrow(RewardSpecError);
  });
});

describe('a reward module in a worker thread', () => {
  let dir: string;
  const scorers: ModuleRewardScorer[] = [];
  const scorer = (file: string, timeoutMs = 2000) => {
    const s = new ModuleRewardScorer(path.join(dir, file), timeoutMs);
    scorers.push(s);
    return s;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reward-'));
    await writeFile(path.join(dir, 'count.mjs'), 'export default ({ completion, row }) => completion.split(" ").length + (row.bonus ?? 0);\n');
    await writeFile(path.join(dir, 'async.mjs'), 'export default async ({ completion }) => { await new Promise((r) => setTimeout(r, 5)); return completion.length; };\n');
    await writeFile(path.join(dir, 'throws.mjs'), 'export default ({ completion }) => { if (completion === "bad") throw new RangeError("no good"); return 1; };\n');
    await writeFile(path.join(dir, 'nan.mjs'), 'export default () => NaN;\n');
    await writeFile(path.join(dir, 'string.mjs'), 'export default () => "high";\n');
    await writeFile(path.join(dir, 'hangs.mjs'), 'export default ({ completion }) => { if (completion === "hang") for (;;) {} return 2; };\n');
    await writeFile(path.join(dir, 'nodefault.mjs'), 'export const reward = () => 1;\n');
  });
  afterAll(async () => {
    for (const s of scorers) await s.close();
  });

  it('returns the module\'s numbers, sync or async, with the whole row passed in', async () => {
    expect(await scorer('count.mjs').score([input('a b c'), input('a', { bonus: 10 })], [1, 2])).toEqual([3, 11]);
    expect(await scorer('async.mjs').score([input('abcd')], [1])).toEqual([4]);
  });

  it('a throw names the line and the error', async () => {
    const err = await scorer('throws.mjs').score([input('ok'), input('bad')], [4, 5]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RewardError);
    expect(err).toMatchObject({ line: 5, failure: 'threw' });
    expect((err as Error).message).toMatch(/data line 5: RangeError: no good/);
  });

  it.each([['nan.mjs', /NaN/], ['string.mjs', /"high"/]])('%s: a value that is not a finite number names the line', async (file, shows) => {
    const err = await scorer(file).score([input('x')], [9]).catch((e: unknown) => e);
    expect(err).toMatchObject({ line: 9, failure: 'not-a-number' });
    expect((err as Error).message).toMatch(shows);
  });

  it('a call past the time limit names the line, ends the worker, and the next call runs in a fresh one', async () => {
    const s = scorer('hangs.mjs', 300);
    const t0 = Date.now();
    const err = await s.score([input('fine'), input('hang')], [3, 8]).catch((e: unknown) => e);
    expect(err).toMatchObject({ line: 8, failure: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await s.score([input('fine')], [3])).toEqual([2]);
  });

  it('a module without a default export function says so', async () => {
    await expect(scorer('nodefault.mjs').score([input('x')], [1])).rejects.toThrow(/no default export function/);
  });
});
