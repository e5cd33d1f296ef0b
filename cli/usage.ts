// Every command's flags in one table each: node:util's parseArgs reads them, and the same table
// prints `--help` (usage, each flag with its default, examples). An unknown flag or a missing value
// prints the error and the usage on stderr and exits with the command's usage status.
import { parseArgs } from 'node:util';

export interface CliOption {
  type: 'string' | 'boolean';
  default?: string | boolean;
  multiple?: boolean;
  /** What the flag does, one line. */
  help: string;
  /** Placeholder shown after a string flag, e.g. N or <folder>. */
  value?: string;
}

export interface CliSpec<O extends Record<string, CliOption>> {
  /** How it is run, e.g. `npm run train --`. */
  command: string;
  /** What it does, one or two lines. */
  summary: string;
  /** Positional arguments, as shown after the command (e.g. 'check <file>'). */
  positionals?: string;
  options: O;
  examples: string[];
  /** Output and exit status, for the end of --help. */
  notes?: string[];
  /** Exit status for a usage error (2 unless the command documents another). */
  usageStatus?: number;
}

type Config<O extends Record<string, CliOption>> = { options: O; args: string[]; allowPositionals: true; strict: true };
export type CliValues<O extends Record<string, CliOption>> = ReturnType<typeof parseArgs<Config<O>>>['values'];

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** The --help text: usage line, summary, one line per flag (with its default), examples, notes. */
export function helpText<O extends Record<string, CliOption>>(spec: CliSpec<O>): string {
  const flags = Object.entries(spec.options).map(([name, o]) => {
    const left = o.type === 'string' ? `--${name} ${o.value ?? '<value>'}` : `--${name}`;
    const def = o.default !== undefined && o.default !== false && o.default !== '' ? ` (default: ${String(o.default)})` : '';
    return { left, right: `${o.help}${def}` };
  });
  flags.push({ left: '--help', right: 'Print this help and exit.' });
  const width = Math.max(...flags.map((f) => f.left.length));
  const lines = [
    `Usage: ${spec.command}${spec.positionals ? ` ${spec.positionals}` : ''} [options]`,
    '',
    spec.summary,
    '',
    'Options:',
    ...flags.map((f) => `  ${f.left.padEnd(width)}  ${f.right}`),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
  ];
  if (spec.notes?.length) lines.push('', ...spec.notes);
  return lines.join('\n') + '\n';
}

/** Parses argv by the table; --help prints the help and exits 0, a usage error prints it and exits. */
export function parseCli<const O extends Record<string, CliOption>>(spec: CliSpec<O>, argv: string[] = process.argv.slice(2)): { values: CliValues<O>; positionals: string[] } {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(spec));
    process.exit(0);
  }
  let parsed: { values: CliValues<O>; positionals: string[] };
  try {
    parsed = parseArgs({ options: spec.options, args: argv, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    usageExit(spec, (e as Error).message);
  }
  if (!spec.positionals && parsed.positionals.length > 0) usageExit(spec, `unexpected argument "${parsed.positionals[0]}"`);
  return parsed;
}

/** Prints a usage error with the help text and exits with the command's usage status. */
export function usageExit<O extends Record<string, CliOption>>(spec: CliSpec<O>, message: string): never {
  process.stderr.write(`${spec.command}: ${message}\n\n${helpText(spec)}`);
  process.exit(spec.usageStatus ?? 2);
}
