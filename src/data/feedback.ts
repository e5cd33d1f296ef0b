// People's feedback on generated answers, and its conversion to TRL's training formats: preference
// pairs {"prompt","chosen","rejected"} for DPO and unpaired rows {"prompt","completion","label"}
// for KTO. Pure: the page stores the records (src/storage/feedback-store.ts) and downloads the lines.

/** Where one answer came from, so a rating can be traced to the model that earned it. */
export interface RatedAnswer {
  text: string;
  /** 'base': the adapter switched off; 'tuned': with the adapter named in the record. */
  from: 'base' | 'tuned';
  temperature: number;
  seed: number;
}

/** A verdict on two answers to one prompt. */
export type PairVerdict = 'a' | 'b' | 'tie' | 'both-bad';
/** A verdict on one answer. */
export type ThumbVerdict = 'up' | 'down';

interface FeedbackBase {
  id: string;
  prompt: string;
  /** The prompt was sent as one user turn through the chat template (the answers are assistant turns). */
  chat: boolean;
  /** The model's source (repo id or URL) and the adapter in use, if any (a short description). */
  modelSource: string;
  adapter: string | null;
  createdAtMs: number;
}

export type FeedbackRecord =
  | (FeedbackBase & { kind: 'pair'; a: RatedAnswer; b: RatedAnswer; verdict: PairVerdict })
  | (FeedbackBase & { kind: 'single'; answer: RatedAnswer; verdict: ThumbVerdict; /** A better answer written by the person ('' for none). */ correction: string });

export const PAIR_VERDICTS: { value: PairVerdict; label: string; key: string }[] = [
  { value: 'a', label: 'A is better', key: '1' },
  { value: 'b', label: 'B is better', key: '2' },
  { value: 'tie', label: 'Tie', key: '3' },
  { value: 'both-bad', label: 'Both bad', key: '4' },
];

type Message = { role: 'user' | 'assistant'; content: string };
/** TRL's standard (text) or conversational (message lists) shape, chosen per record by its chat flag. */
type PromptField = string | Message[];
type AnswerField = string | Message[];

export interface PreferencePairRow {
  prompt: PromptField;
  chosen: AnswerField;
  rejected: AnswerField;
}

export interface UnpairedRow {
  prompt: PromptField;
  completion: AnswerField;
  label: boolean;
}

/**
 * The answer without the prompt it continues. The engine shows a plain prompt's continuation with
 * the prompt in front (a chat reply comes alone); TRL's rows keep the two apart.
 */
export function answerOnly(prompt: string, text: string, chat: boolean): string {
  if (chat) return text;
  return text.startsWith(prompt) ? text.slice(prompt.length) : text;
}

const promptField = (r: FeedbackRecord): PromptField => (r.chat ? [{ role: 'user', content: r.prompt }] : r.prompt);
const answerField = (r: FeedbackRecord, text: string): AnswerField => (r.chat ? [{ role: 'assistant', content: text }] : text);
/** An answer a trainer can learn from: the dataset reader refuses empty answers. */
const usable = (text: string) => text.trim() !== '';

/**
 * Preference pairs: A/B verdicts (the winner chosen, the loser rejected) and thumbs-down answers
 * with a correction (the correction chosen). Ties, both-bad, identical or empty answers give nothing.
 */
export function toPreferencePairs(records: readonly FeedbackRecord[]): PreferencePairRow[] {
  const rows: PreferencePairRow[] = [];
  const pair = (r: FeedbackRecord, chosen: string, rejected: string) => {
    if (!usable(chosen) || !usable(rejected) || chosen === rejected) return;
    rows.push({ prompt: promptField(r), chosen: answerField(r, chosen), rejected: answerField(r, rejected) });
  };
  for (const r of records) {
    if (r.kind === 'pair') {
      if (r.verdict === 'a') pair(r, r.a.text, r.b.text);
      else if (r.verdict === 'b') pair(r, r.b.text, r.a.text);
    } else if (r.verdict === 'down' && usable(r.correction)) pair(r, r.correction, r.answer.text);
  }
  return rows;
}

/**
 * Unpaired rows (KTO): a thumb gives one row (a correction adds it as a good answer); a pair verdict
 * gives the winner true and the loser false; both-bad gives two false rows; a tie gives nothing.
 */
export function toUnpairedRows(records: readonly FeedbackRecord[]): UnpairedRow[] {
  const rows: UnpairedRow[] = [];
  const row = (r: FeedbackRecord, text: string, label: boolean) => {
    if (usable(text)) rows.push({ prompt: promptField(r), completion: answerField(r, text), label });
  };
  for (const r of records) {
    if (r.kind === 'single') {
      row(r, r.answer.text, r.verdict === 'up');
      if (usable(r.correction) && r.correction !== r.answer.text) row(r, r.correction, true);
      continue;
    }
    switch (r.verdict) {
      case 'a':
        row(r, r.a.text, true);
        row(r, r.b.text, false);
        break;
      case 'b':
        row(r, r.a.text, false);
        row(r, r.b.text, true);
        break;
      case 'both-bad':
        row(r, r.a.text, false);
        row(r, r.b.text, false);
        break;
      case 'tie':
        break;
      default:
        assertNever(r);
    }
  }
  return rows;
}

function assertNever(x: never): never {
  throw new Error(`Unexpected feedback record ${JSON.stringify(x)}`);
}

/** One JSON object per line, each line ending in a newline (an empty list is an empty file). */
export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

export const FEEDBACK_PAIRS_FILE = 'feedback-pairs.jsonl';
export const FEEDBACK_UNPAIRED_FILE = 'feedback-unpaired.jsonl';
/** DPO needs pairs to learn from, and the dataset split keeps some for validation. */
export const MIN_TRAINING_PAIRS = 2;
