// Preference pairs for DPO: one prompt, a better answer ("chosen") and a worse one ("rejected").
// Two line shapes, as TRL reads them: strings ({"prompt","chosen","rejected"}), and conversational
// (chosen/rejected as message lists, the prompt a string, a message list, or left out when both
// conversations share their opening turns). Each side renders like an ordinary example (the
// prompt-completion or messages path, with the model's chat template), so only answer tokens carry loss.
import { DatasetLineError, MESSAGE_ROLES, isObject, typeName, type ChatMessage, type DatasetRecord } from './formats';
import { fitLength, renderExample, type OverflowPolicy, type RenderOptions, type RenderedExample } from './render';
import type { TextTokenizer } from '../tokenizer/tokenizer';

export type PreferenceRecord =
  | { format: 'preference'; kind: 'text'; prompt: string; chosen: string; rejected: string }
  /** prompt: the shared opening turns (explicit, or the common leading turns of both conversations). */
  | { format: 'preference'; kind: 'chat'; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };

export type PreferenceSide = 'chosen' | 'rejected';

function turns(v: unknown, line: number, field: string): ChatMessage[] {
  if (!Array.isArray(v)) throw new DatasetLineError(line, `field "${field}" must be a string or a list of messages, found ${typeName(v)}`, field);
  return v.map((turn: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(turn)) throw new DatasetLineError(line, `${at} must be an object like {"role": "assistant", "content": "..."}, found ${typeName(turn)}`, at);
    const role = typeof turn.role === 'string' ? MESSAGE_ROLES[turn.role] : undefined;
    if (!role) throw new DatasetLineError(line, `${at}.role must be one of ${Object.keys(MESSAGE_ROLES).join(', ')}, found ${JSON.stringify(turn.role ?? null)}`, `${at}.role`);
    if (typeof turn.content !== 'string') throw new DatasetLineError(line, `${at}.content must be a string, found ${typeName(turn.content)}`, `${at}.content`);
    if (role !== 'system' && turn.content.trim() === '') throw new DatasetLineError(line, `${at}.content is empty`, `${at}.content`);
    return { role, content: turn.content };
  });
}

const sameTurn = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

/** Validates one preference line; the first problem found is thrown as a DatasetLineError naming its field. */
export function validatePreference(v: Record<string, unknown>, line: number): PreferenceRecord {
  for (const f of ['chosen', 'rejected'] as const) if (!(f in v)) throw new DatasetLineError(line, `missing field "${f}"`, f);
  const { chosen, rejected, prompt } = v;
  if (typeof chosen === 'string' || typeof rejected === 'string') {
    for (const [f, x] of [['chosen', chosen], ['rejected', rejected]] as const) {
      if (typeof x !== 'string') throw new DatasetLineError(line, `field "${f}" must be a string like the other answer, found ${typeName(x)}`, f);
      if (x.trim() === '') throw new DatasetLineError(line, `field "${f}" is empty`, f);
    }
    if (prompt === undefined) throw new DatasetLineError(line, 'missing field "prompt" (text answers need the prompt they answer)', 'prompt');
    if (typeof prompt !== 'string') throw new DatasetLineError(line, `field "prompt" must be a string when the answers are strings, found ${typeName(prompt)}`, 'prompt');
    if (chosen === rejected) throw new DatasetLineError(line, 'fields "chosen" and "rejected" are the same: nothing to prefer', 'rejected');
    return { format: 'preference', kind: 'text', prompt, chosen: chosen as string, rejected: rejected as string };
  }
  let c = turns(chosen, line, 'chosen');
  let r = turns(rejected, line, 'rejected');
  let p: ChatMessage[];
  if (prompt === undefined) {
    // Implicit prompt: the turns both conversations open with.
    let k = 0;
    while (k < c.length && k < r.length && sameTurn(c[k], r[k])) k++;
    p = c.slice(0, k);
    c = c.slice(k);
    r = r.slice(k);
  } else p = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : turns(prompt, line, 'prompt');
  for (const [f, x] of [['chosen', c], ['rejected', r]] as const) {
    if (x.length === 0) throw new DatasetLineError(line, `"chosen" and "rejected" are the same conversation: nothing to prefer`, f);
    if (!x.some((m) => m.role === 'assistant')) throw new DatasetLineError(line, `field "${f}" has no assistant turn after the prompt: nothing to learn from`, f);
  }
  if (c.length === r.length && c.every((m, i) => sameTurn(m, r[i]))) throw new DatasetLineError(line, 'fields "chosen" and "rejected" are the same: nothing to prefer', 'rejected');
  return { format: 'preference', kind: 'chat', prompt: p, chosen: c, rejected: r };
}

/** One side of a pair as an ordinary record: the prompt followed by that answer. */
export function preferenceSide(rec: PreferenceRecord, side: PreferenceSide): DatasetRecord {
  return rec.kind === 'text'
    ? { format: 'prompt-completion', prompt: rec.prompt, completion: rec[side] }
    : { format: 'messages', messages: [...rec.prompt, ...rec[side]] };
}

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
