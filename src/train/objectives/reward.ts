// GRPO's programmatic rewards: a function of (prompt, completion, row) returning a number. Built-in
// rewards are pure functions here; a user's module runs in Node under a time limit (cli/reward-module.ts).
// A reward that throws, returns a non-number or NaN, or runs out of time stops the step with a RewardError
// naming the data row, before any weight changes.

/** What a reward function is given for one completion. */
export interface RewardInput {
  prompt: string;
  completion: string;
  /** The whole JSON line the prompt came from (e.g. an "answer" field for builtin:exact). */
  row: Record<string, unknown>;
}

/** Scores completions; `lines` name each input's data row in errors. */
export interface RewardScorer {
  readonly name: string;
  score(inputs: RewardInput[], lines: number[]): Promise<number[]>;
  close?(): void | Promise<void>;
}

export type RewardFailure = 'threw' | 'not-a-number' | 'timeout';

export class RewardError extends Error {
  override name = 'RewardError';
  constructor(
    readonly line: number,
    readonly failure: RewardFailure,
    readonly detail: string,
  ) {
    super(`reward function ${failure === 'timeout' ? 'timed out' : failure === 'threw' ? 'threw' : 'returned a non-number'} on data line ${line}: ${detail}`);
  }
}

/** A reward's value checked: a finite number, or a RewardError naming the row. */
export function checkedReward(v: unknown, line: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RewardError(line, 'not-a-number', `expected a finite number, got ${typeof v === 'number' ? String(v) : JSON.stringify(v) ?? typeof v}`);
  return v;
}

export class RewardSpecError extends Error {
  override name = 'RewardSpecError';
}

/** A scorer from a plain function (built-ins, tests): synchronous, so no time limit applies. */
export function functionScorer(name: string, fn: (input: RewardInput) => unknown): RewardScorer {
  return {
    name,
    async score(inputs, lines) {
      return inputs.map((input, i) => {
        let v: unknown;
        try {
          v = fn(input);
        } catch (e) {
          throw new RewardError(lines[i], 'threw', e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e));
        }
        return checkedReward(v, lines[i]);
      });
    },
  };
}

/** A built-in reward's spec, parsed and checked (the trainer scores with it; the cluster bundle translates it). */
export type BuiltinRewardSpec = { kind: 'exact' } | { kind: 'regex'; pattern: string } | { kind: 'json' } | { kind: 'length'; min: number; max: number };

export function parseBuiltinReward(spec: string): BuiltinRewardSpec {
  const m = /^builtin:([a-z]+)(?:=(.*))?$/s.exec(spec);
  if (!m) throw new RewardSpecError(`--reward: expected a .mjs file or builtin:exact|regex=...|json|length=MIN-MAX, got "${spec}"`);
  const [, kind, arg] = m;
  switch (kind) {
    case 'exact':
    case 'json':
      return { kind };
    case 'regex':
      if (!arg) throw new RewardSpecError('builtin:regex=PATTERN needs a pattern');
      try {
        new RegExp(arg);
      } catch (e) {
        throw new RewardSpecError(`builtin:regex: ${(e as Error).message}`);
      }
      return { kind, pattern: arg };
    case 'length': {
      const r = /^(\d+)-(\d+)$/.exec(arg ?? '');
      if (!r || Number(r[1]) > Number(r[2])) throw new RewardSpecError(`builtin:length=MIN-MAX needs two whole numbers, MIN <= MAX, got "${arg ?? ''}"`);
      return { kind, min: Number(r[1]), max: Number(r[2]) };
    }
    default:
      throw new RewardSpecError(`--reward: unknown built-in "${kind}" (exact, regex=..., json, length=MIN-MAX)`);
  }
}

/**
 * builtin:exact (1 when the trimmed completion equals the row's "answer", else 0), builtin:regex=PATTERN
 * (1 when the completion matches), builtin:json (1 when the completion parses as JSON),
 * builtin:length=MIN-MAX (1 when the completion's character count is within [MIN, MAX]).
 */
export function builtinReward(spec: string): RewardScorer {
  const b = parseBuiltinReward(spec);
  switch (b.kind) {
    case 'exact':
      return functionScorer(spec, ({ completion, row }) => {
        if (typeof row.answer !== 'string') throw new Error('builtin:exact needs an "answer" string in every row');
        return completion.trim() === row.answer.trim() ? 1 : 0;
      });
    case 'regex': {
      const re = new RegExp(b.pattern);
      return functionScorer(spec, ({ completion }) => (re.test(completion) ? 1 : 0));
    }
    case 'json':
      return functionScorer(spec, ({ completion }) => {
        try {
          JSON.parse(completion);
          return 1;
        } catch {
          return 0;
        }
      });
    case 'length':
      return functionScorer(spec, ({ completion }) => (completion.length >= b.min && completion.length <= b.max ? 1 : 0));
  }
}
