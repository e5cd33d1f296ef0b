// The Evaluate view's figures in one pure function over a loaded model, its tokenizer, the tuned
// adapter and the held-out examples: held-out loss base vs tuned, loss on general text (forgetting),
// and side-by-side greedy generations with scores. The worker and `npm run eval` both call this,
// so the page and the command line print the same numbers for the same run.
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from '../train/lora';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TokenizedExample } from '../train/batches';
import { stopTokenIds } from '../tokenizer/stop-tokens';
import { heldOutLoss, type LossFigures } from './heldout';
import { LossMemo } from './loss-memo';
import { generalTextExamples } from './general-text';
import { evalPrompts, generateSideBySide, type EvalPrompt, type GeneratedText, type GenerationScores } from './generations';

export interface EvalOptions {
  /** Tokens per row (T) for the losses: the run's sequence length, so figures match its eval loss. */
  seqLen: number;
  /** Rows per forward pass for the losses (does not change the figures, only memory). */
  batchSize: number;
  /** Validation prompts for side-by-side generations. */
  prompts: number;
  maxNewTokens: number;
  /** General text for the forgetting check (paragraphs); none skips it. */
  generalText?: string;
  /** Adapter strength for the tuned generations (the losses always use 1). */
  strength?: number;
}

export const DEFAULT_EVAL_OPTIONS: EvalOptions = {
  seqLen: 128, // the page's default training sequence length
  batchSize: 4,
  prompts: 4, // enough to see a pattern, quick on a laptop
  maxNewTokens: 32, // long enough to see a style, short enough to wait for
};

export interface GenerationRow extends EvalPrompt {
  base: GeneratedText;
  tuned: GeneratedText;
}

export interface ScoreTotals {
  exact: number;
  startsLike: number;
  stopped: number;
  of: number;
}

export interface EvalSummary {
  heldOut: { base: LossFigures; tuned: LossFigures; examples: number } | null;
  /** Forgetting: tuned minus base loss on general text (positive = worse at ordinary text). */
  general: { base: LossFigures; tuned: LossFigures; change: number; changePercent: number; paragraphs: number } | null;
  generations: GenerationRow[];
  scores: { base: ScoreTotals; tuned: ScoreTotals };
  strength: number;
}

export type EvalPhase = 'held-out loss' | 'general text' | 'generations';

export function totals(rows: { scores: GenerationScores }[]): ScoreTotals {
  return {
    exact: rows.filter((r) => r.scores.exact).length,
    startsLike: rows.filter((r) => r.scores.startsLike).length,
    stopped: rows.filter((r) => r.scores.stopped).length,
    of: rows.length,
  };
}

async function withStrength<T>(adapter: LoraAdapter, strength: number, f: () => Promise<T>): Promise<T> {
  const before = adapter.strength;
  adapter.strength = strength;
  try {
    return await f();
  } finally {
    adapter.strength = before;
  }
}

/** Generations only, tuned at `strength` (the slider), base alongside. */
export async function compareGenerations(model: LlamaModel, tok: TextTokenizer, adapter: LoraAdapter, validation: TokenizedExample[], o: EvalOptions, onRow?: (done: number, total: number) => void): Promise<GenerationRow[]> {
  // Where generation stops everywhere else (every eos id of the config, the tokenizer's, the template's end of turn).
  const stops = new Set(stopTokenIds(model.config.eosTokenIds, tok));
  const prompts = evalPrompts(validation, tok, stops, o.prompts);
  const rows: GenerationRow[] = [];
  for (const p of prompts) {
    // Base and tuned decoded side by side: each frozen weight read once per token for both columns.
    const [base, tuned] = await withStrength(adapter, o.strength ?? 1, () => generateSideBySide(model, [null, adapter], tok, p, stops, o.maxNewTokens));
    rows.push({ ...p, base, tuned });
    onRow?.(rows.length, prompts.length);
  }
  return rows;
}

export async function evaluateAdapter(
  model: LlamaModel,
  tok: TextTokenizer,
  adapter: LoraAdapter,
  validation: TokenizedExample[],
  o: EvalOptions,
  onProgress?: (phase: EvalPhase, done: number, total: number) => void,
  /** Losses already measured (the trainer's last evaluation, an earlier Evaluate's base): not measured again. */
  memo: LossMemo = new LossMemo(),
): Promise<EvalSummary> {
  const adapterWasTraining = adapter.training;
  adapter.training = false; // no dropout when measuring
  // The losses always use strength 1; the base's do not change with the adapter.
  const loss = (lora: LoraAdapter | null, examples: TokenizedExample[], key: object | string) =>
    memo.measure(lora ?? model, key, o.seqLen, () => (lora ? withStrength(lora, 1, () => heldOutLoss(model, lora, examples, o.seqLen, o.batchSize)) : heldOutLoss(model, null, examples, o.seqLen, o.batchSize)));
  try {
    let heldOut: EvalSummary['heldOut'] = null;
    if (validation.length > 0) {
      onProgress?.('held-out loss', 0, 2);
      const base = await loss(null, validation, validation);
      onProgress?.('held-out loss', 1, 2);
      const tuned = await loss(adapter, validation, validation);
      heldOut = { base, tuned, examples: validation.length };
    }
    let general: EvalSummary['general'] = null;
    const paragraphs = o.generalText ? generalTextExamples(o.generalText, tok) : [];
    if (paragraphs.length > 0) {
      onProgress?.('general text', 0, 2);
      const base = await loss(null, paragraphs, o.generalText!);
      onProgress?.('general text', 1, 2);
      const tuned = await loss(adapter, paragraphs, o.generalText!);
      general = { base, tuned, change: tuned.loss - base.loss, changePercent: (100 * (tuned.loss - base.loss)) / base.loss, paragraphs: paragraphs.length };
    }
    const generations = await compareGenerations(model, tok, adapter, validation, o, (d, t) => onProgress?.('generations', d, t));
    return { heldOut, general, generations, scores: { base: totals(generations.map((g) => g.base)), tuned: totals(generations.map((g) => g.tuned)) }, strength: o.strength ?? 1 };
  } finally {
    adapter.training = adapterWasTraining;
  }
}
