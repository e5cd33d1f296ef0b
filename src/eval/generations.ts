// Side-by-side generations on validation prompts: each held-out example is split into its prompt
// (the untrained tokens, or its first few tokens for plain text) and its reference answer, then
// the base and the tuned model continue the prompt greedily. Scores a person understands.
import type { LlamaModel, LoraHook } from '../model/llama';
import { generateRows } from '../model/generate-rows';
import { chatTurns, type ChatTurn } from '../data/chat-turns';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TokenizedExample } from '../train/batches';

/** Tokens a plain-text example (everything trained) gives as its prompt, as the training samples do. */
export const TEXT_PROMPT_TOKENS = 6;
/** "Starts like the reference": the first this-many words agree. */
export const START_WORDS = 5;

export interface EvalPrompt {
  /** Index of the example in the validation set. */
  index: number;
  line?: number;
  promptIds: number[];
  prompt: string;
  /** A chat-rendered prompt's turns (absent for plain text), shown instead of the flattened template. */
  turns?: ChatTurn[];
  /** The dataset's own answer (stop tokens left out). */
  reference: string;
}

export interface GenerationScores {
  /** The continuation equals the reference (whitespace at the ends ignored). */
  exact: boolean;
  /** The first START_WORDS words equal the reference's. */
  startsLike: boolean;
  /** Ended with a stop token before the token limit. */
  stopped: boolean;
}

export interface GeneratedText {
  /** The continuation only (the prompt is in EvalPrompt). */
  text: string;
  tokens: number;
  scores: GenerationScores;
}

/** Up to `n` prompts from the validation examples. */
export function evalPrompts(examples: (TokenizedExample & { line?: number })[], tok: TextTokenizer, stopIds: Set<number>, n: number): EvalPrompt[] {
  const out: EvalPrompt[] = [];
  for (let i = 0; i < examples.length && out.length < n; i++) {
    const e = examples[i];
    let k = 0;
    while (k < e.inputIds.length && !e.lossMask[k]) k++;
    if (k < TEXT_PROMPT_TOKENS) {
      // Plain text: a few tokens, moved on to the next word start so no word is cut in two.
      k = Math.min(TEXT_PROMPT_TOKENS, e.inputIds.length - 1);
      for (let j = k; j < Math.min(k + 8, e.inputIds.length - 1); j++) {
        if (/^[▁Ġ ]/.test(tok.idToToken(e.inputIds[j]) ?? '')) {
          k = j;
          break;
        }
      }
    }
    if (k <= 0 || k >= e.inputIds.length) continue;
    const promptIds = e.inputIds.slice(0, k);
    const refIds = e.inputIds.slice(k).filter((id) => !stopIds.has(id));
    const turns = chatTurns(tok, promptIds);
    out.push({ index: i, line: e.line, promptIds, prompt: tok.decode(promptIds), ...(turns ? { turns } : {}), reference: continuation(tok, promptIds, refIds) });
  }
  return out;
}

/** The text the new ids add after the prompt (decoded together: byte tokens only form characters together). */
function continuation(tok: TextTokenizer, promptIds: number[], ids: number[]): string {
  return tok.decode([...promptIds, ...ids]).slice(tok.decode(promptIds).length);
}

const words = (s: string) => s.trim().split(/\s+/).filter(Boolean);

export function scoreGeneration(text: string, reference: string, stopped: boolean): GenerationScores {
  const a = words(text);
  const b = words(reference);
  const k = Math.min(START_WORDS, b.length);
  return { exact: text.trim() === reference.trim(), startsLike: k > 0 && a.length >= k && a.slice(0, k).join(' ') === b.slice(0, k).join(' '), stopped };
}

/**
 * Greedy continuations of one prompt under several hooks (null: the base model), decoded side by
 * side in one batch (model/generate-rows.ts): the same texts as one row each, in less time.
 */
export async function generateSideBySide(model: LlamaModel, hooks: (LoraHook | null)[], tok: TextTokenizer, p: EvalPrompt, stopIds: Set<number>, maxNewTokens: number): Promise<GeneratedText[]> {
  const rows = await generateRows(model, p.promptIds, hooks, { maxNewTokens, temperature: 0, stopIds: [...stopIds] });
  return rows.map((ids) => generatedText(model, tok, p, ids, maxNewTokens));
}

function generatedText(model: LlamaModel, tok: TextTokenizer, p: EvalPrompt, ids: number[], maxNewTokens: number): GeneratedText {
  // Generation leaves the stop token out; it stopped early when it produced fewer than the limit.
  const room = Math.min(maxNewTokens, model.config.maxPositions - p.promptIds.length);
  const stopped = ids.length < room;
  const text = continuation(tok, p.promptIds, ids);
  return { text, tokens: ids.length, scores: scoreGeneration(text, p.reference, stopped) };
}
