// Every command a person runs answers --help with its usage, each flag and an example, exit 0, and
// an unknown flag gets the usage with the error and a non-zero exit (nothing is run).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';

const COMMANDS: [name: string, script: string, flags: string[]][] = [
  ['generate', 'cli/generate.ts', ['--model', '--prompt', '--max-new-tokens', '--precision']],
  ['dataset', 'cli/dataset.ts', ['--model', '--format', '--max-length', '--val-percent']],
  ['eval', 'cli/eval.ts', ['--model', '--adapter', '--data', '--prompts']],
  ['export', 'cli/export.ts', ['--model', '--adapter', '--format', '--type', '--out']],
  ['train', 'cli/train.ts', ['--model', '--data', '--out', '--columns', '--objective', '--reward', '--recompute', '--dry-run']],
  ['bench', 'bench/run.ts', ['--generate', '--model', '--variants', '--kernels', '--llama-threads']],
];

function run(script: string, args: string[]) {
  return spawnSync('npx', ['tsx', script, ...args], { encoding: 'utf8' });
}

describe.each(COMMANDS)('npm run %s', (name, script, flags) => {
  it('--help prints the usage, every flag with its meaning and an example, exit 0', () => {
    const r = run(script, name === 'dataset' ? ['check', '--help'] : ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: npm run ${name} --`));
    for (const f of [...flags, '--help']) expect(r.stdout).toMatch(new RegExp(`^  ${f}\\b.* {2,}\\S`, 'm'));
    expect(r.stdout).toContain(`Examples:\n  npm run ${name} -- `);
  });

  it('an unknown flag prints the error and the usage, non-zero exit', () => {
    const r = run(script, name === 'dataset' ? ['check', 'x.jsonl', '--no-such-flag'] : ['--no-such-flag']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Unknown option '--no-such-flag'");
    expect(r.stderr).toContain(`Usage: npm run ${name} --`);
    expect(r.stdout).toBe('');
  });
});
