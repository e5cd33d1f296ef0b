// Preference pairs for DPO: one prompt, a better answer ("chosen") and a worse one ("rejected"),
// rendered for training. Each side renders like an ordinary example (the prompt-completion or
// messages path, with the model's chat template), so only answer tokens carry loss. The lines are
// read and validated by preference-lines.ts.
import { preferenceSide, type PreferenceRecord } from './record-shapes';
import { fitLength, renderExample, type OverflowPolicy, type RenderOptions, type RenderedExample } from './render';
import type { TextTokenizer } from '../tokenizer/tokenizer';

/** Tokens and loss mask of one answer (RenderedExample's fields, without the line and text). */
export interface TokenizedAnswer {
  inputIds: number[];
  lossMask: number[];
}

/** Both sides rendered: the chosen side as the example itself, the rejected one beside it. */
export type RenderedPair = RenderedExample & { rejected: TokenizedAnswer };

function commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * Renders both sides. A prompt holding assistant turns of its own would put loss on them (the
 * messages path trains every assistant turn), so then the tokens both sides share are unmasked:
 * they have equal log-probabilities in both, so the DPO loss does not change, only the rewards shift alike.
 */
export function renderPreference(rec: PreferenceRecord, tokenizer: TextTokenizer, line: number, opts: RenderOptions = {}): RenderedPair {
  const chosen = renderExample(preferenceSide(rec, 'chosen'), tokenizer, line, opts);
  const rejected = renderExample(preferenceSide(rec, 'rejected'), tokenizer, line, opts);
  if (rec.kind === 'chat' && rec.prompt.some((m) => m.role === 'assistant') && !opts.trainOnPrompt) {
    const shared = commonPrefix(chosen.inputIds, rejected.inputIds);
    for (let t = 0; t < shared; t++) chosen.lossMask[t] = rejected.lossMask[t] = 0;
  }
  return { ...chosen, rejected: { inputIds: rejected.inputIds, lossMask: rejected.lossMask } };
}

/** The length policy on a pair: both sides must survive it, or the pair is dropped. */
export function fitPairLength(pair: RenderedPair, maxLength: number | undefined, overflow: OverflowPolicy): { example: RenderedPair | null; truncated: boolean } {
  const c = fitLength(pair, maxLength, overflow);
  const r = fitLength({ line: pair.line, ...pair.rejected }, maxLength, overflow);
  if (!c.example || !r.example) return { example: null, truncated: c.truncated || r.truncated };
  return { example: { ...c.example, rejected: { inputIds: r.example.inputIds, lossMask: r.example.lossMask } }, truncated: c.truncated || r.truncated };
}
