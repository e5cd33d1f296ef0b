// ORPO (Hong et al. 2024), as TRL's ORPOTrainer computes it: no reference model.
//   loss = NLL(chosen answer tokens) - lambda * mean over pairs of log sigmoid(log_odds)
//   log_odds = (m_c - m_r) - (log(1 - e^m_c) - log(1 - e^m_r))
// with m the mean per-token log-prob of each answer (length-normalised). Pairs travel as [2P, T]
// like DPO's (chosen rows, then rejected rows).
import * as tf from '@tensorflow/tfjs';
import { asPairs, pairBatch } from '../dpo';
import type { TokenizedExample } from '../batches';
import { FigureTally, batchTokenLogps, type MicroBatchLoss, type ObjectiveContext, type ObjectiveFigures, type ObjectiveRoom } from './objective';

/** TRL's default lambda (its `beta`). */
export const DEFAULT_ORPO_LAMBDA = 0.1;

/** log(1 - e^x) for x < 0; x is kept a hair below 0 so a certain answer (x = 0) stays finite. */
export function log1mexp(x: tf.Tensor): tf.Tensor {
  return tf.log(tf.neg(tf.expm1(tf.minimum(x, -1e-6))));
}

export interface OrpoTerms {
  loss: tf.Scalar;
  nll: tf.Scalar;
  /** [P] each: mean per-token log-probs of the chosen and rejected answers, and the log odds ratio. */
  chosen: tf.Tensor1D;
  rejected: tf.Tensor1D;
  logOdds: tf.Tensor1D;
}

/**
 * tokenLogps [2P, T] log p(target) per position, weights [2P, T] the answer mask (chosen rows first),
 * `valid` [P] 1 for real pairs. -> ORPO's loss and its parts.
 */
export function orpoLoss(tokenLogps: tf.Tensor2D, weights: tf.Tensor2D, lambda: number, valid?: tf.Tensor1D): OrpoTerms {
  return tf.tidy(() => {
    const P = tokenLogps.shape[0] / 2;
    const v = valid ?? tf.ones([P]);
    const sums = tf.sum(tf.mul(tokenLogps, weights), 1); // [2P]
    const lengths = tf.sum(weights, 1); // [2P]
    const means = tf.div(sums, tf.maximum(lengths, 1)); // [2P]
    const [chosen, rejected] = tf.split(means, 2) as [tf.Tensor1D, tf.Tensor1D]; // [P] each
    const [cs, ] = tf.split(sums, 2);
    const [cl, ] = tf.split(lengths, 2);
    // The chosen answers' cross-entropy, averaged over all their tokens in the batch (CrossEntropyLoss's mean).
    const nll = tf.div(tf.neg(tf.sum(tf.mul(cs, v))), tf.maximum(tf.sum(tf.mul(cl, v)), 1)) as tf.Scalar;
    const logOdds = tf.sub(tf.sub(chosen, rejected), tf.sub(log1mexp(chosen), log1mexp(rejected))) as tf.Tensor1D; // [P]
    const ratio = tf.neg(tf.softplus(tf.neg(logOdds))); // [P] log sigmoid (tf.logSigmoid's custom gradient breaks inside tf.tidy)
    const orTerm = tf.div(tf.sum(tf.mul(ratio, v)), tf.sum(v));
    const loss = tf.sub(nll, tf.mul(orTerm, lambda)) as tf.Scalar;
    return { loss, nll, chosen, rejected, logOdds };
  });
}

export class OrpoObjective implements ObjectiveRoom {
  readonly perplexity = false;
  private kept: { nll: tf.Scalar; chosen: tf.Tensor1D; rejected: tf.Tensor1D; logOdds: tf.Tensor1D; count: number }[] = [];

  constructor(private readonly ctx: ObjectiveContext) {}

  private get lambda(): number {
    return this.ctx.settings.orpoLambda ?? DEFAULT_ORPO_LAMBDA;
  }

  check(train: TokenizedExample[], validation: TokenizedExample[]): void {
    asPairs(train);
    asPairs(validation, 'validation');
  }

  private lossFn(rows: TokenizedExample[], count: number, b = pairBatch(rows, this.ctx.settings.seqLen)): () => tf.Scalar {
    const P = rows.length;
    return () => {
      const logps = batchTokenLogps(this.ctx, b, this.ctx.adapter); // [2P, T]
      const valid = tf.tensor1d(rows.map((_, i) => (i < count ? 1 : 0)));
      const t = orpoLoss(logps, tf.tensor2d(b.weights, [2 * P, b.seqLen]), this.lambda, valid);
      this.kept.push({ nll: tf.keep(t.nll), chosen: tf.keep(t.chosen), rejected: tf.keep(t.rejected), logOdds: tf.keep(t.logOdds), count });
      return t.loss;
    };
  }

  async microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss> {
    const b = pairBatch(rows, this.ctx.settings.seqLen);
    return { f: this.lossFn(rows, rows.length, b), dispose: () => {}, rows: 2 * rows.length, positions: 2 * rows.length * b.seqLen };
  }

  /**
   * TRL's figures: rewards/chosen and rewards/rejected (lambda x mean log-prob), rewards/accuracies,
   * rewards/margins, logps/chosen, logps/rejected, nll_loss, log_odds_ratio (mean log sigmoid of the
   * log odds) and log_odds_chosen (mean log odds).
   */
  private async drain(): Promise<Record<string, number>> {
    const t = new FigureTally();
    for (const k of this.kept) {
      const [nll, c, r, lo] = await Promise.all([k.nll.data(), k.chosen.data(), k.rejected.data(), k.logOdds.data()]);
      t.add('nll_loss', nll[0]);
      for (let i = 0; i < k.count; i++) {
        t.add('rewards_chosen', this.lambda * c[i]);
        t.add('rewards_rejected', this.lambda * r[i]);
        t.add('rewards_accuracies', c[i] > r[i] ? 1 : 0);
        t.add('rewards_margins', this.lambda * (c[i] - r[i]));
        t.add('logps_chosen', c[i]);
        t.add('logps_rejected', r[i]);
        t.add('log_odds_ratio', -Math.log1p(Math.exp(-lo[i])));
        t.add('log_odds_chosen', lo[i]);
      }
      tf.dispose([k.nll, k.chosen, k.rejected, k.logOdds]);
    }
    this.kept = [];
    return t.means();
  }

  async stepFigures(): Promise<ObjectiveFigures> {
    return { figures: await this.drain() };
  }

  async evaluate(pairs: TokenizedExample[]): Promise<{ loss: number } & ObjectiveFigures> {
    if (pairs.length === 0) return { loss: NaN };
    const B = this.ctx.settings.batchSize;
    let sum = 0;
    for (let i = 0; i < pairs.length; i += B) {
      const rows = pairs.slice(i, i + B);
      const count = rows.length;
      while (rows.length < B) rows.push({ inputIds: [], lossMask: [], rejected: { inputIds: [], lossMask: [] } });
      const l = tf.tidy(this.lossFn(rows, count));
      sum += (await l.data())[0] * count;
      l.dispose();
    }
    return { loss: sum / pairs.length, figures: await this.drain() };
  }

  divergenceReference(first: number): number {
    return first;
  }
}
