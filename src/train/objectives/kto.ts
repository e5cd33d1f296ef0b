// KTO (Ethayarajh et al. 2024), as TRL's KTOTrainer computes it, on unpaired answers labelled
// desirable or undesirable:
//   z0 = max(0, mean over the batch of (log p(y'|x) - log p_ref(y'|x)))   (detached KL estimate)
//   desirable:   w_D * (1 - sigmoid(beta * (log p/p_ref (y|x) - z0)))
//   undesirable: w_U * (1 - sigmoid(beta * (z0 - log p/p_ref (y|x))))
// averaged over the batch. y' is a mismatched completion: row i's answer after row i+1's prompt
// (TRL shifts the completions by one within the batch). Log-probs are summed over answer tokens; the
// reference is the base with the adapter switched off. A fresh LoRA adapter equals the base, so
// every ratio and z0 are 0 and the first loss is exactly 0.5.
import * as tf from '@tensorflow/tfjs';
import { makeBatch, paddedLength, type Batch, type TokenizedExample } from '../batches';
import { DEFAULT_KTO, type KtoSettings } from '../settings';
import { FigureTally, batchSequenceLogps, type MicroBatchLoss, type ObjectiveContext, type ObjectiveFigures, type ObjectiveRoom } from './objective';

export class NotUnpairedDataError extends Error {
  override name = 'NotUnpairedDataError';
}

/** Checks every example carries a boolean label (KTO's {"prompt","completion","label"} lines). */
export function asLabelled(examples: TokenizedExample[], what = 'training'): void {
  const bad = examples.findIndex((e) => typeof e.label !== 'boolean');
  if (bad >= 0) {
    const at = examples[bad].line ? `line ${examples[bad].line}` : `example ${bad + 1}`;
    throw new NotUnpairedDataError(`KTO needs unpaired feedback ({"prompt","completion","label": true|false} lines); ${what} ${at} has no boolean label.`);
  }
}

/** Where the answer starts: the first token carrying loss (the prompt is everything before it). */
export function answerStart(e: TokenizedExample): number {
  const k = e.lossMask.indexOf(1);
  return k < 0 ? e.inputIds.length : k;
}

/** The mismatched rows of the KL estimate: row i's answer after row (i+1) mod B's prompt. */
export function mismatchedRows(rows: TokenizedExample[]): TokenizedExample[] {
  return rows.map((e, i) => {
    const next = rows[(i + 1) % rows.length];
    const p = answerStart(next);
    const a = answerStart(e);
    const answer = e.inputIds.slice(a);
    return { inputIds: [...next.inputIds.slice(0, p), ...answer], lossMask: [...new Array<number>(p).fill(0), ...e.lossMask.slice(a)] };
  });
}

/** The KL estimate z0 from the mismatched rows' log-probs [B] (policy and reference): detached, clamped at 0. */
export function ktoKl(policyKl: ArrayLike<number>, referenceKl: ArrayLike<number>, count = policyKl.length): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += policyKl[i] - referenceKl[i];
  return Math.max(0, sum / count);
}

/**
 * policy, reference: [B] summed answer log-probs; desirable [B] 1 or 0; valid [B] 1 for real rows
 * (padding 0); kl: z0. -> mean loss over valid rows and each row's reward beta * log p/p_ref [B].
 */
export function ktoLoss(policy: tf.Tensor1D, reference: tf.Tensor1D, desirable: tf.Tensor1D, valid: tf.Tensor1D, kl: number, s: KtoSettings): { loss: tf.Scalar; rewards: tf.Tensor1D } {
  return tf.tidy(() => {
    const logratio = tf.sub(policy, reference); // [B]
    const chosen = tf.sub(1, tf.sigmoid(tf.mul(tf.sub(logratio, kl), s.beta))); // [B]
    const rejected = tf.sub(1, tf.sigmoid(tf.mul(tf.sub(kl, logratio), s.beta))); // [B]
    const undesirable = tf.sub(1, desirable);
    const perRow = tf.add(tf.mul(tf.mul(desirable, s.desirableWeight), chosen), tf.mul(tf.mul(undesirable, s.undesirableWeight), rejected)); // [B]
    const loss = tf.div(tf.sum(tf.mul(perRow, valid)), tf.sum(valid)) as tf.Scalar;
    return { loss, rewards: tf.mul(logratio, s.beta) as tf.Tensor1D };
  });
}

/** One micro-batch made ready: the batch, labels and the tensors computed outside the gradient. */
interface Prepared {
  batch: Batch;
  reference: tf.Tensor1D; // [B]
  desirable: tf.Tensor1D; // [B]
  valid: tf.Tensor1D; // [B]
  kl: number;
  labels: boolean[];
  count: number;
  /** Token positions run forward with the adapter: the batch's and the KL batch's. */
  positions: number;
}

export class KtoObjective implements ObjectiveRoom {
  readonly perplexity = false;
  private tally = new FigureTally();
  /** Kept [B] rewards (and the micro-batch they belong to) until stepFigures reads them. */
  private kept: { rewards: tf.Tensor1D; policy: tf.Tensor1D; p: Prepared }[] = [];

  constructor(private readonly ctx: ObjectiveContext) {}

  private get s(): KtoSettings {
    return this.ctx.settings.kto ?? DEFAULT_KTO;
  }

  check(train: TokenizedExample[], validation: TokenizedExample[]): void {
    asLabelled(train);
    asLabelled(validation, 'validation');
    if (this.ctx.settings.batchSize < 2) throw new NotUnpairedDataError('KTO estimates its KL term from mismatched answers within a batch: use --batch 2 or more.');
  }

  /** Everything outside the gradient: reference log-probs and the KL estimate from mismatched rows. */
  private async prepare(rows: TokenizedExample[], count = rows.length): Promise<Prepared> {
    const T = this.ctx.settings.seqLen;
    const batch = makeBatch(rows, paddedLength(rows, T)); // [B, T1]
    const real = rows.slice(0, count);
    const klRows = [...mismatchedRows(real), ...rows.slice(count)];
    const klBatch = makeBatch(klRows, paddedLength(klRows, T)); // [B, T2]: a mismatched row may be longer than either source
    const reference = tf.tidy(() => batchSequenceLogps(this.ctx, batch, null)); // [B]
    const [pk, rk] = tf.tidy(() => [batchSequenceLogps(this.ctx, klBatch, this.ctx.adapter), batchSequenceLogps(this.ctx, klBatch, null)]);
    const [pkd, rkd] = await Promise.all([pk.data(), rk.data()]);
    tf.dispose([pk, rk]);
    const labels = rows.map((r) => r.label === true);
    const desirable = tf.tensor1d(labels.map((l) => (l ? 1 : 0)));
    const valid = tf.tensor1d(rows.map((_, i) => (i < count ? 1 : 0)));
    return { batch, reference, desirable, valid, kl: ktoKl(pkd, rkd, count), labels, count, positions: batch.batchSize * batch.seqLen + klBatch.batchSize * klBatch.seqLen };
  }

  private lossOf(p: Prepared, keep: boolean): tf.Scalar {
    const policy = batchSequenceLogps(this.ctx, p.batch, this.ctx.adapter); // [B]
    const { loss, rewards } = ktoLoss(policy, p.reference, p.desirable, p.valid, p.kl, this.s);
    if (keep) this.kept.push({ rewards: tf.keep(rewards), policy: tf.keep(policy), p });
    return loss;
  }

  async microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss> {
    const p = await this.prepare(rows);
    return { f: () => this.lossOf(p, true), dispose: () => tf.dispose([p.reference, p.desirable, p.valid]), rows: 2 * rows.length, positions: p.positions };
  }

  /** TRL's figures: rewards/chosen, rewards/rejected, rewards/margins, logps/chosen, logps/rejected, kl, count/chosen, count/rejected. */
  private async tallyKept(tally: FigureTally): Promise<void> {
    for (const { rewards, policy, p } of this.kept) {
      const [r, lp] = await Promise.all([rewards.data(), policy.data()]);
      for (let i = 0; i < p.count; i++) {
        const side = p.labels[i] ? 'chosen' : 'rejected';
        tally.add(`rewards_${side}`, r[i]);
        tally.add(`logps_${side}`, lp[i]);
      }
      tally.add('kl', p.kl);
      tf.dispose([rewards, policy]);
    }
    this.kept = [];
  }

  private static figures(t: FigureTally, counts: { chosen: number; rejected: number }): Record<string, number> {
    const f = t.means();
    if (f.rewards_chosen !== undefined && f.rewards_rejected !== undefined) f.rewards_margins = f.rewards_chosen - f.rewards_rejected;
    return { ...f, count_chosen: counts.chosen, count_rejected: counts.rejected };
  }

  async stepFigures(): Promise<ObjectiveFigures> {
    const counts = { chosen: 0, rejected: 0 };
    for (const k of this.kept) for (let i = 0; i < k.p.count; i++) counts[k.p.labels[i] ? 'chosen' : 'rejected']++;
    await this.tallyKept(this.tally);
    const figures = KtoObjective.figures(this.tally, counts);
    this.tally = new FigureTally();
    return { figures };
  }

  async evaluate(examples: TokenizedExample[]): Promise<{ loss: number } & ObjectiveFigures> {
    if (examples.length === 0) return { loss: NaN };
    const B = this.ctx.settings.batchSize;
    const tally = new FigureTally();
    const counts = { chosen: 0, rejected: 0 };
    let sum = 0;
    for (let i = 0; i < examples.length; i += B) {
      const rows = examples.slice(i, i + B);
      const count = rows.length;
      while (rows.length < B) rows.push({ inputIds: [], lossMask: [], label: true }); // B rows, as in training: the KL estimate pairs them
      const p = await this.prepare(rows, count);
      // One policy pass gives the loss, the rewards and the log-probs.
      const { l, policy, rewards } = tf.tidy(() => {
        const lp = batchSequenceLogps(this.ctx, p.batch, this.ctx.adapter); // [B]
        const { loss, rewards: r } = ktoLoss(lp, p.reference, p.desirable, p.valid, p.kl, this.s);
        return { l: loss, policy: lp, rewards: r };
      });
      this.kept.push({ rewards, policy, p });
      for (let j = 0; j < count; j++) counts[p.labels[j] ? 'chosen' : 'rejected']++;
      await this.tallyKept(tally);
      sum += (await l.data())[0] * count;
      tf.dispose([l, p.reference, p.desirable, p.valid]);
    }
    return { loss: sum / examples.length, figures: KtoObjective.figures(tally, counts) };
  }

  /** A fresh adapter's first loss is 0.5 (the weights' sum when labels are balanced): measure against that at least. */
  divergenceReference(first: number): number {
    return Math.max(first, 0.5);
  }
}
