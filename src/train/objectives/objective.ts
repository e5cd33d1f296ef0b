// What every training objective provides to the trainer (src/train/trainer.ts), one room per loss:
// it turns a micro-batch of examples into a loss function for tf.variableGrads, keeps the figures it
// reports (TRL's names), and evaluates. The trainer owns the optimizer, the schedule and the data order.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/llama';
import { adaptedLogits, type TrainableAdapter } from '../trainable';
import type { Batch, TokenizedExample } from '../batches';
import type { TrainSettings } from '../settings';
import type { DpoMetrics } from '../dpo';

/** What a room needs from the run. */
export interface ObjectiveContext {
  model: LlamaModel;
  adapter: TrainableAdapter;
  settings: TrainSettings;
  /** Decoder layers recomputed in the backward pass: all (true), none (false/0) or the first n (the SFT path only). */
  recompute: boolean | number;
  /** Optimizer steps taken so far (GRPO seeds its sampling from it, so a resumed run samples as an uninterrupted one). */
  step: () => number;
}

/** One micro-batch's loss for tf.variableGrads, and what it holds outside the tape (freed by dispose). */
export interface MicroBatchLoss {
  f: () => tf.Scalar;
  dispose: () => void;
  /** Sequences this micro-batch ran forward. */
  rows: number;
  /** Token positions they ran (the step's token count): rows x T of each batch; rows x settings.seqLen when absent. */
  positions?: number;
}

/** A step's or an evaluation's figures: DPO's typed metrics, or named figures (TRL's log keys, '/' as '_'). */
export interface ObjectiveFigures {
  dpo?: DpoMetrics;
  figures?: Record<string, number>;
}

export interface ObjectiveRoom {
  /** Throws a named error when the data is not what this objective needs. */
  check(train: TokenizedExample[], validation: TokenizedExample[]): void;
  /** The loss of one micro-batch; async because some objectives sample or score first. */
  microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss>;
  /** Figures gathered since the last call (the step's micro-batches), then forgotten. */
  stepFigures(): Promise<ObjectiveFigures>;
  /** Mean loss and figures over examples, without gradients (NaN loss when it has none). */
  evaluate(examples: TokenizedExample[]): Promise<{ loss: number } & ObjectiveFigures>;
  /** The loss a runaway is measured against, from the first step's. */
  divergenceReference(first: number): number;
  /** exp(loss) is a perplexity only for a per-token likelihood. */
  readonly perplexity: boolean;
  /** False when the objective has no held-out loss (GRPO): the run then skips its evaluations. */
  readonly evaluates?: boolean;
}

/**
 * log p(target) at every position, unweighted.
 * logits [R*T, V], targets [R*T] int32 -> [R*T]
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets, logits.shape[1])), 1) as tf.Tensor1D); // [R*T]
}

/** Per-position log-probs [R, T] of a batch's targets, with the adapter or (null) without it: the reference. */
export function batchTokenLogps(ctx: ObjectiveContext, b: Batch, adapter: TrainableAdapter | null): tf.Tensor2D {
  return tf.tidy(() => {
    const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
    const logits = adaptedLogits(ctx.model, ids, adapter); // [R*T, V]
    return tf.reshape(tokenLogProbs(logits, tf.tensor1d(b.targets, 'int32')), [b.batchSize, b.seqLen]) as tf.Tensor2D; // [R, T]
  });
}

/** Summed answer log-probs per row [R] (weights mask the answer), with the adapter or without it. */
export function batchSequenceLogps(ctx: ObjectiveContext, b: Batch, adapter: TrainableAdapter | null): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(batchTokenLogps(ctx, b, adapter), tf.tensor2d(b.weights, [b.batchSize, b.seqLen])), 1) as tf.Tensor1D); // [R]
}

/** Answer tokens per row of a batch (the weights summed), as numbers. */
export function answerLengths(b: Batch): number[] {
  const out: number[] = [];
  for (let r = 0; r < b.batchSize; r++) {
    let n = 0;
    for (let t = 0; t < b.seqLen; t++) n += b.weights[r * b.seqLen + t];
    out.push(n);
  }
  return out;
}

/** Running means of named figures over micro-batches or evaluation batches. */
export class FigureTally {
  private sums = new Map<string, number>();
  private counts = new Map<string, number>();

  /** Adds `value` as the mean of `weight` items (skipped when weight is 0). */
  add(name: string, value: number, weight = 1): void {
    if (!(weight > 0)) return;
    this.sums.set(name, (this.sums.get(name) ?? 0) + value * weight);
    this.counts.set(name, (this.counts.get(name) ?? 0) + weight);
  }

  means(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.sums) out[k] = s / (this.counts.get(k) as number);
    return out;
  }
}
