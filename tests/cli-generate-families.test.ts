// `npm run generate` on the family models: the greedy ids transformers computed (reference.json),
// base and with the PEFT adapter, through the CLI users run.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { modelDir, readReference } from './families-fixture';

function generate(args: string[]): { prompt_ids: number[]; output_ids: number[] } {
  const r = spawnSync('npx', ['tsx', 'cli/generate.ts', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`generate failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as { prompt_ids: number[]; output_ids: number[] };
}

describe('npm run generate per family', () => {
  it.each([
    { name: 'tiny-gemma3', adapter: false },
    { name: 'tiny-qwen3', adapter: true },
  ])('$name (adapter: $adapter) prints the reference greedy ids of prompt 1', async ({ name, adapter }) => {
    const ref = (await readReference(name))[adapter ? 'adapter' : 'base'][1];
    const args = ['--model', modelDir(name), '--prompt', ref.prompt, '--max-new-tokens', String(ref.output_ids.length), '--greedy'];
    const out = generate(adapter ? [...args, '--adapter', `${modelDir(name)}peft-adapter`] : args);
    expect(out.prompt_ids).toEqual(ref.prompt_ids);
    expect(out.output_ids).toEqual(ref.output_ids);
  });
});
