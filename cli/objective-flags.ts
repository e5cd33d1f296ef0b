// The objective's flags for `npm run train`: --objective and what each loss takes. Kept apart from
// cli/train.ts so the main file stays about the run itself.
import { DEFAULT_GRPO, DEFAULT_KTO, OBJECTIVES, type Objective, type TrainSettings } from '../src/train/settings';
import { DEFAULT_DPO } from '../src/train/dpo';
import { DEFAULT_ORPO_LAMBDA } from '../src/train/objectives/orpo';
import { builtinReward, type RewardScorer } from '../src/train/objectives/reward';
import { ModuleRewardScorer } from './reward-module';
import type { CliOption } from './usage';

/** The objective's rows of the train command's flag table (cli/usage.ts); defaults shown in the help, applied in objectiveSettings. */
export const OBJECTIVE_OPTIONS = {
  objective: { type: 'string', value: OBJECTIVES.join('|'), help: 'What the run optimizes: next-token loss (sft, default), preference pairs (dpo, orpo), labelled rows (kto), a reward (grpo).' },
  beta: { type: 'string', value: 'B', help: `DPO/KTO temperature of the implicit reward (default ${DEFAULT_DPO.beta}).` },
  'desirable-weight': { type: 'string', value: 'W', help: `KTO: weight of rows labelled true (default ${DEFAULT_KTO.desirableWeight}).` },
  'undesirable-weight': { type: 'string', value: 'W', help: `KTO: weight of rows labelled false (default ${DEFAULT_KTO.undesirableWeight}).` },
  'orpo-lambda': { type: 'string', value: 'L', help: `ORPO: weight of the odds-ratio term beside the NLL (default ${DEFAULT_ORPO_LAMBDA}).` },
  reward: { type: 'string', value: '<file.mjs|builtin:...>', help: 'GRPO reward: a module whose default export is ({prompt, completion, row}) => number, or builtin:exact, builtin:regex=RE, builtin:json, builtin:length=MIN-MAX.' },
  'num-generations': { type: 'string', value: 'G', help: `GRPO: completions sampled per prompt (default ${DEFAULT_GRPO.numGenerations}).` },
  'max-new-tokens': { type: 'string', value: 'N', help: `GRPO: length limit of each completion (default ${DEFAULT_GRPO.maxNewTokens}).` },
  temperature: { type: 'string', value: 'X', help: `GRPO: sampling temperature (default ${DEFAULT_GRPO.temperature}).` },
  epsilon: { type: 'string', value: 'E', help: `GRPO: clipping range of the probability ratio (default ${DEFAULT_GRPO.epsilon}).` },
  'kl-beta': { type: 'string', value: 'B', help: `GRPO: weight of the KL penalty to the base (default ${DEFAULT_GRPO.beta}).` },
  'reward-timeout-ms': { type: 'string', value: 'MS', help: `GRPO: time limit of one reward call (default ${DEFAULT_GRPO.rewardTimeoutMs}).` },
} as const satisfies Record<string, CliOption>;

export class ObjectiveUsageError extends Error {
  override name = 'UsageError';
}

type Flags = Partial<Record<keyof typeof OBJECTIVE_OPTIONS, string>>;

const ONLY: Record<string, Objective[]> = {
  beta: ['dpo', 'kto'], 'desirable-weight': ['kto'], 'undesirable-weight': ['kto'], 'orpo-lambda': ['orpo'],
  reward: ['grpo'], 'num-generations': ['grpo'], 'max-new-tokens': ['grpo'], temperature: ['grpo'], epsilon: ['grpo'], 'kl-beta': ['grpo'], 'reward-timeout-ms': ['grpo'],
};

function positive(v: string | undefined, flag: string, fallback: number, opts: { integer?: boolean; zero?: boolean } = {}): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !opts.zero) || (opts.integer && !Number.isInteger(n))) {
    throw new ObjectiveUsageError(`--${flag}: expected a ${opts.integer ? 'whole' : opts.zero ? 'non-negative' : 'positive'} number, got "${v}"`);
  }
  return n;
}

/** The settings the objective flags decide (objective, dpoBeta, kto, orpoLambda, grpo). */
export function objectiveSettings(v: Flags): Pick<TrainSettings, 'objective' | 'dpoBeta' | 'kto' | 'orpoLambda' | 'grpo'> {
  const objective = (v.objective ?? 'sft') as Objective;
  if (!OBJECTIVES.includes(objective)) throw new ObjectiveUsageError(`--objective: expected ${OBJECTIVES.join(', ')}, got "${v.objective}"`);
  for (const [flag, allowed] of Object.entries(ONLY)) {
    if (v[flag as keyof Flags] !== undefined && !allowed.includes(objective)) throw new ObjectiveUsageError(`--${flag} applies to --objective ${allowed.join(' or ')} only`);
  }
  const out: ReturnType<typeof objectiveSettings> = { objective, dpoBeta: objective === 'dpo' ? positive(v.beta, 'beta', DEFAULT_DPO.beta) : DEFAULT_DPO.beta };
  if (objective === 'kto') {
    out.kto = {
      beta: positive(v.beta, 'beta', DEFAULT_KTO.beta),
      desirableWeight: positive(v['desirable-weight'], 'desirable-weight', DEFAULT_KTO.desirableWeight),
      undesirableWeight: positive(v['undesirable-weight'], 'undesirable-weight', DEFAULT_KTO.undesirableWeight),
    };
  }
  if (objective === 'orpo') out.orpoLambda = positive(v['orpo-lambda'], 'orpo-lambda', DEFAULT_ORPO_LAMBDA, { zero: true });
  if (objective === 'grpo') {
    if (!v.reward) throw new ObjectiveUsageError('--objective grpo needs --reward <file.mjs | builtin:exact | builtin:regex=... | builtin:json | builtin:length=MIN-MAX>');
    out.grpo = {
      numGenerations: positive(v['num-generations'], 'num-generations', DEFAULT_GRPO.numGenerations, { integer: true }),
      maxNewTokens: positive(v['max-new-tokens'], 'max-new-tokens', DEFAULT_GRPO.maxNewTokens, { integer: true }),
      temperature: positive(v.temperature, 'temperature', DEFAULT_GRPO.temperature),
      epsilon: positive(v.epsilon, 'epsilon', DEFAULT_GRPO.epsilon),
      beta: positive(v['kl-beta'], 'kl-beta', DEFAULT_GRPO.beta, { zero: true }),
      rewardTimeoutMs: positive(v['reward-timeout-ms'], 'reward-timeout-ms', DEFAULT_GRPO.rewardTimeoutMs, { integer: true }),
    };
    if (out.grpo.numGenerations < 2) throw new ObjectiveUsageError('--num-generations: GRPO compares completions of one prompt: give 2 or more');
  }
  return out;
}

/** The reward function named by --reward: a built-in, or a .mjs module run in a worker thread under a time limit. */
export function rewardScorer(spec: string, timeoutMs: number): RewardScorer {
  if (spec.startsWith('builtin:')) return builtinReward(spec);
  if (!/\.m?js$/.test(spec)) throw new ObjectiveUsageError(`--reward: expected a .mjs module or builtin:..., got "${spec}"`);
  return new ModuleRewardScorer(spec, timeoutMs);
}

/** A step's or evaluation's named figures as JSON fields (prefix 'eval_' for validation). */
export function figureFields(figures: Record<string, number> | undefined, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(figures ?? {})) out[prefix + k] = x;
  return out;
}
