// The training loop: fixed-shape batches, the objective's loss (one room per loss in
// src/train/objectives: SFT, DPO, KTO, ORPO, GRPO), gradients through the frozen base by tfjs
// autograd, global-norm clipping, AdamW under a warmup + decay schedule.
// It owns no I/O: the worker, Node CLI, tests and benchmarks drive it step by step.
import * as tf from '@tensorflow/tfjs';
import { type LlamaModel } from '../model/llama';
import { SoftPromptAdapter } from './soft-prompt';
import { LoraAdapter } from './lora';
import { FullFineTune, type FullWeights } from './full-finetune';
import { type TrainableAdapter } from './trainable';
import type { SoftPromptWeights } from '../adapters/soft-prompt-types';
import { freeOnThrow } from './free-on-throw';
import { leanVariableGrads } from './lean-gradients';
import { AdamW } from './adamw';
import { nextRows, type Batch, type DataPosition, type TokenizedExample } from './batches';
import type { LoraWeights } from '../adapters/lora-types';
import { learningRate } from './schedule';
import type { DpoMetrics } from './dpo';
import { resolveRecomputeLayers } from './memory-plan';
import { paddedRowCounts, runBatchLengths } from './row-lengths';
import { totalSteps, type TrainSettings } from './settings';
import type { ObjectiveContext, ObjectiveRoom } from './objectives/objective';
import { SftObjective, sftLossFn } from './objectives/sft';
import { DpoObjective } from './objectives/dpo';
import { KtoObjective } from './objectives/kto';
import { OrpoObjective } from './objectives/orpo';
import { GrpoObjective, type CompletionText } from './objectives/grpo';
import type { RewardScorer } from './objectives/reward';

export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens (B*T*accum) processed by this step. */
  tokens: number;
  tokensPerSec: number;
  stepMs: number;
  epoch: number;
  /** Steps this run will take in all. */
  totalSteps: number;
  /** DPO runs: rewards, margin and accuracy of this step's pairs. */
  dpo?: DpoMetrics;
  /** KTO, ORPO and GRPO runs: the step's figures under TRL's log names ('/' written '_'). */
  figures?: Record<string, number>;
}

export interface EvalReport {
  step: number;
  loss: number;
  /** exp(loss): the validation perplexity (NaN for DPO, whose loss is not a per-token likelihood). */
  perplexity: number;
  /** DPO runs: rewards, margin and accuracy on the validation pairs. */
  dpo?: DpoMetrics;
  /** KTO and ORPO runs: the validation figures under TRL's log names. */
  figures?: Record<string, number>;
}

/** Everything besides the frozen base that decides what the next step does: a resumed run continues exactly. */
export interface TrainerState {
  step: number;
  position: DataPosition;
  /** The dropout seed counter (the only random state that moves during training). */
  dropoutSeed: number;
  /** LoRA runs' matrices (empty layers for soft-prompt runs). */
  adapter: LoraWeights;
  /** Soft-prompt runs: prompt_embeddings. */
  soft?: SoftPromptWeights;
  /** Full fine-tuning runs: every weight, in the order of the moments. */
  full?: FullWeights;
  /** AdamW moments, in the order of adapter.variables(). */
  m: Float32Array[];
  v: Float32Array[];
  /** Loss of the run's first step (the divergence check's reference); null before it. */
  firstLoss: number | null;
}

/** What run() calls besides onStep; every hook is awaited, so a slow one pauses training. */
export interface RunHooks {
  onStep(r: StepReport): void | Promise<void>;
  onEval?(r: EvalReport): void | Promise<void>;
  /** Time for sample generations (every settings.sampleEvery steps). */
  onSample?(step: number): void | Promise<void>;
  /** A checkpoint every settings.checkpointEvery steps. */
  onCheckpoint?(state: TrainerState): void | Promise<void>;
}

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(readonly step: number, readonly loss: number, readonly firstLoss: number | null = null) {
    super(
      firstLoss === null
        ? `Training stopped at step ${step}: the ${Number.isNaN(loss) ? 'loss or gradient became NaN' : `loss became ${loss}`} (not finite). Lower the learning rate or check the data; the adapter goes back to its last good checkpoint.`
        : `Training stopped at step ${step}: the loss rose to ${loss.toFixed(3)}, ${(loss / firstLoss).toFixed(1)}x the first step's ${firstLoss.toFixed(3)} (diverging). Lower the learning rate; the adapter goes back to its last good checkpoint.`,
    );
  }
}

/**
 * Sum of same-shape tensors as a balanced tree of adds. Not tf.addN: its WebGPU kernel binds every
 * input at once and fails past the device's 8 storage buffers per stage (20 LoRA matrices do).
 */
export function addAll<T extends tf.Tensor>(ts: T[]): T {
  if (ts.length === 0) throw new Error('addAll: no tensors');
  let level: tf.Tensor[] = ts;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? tf.add(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0] as T;
}

/** Extra inputs some objectives need: GRPO's reward function and the tokenizer's decoding. */
export interface TrainerExtras {
  reward?: RewardScorer;
  text?: CompletionText;
  /** GRPO: each micro-batch's rewards and their data lines, as scored. */
  onRewards?: (rewards: number[], lines: number[]) => void;
}

/** The room of the run's objective. */
function objectiveRoom(ctx: ObjectiveContext, extras: TrainerExtras): ObjectiveRoom {
  const objective = ctx.settings.objective ?? 'sft';
  switch (objective) {
    case 'sft':
      return new SftObjective(ctx);
    case 'dpo':
      return new DpoObjective(ctx);
    case 'kto':
      return new KtoObjective(ctx);
    case 'orpo':
      return new OrpoObjective(ctx);
    case 'grpo':
      if (!extras.reward || !extras.text) throw new Error('GRPO needs a reward function (--reward) and the tokenizer.');
      return new GrpoObjective(ctx, extras.reward, extras.text, extras.onRewards);
    default:
      return assertNever(objective);
  }
}

function assertNever(x: never): never {
  throw new Error(`unknown objective: ${String(x)}`);
}

export class Trainer {
  readonly optimizer: AdamW;
  private position: DataPosition = { epoch: 0, index: 0 };
  private stopRequested = false;
  private firstLoss: number | null = null;
  private readonly vars: tf.Variable[];
  /** Optimizer steps this run takes (settings.steps, or derived from settings.epochs). */
  readonly totalSteps: number;
  /** Whether layers are recomputed in the backward pass ('auto' resolved at construction). */
  readonly recompute: boolean;
  /** How many (the first n) layers are recomputed. */
  readonly recomputeLayers: number;
  private readonly ctx: ObjectiveContext;
  private readonly room: ObjectiveRoom;

  constructor(
    readonly model: LlamaModel,
    readonly adapter: TrainableAdapter,
    readonly examples: TokenizedExample[],
    readonly settings: TrainSettings,
    readonly validation: TokenizedExample[] = [],
    extras: TrainerExtras = {},
  ) {
    if (examples.length === 0) throw new Error('The dataset has no usable training examples.');
    // Recomputation wraps the LoRA layer loop; a soft prompt runs the whole forward (see sftLossFn).
    // Planned at the longest batch these rows make (the Train step's estimate assumes the same).
    const rows = runBatchLengths(paddedRowCounts(examples), { seqLen: settings.seqLen, batchSize: settings.batchSize, packed: false, objective: settings.objective });
    this.recomputeLayers = adapter instanceof LoraAdapter ? resolveRecomputeLayers(settings.recompute ?? 'auto', model, adapter, { ...settings, seqLen: rows?.peak ?? settings.seqLen }) : 0;
    this.recompute = this.recomputeLayers > 0;
    this.ctx = { model, adapter, settings, recompute: this.recomputeLayers, step: () => this.optimizer.step };
    this.room = objectiveRoom(this.ctx, extras);
    this.room.check(examples, validation);
    this.vars = adapter.variables();
    this.optimizer = new AdamW(this.vars, settings.adamw);
    adapter.setDropoutSeed(settings.seed);
    this.totalSteps = totalSteps(settings, examples.length);
  }

  /** A copy of the run's state (weights, moments, data position, random state) for a checkpoint. */
  async state(): Promise<TrainerState> {
    const opt = await this.optimizer.state();
    const a = this.adapter;
    const weights =
      a instanceof SoftPromptAdapter ? { adapter: { layers: [] }, soft: await a.toWeights() }
      : a instanceof FullFineTune ? { adapter: { layers: [] }, full: await a.toWeights() }
      : { adapter: await a.toWeights() };
    return { step: opt.step, position: { ...this.position }, dropoutSeed: a.dropoutSeed, ...weights, m: opt.m, v: opt.v, firstLoss: this.firstLoss };
  }

  /** Puts the run back where `state` was taken; the next trainStep is the one that followed it. */
  restore(state: TrainerState): void {
    const a = this.adapter;
    if (a instanceof SoftPromptAdapter) {
      if (!state.soft) throw new Error('restore: this checkpoint holds LoRA weights, not a soft prompt');
      a.assignWeights(state.soft);
    } else if (a instanceof FullFineTune) {
      if (!state.full) throw new Error('restore: this checkpoint holds adapter weights, not a fully fine-tuned model');
      a.assignWeights(state.full);
    } else a.assignWeights(state.adapter);
    this.optimizer.restore({ step: state.step, m: state.m, v: state.v });
    this.position = { ...state.position };
    this.adapter.setDropoutSeed(state.dropoutSeed);
    this.firstLoss = state.firstLoss ?? null;
  }

  get step(): number {
    return this.optimizer.step;
  }

  get epoch(): number {
    return this.position.epoch + this.position.index / this.examples.length;
  }

  requestStop(): void {
    this.stopRequested = true;
  }

  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Loss and gradients (in the order of adapter.variables()) of one SFT batch; the caller disposes them. */
  batchGradients(b: Batch, recompute: boolean | number = this.recomputeLayers): { value: tf.Scalar; grads: tf.Tensor[] } {
    const { f, shared } = sftLossFn(this.ctx, b, recompute);
    try {
      const { value, grads } = freeOnThrow(() => leanVariableGrads(f, this.vars));
      return { value, grads: this.vars.map((v) => grads[v.name]) };
    } finally {
      tf.dispose(shared);
    }
  }

  /** The step's gradAccum micro-batches: each one's loss and gradients pushed to the lists; returns the positions run (rows x T). */
  private async accumulate(losses: tf.Scalar[], gradLists: tf.Tensor[][]): Promise<number> {
    let positions = 0;
    for (let k = 0; k < this.settings.gradAccum; k++) {
      const { rows, pos } = nextRows(this.examples, this.settings.batchSize, this.position, this.settings.seed);
      const mb = await this.room.microBatch(rows);
      this.position = pos; // only once the micro-batch is made: a failed reward leaves the data where it was
      try {
        const { value, grads } = freeOnThrow(() => leanVariableGrads(mb.f, this.vars));
        losses.push(value);
        gradLists.push(this.vars.map((v) => grads[v.name]));
        positions += mb.positions ?? mb.rows * this.settings.seqLen;
      } finally {
        mb.dispose();
      }
    }
    return positions;
  }

  /**
   * One optimizer step. Throws TrainingDivergedError, leaving weights untouched, on a non-finite or
   * runaway loss; an objective's own error (a reward function's) also leaves them untouched.
   */
  async trainStep(): Promise<StepReport> {
    const s = this.settings;
    const t0 = performance.now();
    const lr = learningRate(this.optimizer.step, {
      peakLr: s.learningRate,
      warmupSteps: Math.min(s.warmupSteps, this.totalSteps),
      totalSteps: this.totalSteps,
      kind: s.schedule,
    });
    const position = { ...this.position };
    this.adapter.training = true;
    const losses: tf.Scalar[] = [];
    const gradLists: tf.Tensor[][] = [];
    let positions: number;
    try {
      positions = await this.accumulate(losses, gradLists);
    } catch (e) {
      tf.dispose([...losses, ...gradLists.flat()]); // the micro-batches before the one that threw
      await this.room.stepFigures(); // frees what they kept
      this.position = position;
      throw e;
    } finally {
      this.adapter.training = false;
    }
    const figures = await this.room.stepFigures();
    // Mean over micro-batches, then the global norm (before clipping) for reporting and clipping.
    const { mean, norm, lossT } = tf.tidy(() => {
      // One micro-batch: its gradients are the mean (a clone shares the buffer: no kernel runs, on WebGPU no dispatch).
      const one = s.gradAccum === 1;
      const mean = this.vars.map((_, i) => (one ? tf.clone(gradLists[0][i]) : tf.div(addAll(gradLists.map((g) => g[i])), s.gradAccum)));
      const norm = tf.sqrt(addAll(mean.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
      const lossT = (one ? tf.clone(losses[0]) : tf.div(addAll(losses), s.gradAccum)) as tf.Scalar;
      return { mean, norm, lossT };
    });
    tf.dispose([...losses, ...gradLists.flat()]);
    const [loss, gradNorm] = await Promise.all([lossT.data(), norm.data()]).then(([a, b]) => [a[0], b[0]]);
    lossT.dispose();
    norm.dispose();
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      tf.dispose(mean);
      throw new TrainingDivergedError(this.optimizer.step + 1, Number.isFinite(loss) ? gradNorm : loss);
    }
    if (this.firstLoss === null) this.firstLoss = loss;
    else if (s.divergenceFactor > 0 && loss > s.divergenceFactor * this.room.divergenceReference(this.firstLoss)) {
      tf.dispose(mean);
      throw new TrainingDivergedError(this.optimizer.step + 1, loss, this.room.divergenceReference(this.firstLoss));
    }
    const clip = s.maxGradNorm > 0 && gradNorm > s.maxGradNorm ? s.maxGradNorm / (gradNorm + 1e-6) : 1;
    const clipped = clip === 1 ? mean : tf.tidy(() => mean.map((g) => tf.mul(g, clip)));
    this.optimizer.apply(clipped, lr);
    tf.dispose(mean);
    if (clipped !== mean) tf.dispose(clipped);
    const stepMs = performance.now() - t0;
    const tokens = positions;
    const report: StepReport = { step: this.optimizer.step, loss, lr, gradNorm, tokens, tokensPerSec: (tokens / stepMs) * 1000, stepMs, epoch: this.epoch, totalSteps: this.totalSteps };
    if (figures.dpo) report.dpo = figures.dpo;
    if (figures.figures) report.figures = figures.figures;
    return report;
  }

  /** Mean loss over `examples` (the validation set by default), without gradients: SFT's masked loss, or the objective's. */
  async evaluate(examples: TokenizedExample[] = this.validation): Promise<number> {
    return (await this.room.evaluate(examples)).loss;
  }

  /** Mean DPO loss and the reward metrics over preference pairs (the validation pairs by default), without gradients. */
  async evaluateDpo(pairs: TokenizedExample[] = this.validation): Promise<{ loss: number; metrics: DpoMetrics }> {
    if (!(this.room instanceof DpoObjective)) throw new Error('evaluateDpo: this run does not train with DPO');
    const { loss, dpo } = await this.room.evaluate(pairs);
    return { loss, metrics: dpo as DpoMetrics };
  }

  /** Validation loss and perplexity at the current step (for preference objectives: their loss and figures). */
  async evaluateReport(): Promise<EvalReport> {
    const { loss, dpo, figures } = await this.room.evaluate(this.validation);
    const report: EvalReport = { step: this.step, loss, perplexity: this.room.perplexity ? Math.exp(loss) : NaN };
    if (dpo) report.dpo = dpo;
    if (figures) report.figures = figures;
    return report;
  }

  /**
   * Runs until totalSteps or a stop request; returns why it ended. After each step: onStep, then
   * validation (every evalEvery steps and after the last), samples, and a checkpoint when due.
   */
  async run(hooks: RunHooks | RunHooks['onStep']): Promise<'completed' | 'stopped'> {
    const h: RunHooks = typeof hooks === 'function' ? { onStep: hooks } : hooks;
    const s = this.settings;
    while (this.optimizer.step < this.totalSteps) {
      if (this.stopRequested) return 'stopped';
      await h.onStep(await this.trainStep());
      const step = this.step;
      const last = step === this.totalSteps;
      if (h.onEval && this.room.evaluates !== false && s.evalEvery > 0 && this.validation.length > 0 && (step % s.evalEvery === 0 || last)) await h.onEval(await this.evaluateReport());
      if (h.onSample && s.sampleEvery > 0 && (step % s.sampleEvery === 0 || last)) await h.onSample(step);
      if (h.onCheckpoint && s.checkpointEvery > 0 && step % s.checkpointEvery === 0) await h.onCheckpoint(await this.state());
    }
    return 'completed';
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
