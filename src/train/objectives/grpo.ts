// GRPO (Shao et al. 2024, DeepSeekMath), as TRL's GRPOTrainer computes it with loss_type 'grpo' and
// one optimisation pass per batch of samples:
//   per prompt, G completions sampled from the policy; reward r_i from a function;
//   A_i = (r_i - mean(group)) / (std(group) + 1e-4)                 (std with Bessel's correction)
//   per token: -min(rho * A, clip(rho, 1-eps, 1+eps) * A) + beta * (e^(ref-logp) - (ref-logp) - 1)
//   rho = p / p_old (= 1 in value, its gradient that of log p); loss = mean over completions of the
//   mean over their tokens. The reference is the base with the adapter switched off.
import * as tf from '@tensorflow/tfjs';
import { generateRows } from '../../model/generate-rows';
import { LoraAdapter } from '../lora';
import { makeBatch, paddedLength, type TokenizedExample } from '../batches';
import { DEFAULT_GRPO, type GrpoSettings } from '../settings';
import type { RewardScorer } from './reward';
import { FigureTally, batchTokenLogps, type MicroBatchLoss, type ObjectiveContext, type ObjectiveFigures, type ObjectiveRoom } from './objective';

export class GrpoDataError extends Error {
  override name = 'GrpoDataError';
}

/** What GRPO needs of the tokenizer: the end-of-sequence id (sampling stops there) and decoding. */
export interface CompletionText {
  eosTokenId: number | null;
  decode(ids: number[]): string;
}

/**
 * GRPO's rows from the loaded examples: each plain-text prompt alone, tokenized as a prompt/completion
 * example's prompt is (the tokenizer's BOS, no chat template), with its source row for the reward.
 * Examples without a prompt text (chat, alpaca, preference rows) are refused: GRPO reads prompts.
 */
export function grpoPromptRows(examples: TokenizedExample[], tokenizer: { encode(text: string, o: { addSpecialTokens: boolean }): number[] }): TokenizedExample[] {
  const missing = examples.find((e) => typeof e.prompt !== 'string');
  if (missing) throw new GrpoDataError(`GRPO samples answers to plain-text prompts: load prompt rows ({"prompt": "..."}) or prompt/completion rows (line ${missing.line ?? '?'} has no prompt text).`);
  return examples.map((e) => {
    const inputIds = tokenizer.encode(e.prompt!, { addSpecialTokens: true }); // [P]
    return { inputIds, lossMask: new Array<number>(inputIds.length).fill(0), prompt: e.prompt, row: e.row ?? {}, ...(e.line !== undefined ? { line: e.line } : {}) };
  });
}

/** Group-normalised advantages, as TRL computes them (Bessel-corrected std; a group of 1 has std NaN -> advantage NaN). */
export function groupAdvantages(rewards: number[], G: number): { advantages: number[]; groupStd: number[] } {
  if (rewards.length % G !== 0) throw new Error(`groupAdvantages: ${rewards.length} rewards are not groups of ${G}`);
  const advantages: number[] = [];
  const groupStd: number[] = [];
  for (let g = 0; g < rewards.length; g += G) {
    const group = rewards.slice(g, g + G);
    const mean = group.reduce((a, b) => a + b, 0) / G;
    const std = Math.sqrt(group.reduce((a, r) => a + (r - mean) ** 2, 0) / (G - 1));
    groupStd.push(std);
    for (const r of group) advantages.push((r - mean) / (std + 1e-4));
  }
  return { advantages, groupStd };
}

/** Standard deviation with Bessel's correction (TRL's reward_std). */
export function sampleStd(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
}

/** A tensor's value with no gradient through it (torch's detach). */
export const detach = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * logp, oldLogp, refLogp, mask: [R, T]; advantages [R]. -> the loss, and the per-token k3 KL [R, T]
 * and clipped flags (for the figures).
 */
export function grpoLoss(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, refLogp: tf.Tensor2D, mask: tf.Tensor2D, advantages: tf.Tensor1D, s: Pick<GrpoSettings, 'epsilon' | 'beta'>): { loss: tf.Scalar; kl: tf.Tensor2D } {
  return tf.tidy(() => {
    const A = tf.expandDims(advantages, 1); // [R, 1]
    const ratio = tf.exp(tf.sub(logp, oldLogp)); // [R, T]
    const clipped = tf.clipByValue(ratio, 1 - s.epsilon, 1 + s.epsilon);
    let perToken = tf.neg(tf.minimum(tf.mul(ratio, A), tf.mul(clipped, A))); // [R, T]
    const d = tf.sub(refLogp, logp);
    const kl = tf.sub(tf.sub(tf.exp(d), d), 1) as tf.Tensor2D; // [R, T] k3 estimator, >= 0
    if (s.beta !== 0) perToken = tf.add(perToken, tf.mul(kl, s.beta));
    const perRow = tf.div(tf.sum(tf.mul(perToken, mask), 1), tf.maximum(tf.sum(mask, 1), 1)); // [R]
    return { loss: tf.mean(perRow) as tf.Scalar, kl };
  });
}

export class GrpoObjective implements ObjectiveRoom {
  readonly perplexity = false;
  readonly evaluates = false;
  private tally = new FigureTally();
  private kept: { kl: tf.Tensor2D; mask: tf.Tensor2D }[] = [];
  /** Completions sampled so far in the current optimizer step (each gets its own seed). */
  private sampled = { step: -1, count: 0 };

  constructor(
    private readonly ctx: ObjectiveContext,
    private readonly reward: RewardScorer,
    private readonly text: CompletionText,
    /** Called with each micro-batch's rewards and their data lines (the CLI's preflight reads the first). */
    private readonly onRewards?: (rewards: number[], lines: number[]) => void,
  ) {}

  private get s(): GrpoSettings {
    return this.ctx.settings.grpo ?? DEFAULT_GRPO;
  }

  check(train: TokenizedExample[]): void {
    if (!(this.ctx.adapter instanceof LoraAdapter)) throw new GrpoDataError('GRPO trains LoRA adapters only (its reference is the base with the adapter switched off).');
    if (this.s.numGenerations < 2) throw new GrpoDataError('GRPO needs --num-generations 2 or more: advantages compare completions of the same prompt.');
    for (const e of train) {
      if (typeof e.prompt !== 'string') throw new GrpoDataError(`GRPO needs prompt rows ({"prompt": "..."} lines); line ${e.line ?? '?'} has none.`);
      if (e.inputIds.length >= this.ctx.settings.seqLen) throw new GrpoDataError(`line ${e.line ?? '?'}: the prompt takes ${e.inputIds.length} tokens of --max-len ${this.ctx.settings.seqLen}: no room left for a completion.`);
    }
  }

  /** A seed per completion from (run seed, step, index in the step): a resumed run samples exactly as an uninterrupted one. */
  private nextSeed(): number {
    const step = this.ctx.step();
    if (this.sampled.step !== step) this.sampled = { step, count: 0 };
    return (Math.imul(this.ctx.settings.seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b) ^ this.sampled.count++) >>> 0;
  }

  /** G sampled completions per prompt, each a token list (with the EOS when sampling stopped there). */
  private async sample(rows: TokenizedExample[]): Promise<number[][]> {
    const adapter = this.ctx.adapter as LoraAdapter;
    const training = adapter.training;
    adapter.training = false; // no dropout while sampling
    const eos = this.text.eosTokenId;
    const out: number[][] = [];
    try {
      for (const row of rows) {
        const room = this.ctx.settings.seqLen + 1 - row.inputIds.length;
        const maxNew = Math.min(this.s.maxNewTokens, room);
        // The group decodes side by side: every frozen weight read once per token for all G samples.
        const seeds = Array.from({ length: this.s.numGenerations }, () => this.nextSeed());
        const group = await generateRows(this.ctx.model, row.inputIds, seeds.map(() => adapter), { maxNewTokens: maxNew, temperature: this.s.temperature, seeds, stopIds: eos === null ? [] : [eos] });
        for (const ids of group) out.push(ids.length < maxNew && eos !== null ? [...ids, eos] : ids);
      }
    } finally {
      adapter.training = training;
    }
    return out;
  }

  async microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss> {
    const G = this.s.numGenerations;
    const completions = await this.sample(rows);
    const eos = this.text.eosTokenId;
    const inputs = completions.map((c, i) => ({ prompt: rows[Math.floor(i / G)].prompt ?? '', completion: this.text.decode(c.filter((t) => t !== eos)), row: rows[Math.floor(i / G)].row ?? {} }));
    const lines = completions.map((_, i) => rows[Math.floor(i / G)].line ?? 0);
    const rewards = await this.reward.score(inputs, lines);
    this.onRewards?.(rewards, lines);
    const { advantages, groupStd } = groupAdvantages(rewards, G);
    const seqs: TokenizedExample[] = completions.map((c, i) => {
      const p = rows[Math.floor(i / G)].inputIds;
      return { inputIds: [...p, ...c], lossMask: [...new Array<number>(p.length).fill(0), ...new Array<number>(c.length).fill(1)] };
    });
    // As long as the longest prompt + completion (rounded up to 64), not the run's max length: the
    // loss is a mean over each completion's own tokens, so padding only cost time.
    const b = makeBatch(seqs, paddedLength(seqs, this.ctx.settings.seqLen)); // [B*G, T]
    const R = seqs.length;
    const refLogp = tf.tidy(() => batchTokenLogps(this.ctx, b, null)); // [R, T]
    const mask = tf.tensor2d(b.weights, [R, b.seqLen]);
    const adv = tf.tensor1d(advantages);
    this.tally.add('reward', rewards.reduce((a, x) => a + x, 0) / R);
    this.tally.add('reward_std', sampleStd(rewards));
    this.tally.add('frac_reward_zero_std', groupStd.filter((s) => s < 1e-8).length / groupStd.length);
    this.tally.add('completion_length', completions.reduce((a, c) => a + c.length, 0) / R);
    const f = () => {
      const logp = batchTokenLogps(this.ctx, b, this.ctx.adapter); // [R, T]
      const { loss, kl } = grpoLoss(logp, detach(logp) as tf.Tensor2D, refLogp, mask, adv, this.s);
      this.kept.push({ kl: tf.keep(kl), mask: tf.keep(tf.clone(mask)) });
      return loss;
    };
    return { f, dispose: () => tf.dispose([refLogp, adv, mask]), rows: R, positions: R * b.seqLen };
  }

  /** TRL's per-step figures: reward, reward_std, kl (token mean of the k3 estimate), completion_length, frac_reward_zero_std. */
  async stepFigures(): Promise<ObjectiveFigures> {
    for (const { kl, mask } of this.kept) {
      const [k, m] = await Promise.all([kl.data(), mask.data()]);
      let sum = 0;
      let n = 0;
      for (let i = 0; i < k.length; i++) {
        sum += k[i] * m[i];
        n += m[i];
      }
      if (n > 0) this.tally.add('kl', sum / n, n);
      tf.dispose([kl, mask]);
    }
    this.kept = [];
    const figures = this.tally.means();
    this.tally = new FigureTally();
    return { figures };
  }

  /** Sampling is the evaluation of a policy-gradient run; a validation loss would mean nothing. */
  async evaluate(): Promise<{ loss: number }> {
    return { loss: NaN };
  }

  /** The GRPO loss starts near 0 and can change sign: only a non-finite loss stops the run. */
  divergenceReference(): number {
    return Infinity;
  }
}
