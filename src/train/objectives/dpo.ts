// The trainer's DPO room: pairs travel as [2P, T] (chosen rows, then rejected rows); the reference
// log-probs come first, outside the gradient (the base alone). The loss itself is src/train/dpo.ts.
import * as tf from '@tensorflow/tfjs';
import type { Batch, TokenizedExample } from '../batches';
import { DEFAULT_DPO, DpoTally, asPairs, dpoLoss, pairBatch, sequenceLogProbs } from '../dpo';
import { adaptedLogits, type TrainableAdapter } from '../trainable';
import type { MicroBatchLoss, ObjectiveContext, ObjectiveFigures, ObjectiveRoom } from './objective';

export class DpoObjective implements ObjectiveRoom {
  readonly perplexity = false;
  /** Kept [2, P] chosen/rejected rewards of the micro-batches since the last stepFigures. */
  private rewards: tf.Tensor[] = [];

  constructor(private readonly ctx: ObjectiveContext) {}

  check(train: TokenizedExample[], validation: TokenizedExample[]): void {
    asPairs(train);
    asPairs(validation, 'validation');
  }

  /** Summed answer log-probs per row [R], with the adapter or (null) without it: the DPO reference. */
  private sequenceLogps(b: Batch, adapter: TrainableAdapter | null): tf.Tensor1D {
    const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
    const logits = adaptedLogits(this.ctx.model, ids, adapter); // [R*T, V]
    return sequenceLogProbs(logits, tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights), b.batchSize);
  }

  /** The DPO loss of a pair batch; `rewards` receives each call's [2, P] chosen/rejected rewards. */
  private lossFn(b: Batch, rewards: tf.Tensor[], count?: number): { f: () => tf.Scalar; dispose: () => void } {
    const reference = tf.tidy(() => this.sequenceLogps(b, null)); // [2P]
    const beta = this.ctx.settings.dpoBeta ?? DEFAULT_DPO.beta;
    return {
      f: () => {
        const { loss, chosen, rejected } = dpoLoss(this.sequenceLogps(b, this.ctx.adapter), reference, beta, count);
        rewards.push(tf.keep(tf.stack([chosen, rejected]))); // [2, P]
        return loss;
      },
      dispose: () => reference.dispose(),
    };
  }

  async microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss> {
    const b = pairBatch(rows, this.ctx.settings.seqLen);
    const { f, dispose } = this.lossFn(b, this.rewards);
    return { f, dispose, rows: 2 * rows.length, positions: 2 * rows.length * b.seqLen };
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

  async stepFigures(): Promise<ObjectiveFigures> {
    const tally = new DpoTally();
    await this.tallyRewards(this.rewards, tally);
    return { dpo: tally.metrics() };
  }

  /** Mean DPO loss and the reward metrics over preference pairs, without gradients. */
  async evaluate(pairs: TokenizedExample[]): Promise<{ loss: number } & ObjectiveFigures> {
    const B = this.ctx.settings.batchSize;
    const tally = new DpoTally();
    let sum = 0;
    for (let i = 0; i < pairs.length; i += B) {
      const rows = pairs.slice(i, i + B);
      const count = rows.length;
      while (rows.length < B) rows.push({ inputIds: [], lossMask: [], rejected: { inputIds: [], lossMask: [] } }); // B pairs, as in training
      const rewards: tf.Tensor[] = [];
      const { f, dispose } = this.lossFn(pairBatch(rows, this.ctx.settings.seqLen), rewards, count);
      const l = tf.tidy(f);
      dispose();
      sum += (await l.data())[0] * count;
      l.dispose();
      await this.tallyRewards(rewards, tally, count);
    }
    return { loss: pairs.length > 0 ? sum / pairs.length : NaN, dpo: tally.metrics() };
  }

  /**
   * DPO's first loss is ln 2 when the adapter starts equal to the base (LoRA) but can be far lower for
   * a soft prompt that starts random, so the reference is at least ln 2 (the loss of a policy that
   * ranks pairs like the reference does).
   */
  divergenceReference(first: number): number {
    return Math.max(first, Math.LN2);
  }
}
