// Direct Preference Optimization (Rafailov et al. 2023), as TRL's DPOTrainer computes its sigmoid loss:
//   loss = -log sigmoid(beta * ((log p(chosen) - log p_ref(chosen)) - (log p(rejected) - log p_ref(rejected))))
// with log p summed over the answer tokens of each sequence. The reference model is the same frozen
// base with the adapter switched off (a forward with no adapter, outside autograd), so no second copy
// of the model is held. P pairs travel as one batch of 2P rows: the P chosen rows, then the P rejected.
import * as tf from '@tensorflow/tfjs';
import { makeBatch, paddedLength, type Batch, type TokenizedExample } from './batches';

/** What the DPO objective adds to the training settings. */
export interface DpoSettings {
  /** Strength of the pull towards the reference: small beta lets the policy move further (TRL default 0.1). */
  beta: number;
}

export const DEFAULT_DPO: DpoSettings = { beta: 0.1 };

/** Means over a set of pairs, as TRL logs them (rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies). */
export interface DpoMetrics {
  /** beta * (log p(chosen) - log p_ref(chosen)), averaged over pairs. */
  rewardChosen: number;
  rewardRejected: number;
  /** Mean of rewardChosen - rewardRejected per pair. */
  margin: number;
  /** Share of pairs whose chosen reward is above the rejected one (0 at step 0, where both are 0). */
  accuracy: number;
  /** Pairs the means are over. */
  pairs: number;
}

/** A preference pair as the trainer holds it: the chosen answer with its rejected answer attached. */
export type PreferenceExample = TokenizedExample & { rejected: TokenizedExample };

export class NotPreferenceDataError extends Error {
  override name = 'NotPreferenceDataError';
}

/** Checks that every example carries a rejected answer (DPO needs pairs). */
export function asPairs(examples: TokenizedExample[], what = 'training'): PreferenceExample[] {
  const bad = examples.findIndex((e) => !e.rejected);
  if (bad >= 0) throw new NotPreferenceDataError(`DPO needs preference pairs ({"prompt","chosen","rejected"} lines); ${what} example ${bad + 1} has no rejected answer. Use the supervised objective for this data.`);
  return examples as PreferenceExample[];
}

/** 2P rows of [T]: the chosen sides, then the rejected sides, in the same pair order. */
export function pairBatch(pairs: TokenizedExample[], seqLen: number): Batch {
  if (pairs.some((p) => p.positions)) throw new NotPreferenceDataError('DPO pairs cannot be packed: turn packing off.');
  const empty: TokenizedExample = { inputIds: [], lossMask: [] };
  const rows = [...pairs, ...pairs.map((p) => p.rejected ?? empty)];
  return makeBatch(rows, paddedLength(rows, seqLen)); // [2P, T]: chosen rows, then rejected
}

/**
 * Sum of log p(target) over weighted positions, per row.
 * logits [R*T, V], targets [R*T] int32, weights [R*T] -> [R]
 */
export function sequenceLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D, rows: number): tf.Tensor1D {
  return tf.tidy(() => {
    const V = logits.shape[1];
    const logp = tf.logSoftmax(logits); // [R*T, V]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, V)), 1); // [R*T]
    return tf.sum(tf.reshape(tf.mul(picked, weights), [rows, -1]), 1) as tf.Tensor1D; // [R]
  });
}

/**
 * policy, reference: [2P] sequence log-probs (chosen rows first) -> mean loss over the P pairs and
 * each pair's rewards [P]. `count` (<= P) limits the mean to the first pairs (padding pairs after them).
 */
export function dpoLoss(policy: tf.Tensor1D, reference: tf.Tensor1D, beta: number, count?: number): { loss: tf.Scalar; chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
  return tf.tidy(() => {
    const P = policy.shape[0] / 2;
    const n = count ?? P;
    const [pc, pr] = tf.split(policy, 2); // [P] each
    const [rc, rr] = tf.split(reference, 2);
    const chosen = tf.mul(tf.sub(pc, rc), beta) as tf.Tensor1D; // [P]
    const rejected = tf.mul(tf.sub(pr, rr), beta) as tf.Tensor1D;
    // -log sigmoid(x) = softplus(-x), stable for large |x|.
    const perPair = tf.softplus(tf.neg(tf.sub(chosen, rejected))); // [P]
    const loss = tf.div(tf.sum(n === P ? perPair : perPair.slice(0, n)), n) as tf.Scalar;
    return { loss, chosen, rejected };
  });
}

/** Rewards of pairs seen so far, summed, so several micro-batches or eval batches make one report. */
export class DpoTally {
  private chosen = 0;
  private rejected = 0;
  private wins = 0;
  private n = 0;

  add(chosen: ArrayLike<number>, rejected: ArrayLike<number>, count = chosen.length): void {
    for (let i = 0; i < count; i++) {
      this.chosen += chosen[i];
      this.rejected += rejected[i];
      if (chosen[i] > rejected[i]) this.wins++;
      this.n++;
    }
  }

  metrics(): DpoMetrics {
    const n = Math.max(1, this.n);
    return { rewardChosen: this.chosen / n, rewardRejected: this.rejected / n, margin: (this.chosen - this.rejected) / n, accuracy: this.wins / n, pairs: this.n };
  }
}
