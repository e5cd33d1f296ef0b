// What a training run is told: one settings object with its defaults, a reason on each field.
// Its own module so the memory plan, the checkpoint and the UI read it without importing the trainer
// (memory-plan.ts is imported by trainer.ts: importing the trainer back made a circle).
import { DEFAULT_ADAMW, type AdamWParams } from './adamw';
import { DEFAULT_DPO } from './dpo';

/**
 * What the run optimizes: next-token loss on the answers ('sft'), DPO's preference loss on pairs,
 * KTO's loss on unpaired answers labelled good or bad, ORPO's odds-ratio loss on pairs (no reference),
 * or GRPO's clipped policy-gradient loss on sampled completions scored by a reward function.
 */
/** A recomputation setting: 'auto', all layers ('on'), none ('off'), or the first n layers. */
export type RecomputeSetting = 'auto' | 'on' | 'off' | number;

export type Objective = 'sft' | 'dpo' | 'kto' | 'orpo' | 'grpo';
export const OBJECTIVES: readonly Objective[] = ['sft', 'dpo', 'kto', 'orpo', 'grpo'];

/** KTO (Ethayarajh et al. 2024) as TRL's KTOTrainer runs it. */
export interface KtoSettings {
  /** Scale of the implicit reward beta * log(p / p_ref) (TRL default 0.1). */
  beta: number;
  /** Weights on the desirable and undesirable rows' losses: raise the rarer side's (TRL default 1 and 1). */
  desirableWeight: number;
  undesirableWeight: number;
}
export const DEFAULT_KTO: KtoSettings = { beta: 0.1, desirableWeight: 1, undesirableWeight: 1 };

/**
 * Where GRPO's reward comes from: a built-in by its spec (builtin:exact, builtin:regex=..., builtin:json,
 * builtin:length=MIN-MAX), or an ES module's source text (the page's editor, or the CLI's .mjs file).
 */
export type RewardSource = { kind: 'builtin'; spec: string } | { kind: 'module'; name: string; code: string };

/** GRPO (Shao et al. 2024) as TRL's GRPOTrainer runs it with loss_type 'grpo' and one iteration per batch. */
export interface GrpoSettings {
  /** Completions sampled per prompt (G); advantages are normalised within each group of G. */
  numGenerations: number;
  /** Longest completion sampled, in tokens; prompt + completion must fit seqLen. */
  maxNewTokens: number;
  /** Sampling temperature of the completions (TRL default 1: the policy's own distribution). */
  temperature: number;
  /** Clipping range of the probability ratio (TRL default 0.2). */
  epsilon: number;
  /** Weight of the k3 KL penalty to the reference, the adapter switched off (TRL's older default 0.04). */
  beta: number;
  /** Milliseconds one call of the reward function may take before the step stops. */
  rewardTimeoutMs: number;
  /** The reward, kept with the run so it resumes with the same one (the CLI also takes --reward). */
  reward?: RewardSource;
}
export const DEFAULT_GRPO: GrpoSettings = { numGenerations: 4, maxNewTokens: 32, temperature: 1, epsilon: 0.2, beta: 0.04, rewardTimeoutMs: 5000 };

export interface TrainSettings {
  /** Optimizer steps to run (used when `epochs` is 0). */
  steps: number;
  /** Passes over the training set; when > 0 it decides the step count (see totalSteps). */
  epochs: number;
  /** Sequences per micro-batch (B); GRPO: prompts per micro-batch (each sampled G times). */
  batchSize: number;
  /** Tokens per sequence (T); longer examples are cut, shorter padded. */
  seqLen: number;
  /** Micro-batches whose gradients are averaged into one optimizer step. */
  gradAccum: number;
  /** Peak learning rate after warmup. */
  learningRate: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  /** Clip the global gradient norm to this; 0 disables clipping. */
  maxGradNorm: number;
  /** Fixes LoRA initialisation, data order, dropout masks and GRPO's sampling. */
  seed: number;
  adamw: AdamWParams;
  /** Evaluate on the validation set every N steps (0: never); also after the last step. */
  evalEvery: number;
  /** Ask the driver for sample generations every N steps (0: never). */
  sampleEvery: number;
  /** Hand a checkpoint to the driver every N steps (0: only when asked). */
  checkpointEvery: number;
  /**
   * Stop as diverged when a step's loss exceeds this multiple of the first step's loss (the base
   * model's own loss, since B starts at zero); 0 stops on NaN/Inf only. A too-high learning rate often
   * leaves the loss finite but far worse than the base model's, because RMSNorm rescales the blow-up.
   */
  divergenceFactor: number;
  /** The loss (see Objective); absent in older checkpoints, meaning 'sft'. */
  objective?: Objective;
  /** DPO's beta (only with objective 'dpo'). */
  dpoBeta?: number;
  /** KTO's beta and class weights (only with objective 'kto'). */
  kto?: KtoSettings;
  /** ORPO's lambda, the weight of the odds-ratio term beside the NLL (TRL's beta, default 0.1). */
  orpoLambda?: number;
  /** GRPO's sampling and loss settings (only with objective 'grpo'). */
  grpo?: GrpoSettings;
  /**
   * Activation recomputation per decoder layer: 'auto' recomputes the fewest layers that keep the
   * step within its memory budget (src/train/memory-plan.ts), 'on' all, 'off' none, a number that
   * many (the first n). Optional: older checkpoints lack it.
   */
  recompute?: RecomputeSetting;
  /** 'fused': chunked cross-entropy fused with the head (never [N, V] at once); 'plain': full logits. */
  loss?: 'fused' | 'plain';
}

export const DEFAULT_TRAIN: TrainSettings = {
  steps: 60,
  epochs: 0,
  batchSize: 4,
  seqLen: 64,
  gradAccum: 1,
  learningRate: 3e-3, // LoRA tolerates ~10x full fine-tuning rates; small models like more
  schedule: 'cosine',
  warmupSteps: 5,
  maxGradNorm: 1.0,
  seed: 42,
  adamw: DEFAULT_ADAMW,
  evalEvery: 0,
  sampleEvery: 0,
  checkpointEvery: 0,
  divergenceFactor: 3,
  objective: 'sft',
  dpoBeta: DEFAULT_DPO.beta, // TRL's default
  recompute: 'auto',
  loss: 'fused',
};

/** Optimizer steps a run takes: `steps`, or enough whole batches to cover `epochs` passes. */
export function totalSteps(s: Pick<TrainSettings, 'steps' | 'epochs' | 'batchSize' | 'gradAccum'>, examples: number): number {
  if (!(s.epochs > 0)) return Math.max(1, Math.round(s.steps));
  return Math.max(1, Math.ceil((s.epochs * examples) / (s.batchSize * s.gradAccum)));
}
