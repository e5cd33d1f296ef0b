// The LoRA training loop: fixed-shape batches, masked cross-entropy (or DPO's preference loss on
// pairs, src/train/dpo.ts), gradients through the frozen base by tfjs autograd, global-norm
// clipping, AdamW under a warmup + decay schedule.
// It owns no I/O: the worker, Node CLI, tests and benchmarks drive it step by step.
import * as tf from '@tensorflow/tfjs';
import { type LlamaModel } from '../model/llama';
import { SoftPromptAdapter } from './soft-prompt';
import { LoraAdapter } from './lora';
import { FullFineTune, type FullWeights } from './full-finetune';
import { adaptedLogits, type TrainableAdapter } from './trainable';
import type { SoftPromptWeights } from '../adapters/soft-prompt-types';
import { maskedCrossEntropy } from './loss';
import { fusedCrossEntropy } from './fused-cross-entropy';
import { recomputed, recomputeSkipsLastProduct } from './recompute';
import { freeOnThrow } from './free-on-throw';
import { AdamW, DEFAULT_ADAMW, type AdamWParams } from './adamw';
import { makeBatch, nextRows, type Batch, type DataPosition, type TokenizedExample } from './batches';
import type { LoraWeights } from '../adapters/lora-types';
import { learningRate } from './schedule';
import { DEFAULT_DPO, DpoTally, asPairs, dpoLoss, pairBatch, sequenceLogProbs, type DpoMetrics } from './dpo';

/** What the run optimizes: next-token loss on the answers, or DPO's preference loss on pairs. */
export type Objective = 'sft' | 'dpo';
import { resolveRecomputeLayers, type RecomputeSetting } from './memory-plan';

export interface TrainSettings {
  /** Optimizer steps to run (used when `epochs` is 0). */
  steps: number;
  /** Passes over the training set; when > 0 it decides the step count (see totalSteps). */
  epochs: number;
  /** Sequences per micro-batch (B). */
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
  /** Fixes LoRA initialisation, data order and dropout masks. */
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
  /** 'sft' (supervised next-token loss) or 'dpo' (preference pairs); absent in older checkpoints, meaning 'sft'. */
  objective?: Objective;
  /** DPO's beta (only with objective 'dpo'). */
  dpoBeta?: number;
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
}

export interface EvalReport {
  step: number;
  loss: number;
  /** exp(loss): the validation perplexity (NaN for DPO, whose loss is not a per-token likelihood). */
  perplexity: number;
  /** DPO runs: rewards, margin and accuracy on the validation pairs. */
  dpo?: DpoMetrics;
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

/** The model's final logit soft-cap (Gemma), 0 when it has none. */
function headSoftcap(m: LlamaModel): number {
  return m.config.finalSoftcap ?? 0;
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

  constructor(
    readonly model: LlamaModel,
    readonly adapter: TrainableAdapter,
    readonly examples: TokenizedExample[],
    readonly settings: TrainSettings,
    readonly validation: TokenizedExample[] = [],
  ) {
    if (examples.length === 0) throw new Error('The dataset has no usable training examples.');
    if (this.dpo) {
      asPairs(examples);
      asPairs(validation, 'validation');
    }
    this.vars = adapter.variables();
    this.optimizer = new AdamW(this.vars, settings.adamw);
    adapter.setDropoutSeed(settings.seed);
    this.totalSteps = totalSteps(settings, examples.length);
    // Recomputation wraps the LoRA layer loop; a soft prompt runs the whole forward (see lossFn).
    this.recomputeLayers = adapter instanceof LoraAdapter ? resolveRecomputeLayers(settings.recompute ?? 'auto', model, adapter, settings) : 0;
    this.recompute = this.recomputeLayers > 0;
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

  private get dpo(): boolean {
    return this.settings.objective === 'dpo';
  }

  /** [B, T] rows, or for DPO [2B, T]: the B chosen answers, then their B rejected answers. */
  private nextBatch(): Batch {
    const { rows, pos } = nextRows(this.examples, this.settings.batchSize, this.position, this.settings.seed);
    this.position = pos;
    return this.dpo ? pairBatch(rows, this.settings.seqLen) : makeBatch(rows, this.settings.seqLen);
  }

  /**
   * The loss a runaway is measured against: the first step's. DPO's first loss is ln 2 when the adapter
   * starts equal to the base (LoRA) but can be far lower for a soft prompt that starts random, so
   * there it is at least ln 2 (the loss of a policy that ranks pairs like the reference does).
   */
  private divergenceReference(first: number): number {
    return this.dpo ? Math.max(first, Math.LN2) : first;
  }

  /** Summed answer log-probs per row [R], with the adapter or (null) without it: the DPO reference. */
  private sequenceLogps(b: Batch, adapter: TrainableAdapter | null): tf.Tensor1D {
    const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
    const logits = adaptedLogits(this.model, ids, adapter); // [R*T, V]
    return sequenceLogProbs(logits, tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights), b.batchSize);
  }

  /**
   * The DPO loss of a pair batch. The reference log-probs come first, outside the gradient (the
   * base alone); `rewards` receives each call's [2, P] chosen/rejected rewards, kept for the metrics.
   */
  private dpoLossFn(b: Batch, rewards: tf.Tensor[], count?: number): { f: () => tf.Scalar; dispose: () => void } {
    const reference = tf.tidy(() => this.sequenceLogps(b, null)); // [2P]
    const beta = this.settings.dpoBeta ?? DEFAULT_DPO.beta;
    return {
      f: () => {
        const { loss, chosen, rejected } = dpoLoss(this.sequenceLogps(b, this.adapter), reference, beta, count);
        rewards.push(tf.keep(tf.stack([chosen, rejected]))); // [2, P]
        return loss;
      },
      dispose: () => reference.dispose(),
    };
  }

  /** Adds kept [2, P] reward tensors to a tally (only the first `count` pairs of each) and frees them. */
  private async tallyRewards(rewards: tf.Tensor[], tally: DpoTally, count?: number): Promise<void> {
    for (const r of rewards) {
      const d = await r.data();
      const P = r.shape[1] as number;
      tally.add(d.subarray(0, P), d.subarray(P), count ?? P);
    }
    tf.dispose(rewards);
    rewards.length = 0;
  }

  /**
   * The loss of one batch as a function for tf.variableGrads / tf.tidy, and the tensors it shares
   * across layers (masks, rope tables), made outside it: a recomputed layer reads them again in the
   * backward pass, after the forward's tidy has ended. The caller disposes `shared`.
   */
  private lossFn(b: Batch, recompute: boolean | number = this.recomputeLayers): { f: () => tf.Scalar; shared: tf.Tensor[] } {
    const m = this.model;
    const adapter = this.adapter;
    if (!(adapter instanceof LoraAdapter)) {
      // A soft prompt changes the sequence itself (virtual tokens or per-layer prefixes), and full
      // fine-tuning trains the head the fused loss treats as frozen: the whole forward with the
      // adapter applied, then the plain masked loss.
      const f = () => {
        const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
        return maskedCrossEntropy(adaptedLogits(m, ids, adapter, b.packing), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)); // logits [B*T, V]
      };
      return { f, shared: [] };
    }
    const { batchSize: B, seqLen: T } = b;
    const ctx = m.layerContext(B, T, { lora: adapter, packing: b.packing });
    const masks = Object.values(ctx.mask) as tf.Tensor[];
    const ropes = Object.values(ctx.rope).flatMap((r) => [r.cos, r.sin]);
    for (const t of [...masks, ...ropes]) tf.keep(t);
    const shared = b.packing ? [...masks, ...ropes] : masks; // unpacked rope tables belong to the model's cache
    const random = { get: () => adapter.dropoutSeed, set: (s: number) => adapter.setDropoutSeed(s) };
    const f = () => {
      const ids = tf.tensor2d(b.inputs, [B, T], 'int32');
      let x = m.embed(ids).reshape([B * T, m.config.hiddenSize]) as tf.Tensor2D; // [B*T, C]
      for (let i = 0; i < m.config.numLayers; i++) {
        const layer = (xi: tf.Tensor2D) => m.layerForward(i, xi, ctx);
        const vjp = recomputeSkipsLastProduct() && m.hasLayerVjp(i) ? (xi: tf.Tensor2D, dy: tf.Tensor2D) => m.layerVjp(i, xi, ctx, dy) : undefined;
        x = recompute === true || i < Number(recompute) ? recomputed(layer, adapter.layerVariables(i), random, vjp)(x) : layer(x);
      }
      const h = m.finalNorm(x); // [B*T, C]
      if ((this.settings.loss ?? 'fused') === 'fused') return fusedCrossEntropy(h, m.head, b.targets, b.weights, { softcap: headSoftcap(m) });
      return maskedCrossEntropy(m.logitsFrom(h), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)); // logits [B*T, V]
    };
    return { f, shared };
  }

  /** Loss and gradients (in the order of adapter.variables()) of one batch, recomputing all (true), none or the first n layers; the caller disposes them. */
  batchGradients(b: Batch, recompute: boolean | number = this.recomputeLayers): { value: tf.Scalar; grads: tf.Tensor[] } {
    const { f, shared } = this.lossFn(b, recompute);
    try {
      const { value, grads } = freeOnThrow(() => tf.variableGrads(f, this.vars));
      return { value, grads: this.vars.map((v) => grads[v.name]) };
    } finally {
      tf.dispose(shared);
    }
  }

  /** The step's gradAccum micro-batches: each one's loss and gradients (and DPO rewards) pushed to the lists. */
  private accumulate(losses: tf.Scalar[], gradLists: tf.Tensor[][], rewards: tf.Tensor[]): void {
    for (let k = 0; k < this.settings.gradAccum; k++) {
      const batch = this.nextBatch();
      if (this.dpo) {
        const dpo = this.dpoLossFn(batch, rewards);
        try {
          const { value, grads } = freeOnThrow(() => tf.variableGrads(dpo.f, this.vars));
          losses.push(value);
          gradLists.push(this.vars.map((v) => grads[v.name]));
        } finally {
          dpo.dispose();
        }
        continue;
      }
      const { value, grads } = this.batchGradients(batch);
      losses.push(value);
      gradLists.push(grads);
    }
  }

  /** One optimizer step. Throws TrainingDivergedError, leaving weights untouched, on a non-finite or runaway loss. */
  async trainStep(): Promise<StepReport> {
    const s = this.settings;
    const t0 = performance.now();
    const lr = learningRate(this.optimizer.step, {
      peakLr: s.learningRate,
      warmupSteps: Math.min(s.warmupSteps, this.totalSteps),
      totalSteps: this.totalSteps,
      kind: s.schedule,
    });
    this.adapter.training = true;
    const losses: tf.Scalar[] = [];
    const gradLists: tf.Tensor[][] = [];
    const rewards: tf.Tensor[] = [];
    try {
      this.accumulate(losses, gradLists, rewards);
    } catch (e) {
      tf.dispose([...losses, ...gradLists.flat(), ...rewards]); // the micro-batches before the one that threw
      throw e;
    } finally {
      this.adapter.training = false;
    }
    const tally = new DpoTally();
    await this.tallyRewards(rewards, tally);
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
    else if (s.divergenceFactor > 0 && loss > s.divergenceFactor * this.divergenceReference(this.firstLoss)) {
      tf.dispose(mean);
      throw new TrainingDivergedError(this.optimizer.step + 1, loss, this.divergenceReference(this.firstLoss));
    }
    const clip = s.maxGradNorm > 0 && gradNorm > s.maxGradNorm ? s.maxGradNorm / (gradNorm + 1e-6) : 1;
    const clipped = clip === 1 ? mean : tf.tidy(() => mean.map((g) => tf.mul(g, clip)));
    this.optimizer.apply(clipped, lr);
    tf.dispose(mean);
    if (clipped !== mean) tf.dispose(clipped);
    const stepMs = performance.now() - t0;
    const tokens = (this.dpo ? 2 : 1) * s.batchSize * s.seqLen * s.gradAccum;
    const report: StepReport = { step: this.optimizer.step, loss, lr, gradNorm, tokens, tokensPerSec: (tokens / stepMs) * 1000, stepMs, epoch: this.epoch, totalSteps: this.totalSteps };
    if (this.dpo) report.dpo = tally.metrics();
    return report;
  }

  /** Mean masked loss over `examples` (the validation set by default), without gradients. */
  async evaluate(examples: TokenizedExample[] = this.validation): Promise<number> {
    if (examples.length === 0) return NaN;
    const B = this.settings.batchSize;
    let weighted = 0;
    let tokens = 0;
    for (let i = 0; i < examples.length; i += B) {
      const rows = examples.slice(i, i + B);
      while (rows.length < B) rows.push({ inputIds: [], lossMask: [] }); // keep [B, T] fixed
      const batch = makeBatch(rows, this.settings.seqLen);
      if (batch.tokens === 0) continue;
      const { f, shared } = this.lossFn(batch, false);
      const l = tf.tidy(f);
      tf.dispose(shared);
      weighted += (await l.data())[0] * batch.tokens;
      l.dispose();
      tokens += batch.tokens;
    }
    return tokens > 0 ? weighted / tokens : NaN;
  }

  /** Mean DPO loss and the reward metrics over preference pairs (the validation pairs by default), without gradients. */
  async evaluateDpo(pairs: TokenizedExample[] = this.validation): Promise<{ loss: number; metrics: DpoMetrics }> {
    const B = this.settings.batchSize;
    const tally = new DpoTally();
    let sum = 0;
    for (let i = 0; i < pairs.length; i += B) {
      const rows = pairs.slice(i, i + B);
      const count = rows.length;
      while (rows.length < B) rows.push({ inputIds: [], lossMask: [], rejected: { inputIds: [], lossMask: [] } }); // keep [2B, T] fixed
      const rewards: tf.Tensor[] = [];
      const { f, dispose } = this.dpoLossFn(pairBatch(rows, this.settings.seqLen), rewards, count);
      const l = tf.tidy(f);
      dispose();
      sum += (await l.data())[0] * count;
      l.dispose();
      await this.tallyRewards(rewards, tally, count);
    }
    return { loss: pairs.length > 0 ? sum / pairs.length : NaN, metrics: tally.metrics() };
  }

  /** Validation loss and perplexity at the current step (for DPO: the preference loss and reward metrics). */
  async evaluateReport(): Promise<EvalReport> {
    if (this.dpo) {
      const { loss, metrics } = await this.evaluateDpo();
      return { step: this.step, loss, perplexity: NaN, dpo: metrics };
    }
    const loss = await this.evaluate();
    return { step: this.step, loss, perplexity: Math.exp(loss) };
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
      if (h.onEval && s.evalEvery > 0 && this.validation.length > 0 && (step % s.evalEvery === 0 || last)) await h.onEval(await this.evaluateReport());
      if (h.onSample && s.sampleEvery > 0 && (step % s.sampleEvery === 0 || last)) await h.onSample(step);
      if (h.onCheckpoint && s.checkpointEvery > 0 && step % s.checkpointEvery === 0) await h.onCheckpoint(await this.state());
    }
    return 'completed';
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
