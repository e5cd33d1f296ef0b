// Turns back out of a chat-rendered prompt: the ids a chat template produced are split at its
// special tokens (<|im_start|>, <start_of_turn>, <|start_header_id|> ...), and each piece is read as
// a role line and its content. So samples and Evaluate show "user: ..." turns instead of the
// flattened "system You are ... user ... assistant" that decoding without the specials gives.
import type { TextTokenizer } from '../tokenizer/tokenizer';

export type ChatTurnRole = 'system' | 'user' | 'assistant';

export interface ChatTurn {
  role: ChatTurnRole;
  content: string;
}

const ROLES: Record<string, ChatTurnRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant', model: 'assistant' };
const ROLE_LINE = /^(system|developer|user|assistant|model)[ \t]*\n([\s\S]*)$/;

/** True for a token that decoding without special tokens drops (a template's turn markers, BOS/EOS). */
function isSpecial(tok: TextTokenizer, id: number, cache: Map<number, boolean>): boolean {
  let s = cache.get(id);
  if (s === undefined) {
    s = tok.decode([id], { skipSpecialTokens: true }) === '' && tok.decode([id], { skipSpecialTokens: false }) !== '';
    cache.set(id, s);
  }
  return s;
}

/**
 * The turns of a chat-rendered token sequence, or null when it is not one (plain text, no turn
 * markers). A trailing assistant header with nothing after it (the generation prompt) is left out.
 */
export function chatTurns(tok: TextTokenizer, ids: number[]): ChatTurn[] | null {
  const cache = new Map<number, boolean>();
  const segments: string[] = [];
  let run: number[] = [];
  let markers = 0;
  const flush = () => {
    if (run.length) segments.push(tok.decode(run, { skipSpecialTokens: true }));
    run = [];
  };
  for (const id of ids) {
    if (isSpecial(tok, id, cache)) {
      flush();
      markers++;
    } else run.push(id);
  }
  flush();
  if (markers < 2) return null;
  const turns: ChatTurn[] = [];
  let pending: ChatTurnRole | null = null;
  for (const seg of segments) {
    const bare = seg.trim();
    if (bare in ROLES) {
      // Llama 3: <|start_header_id|>user<|end_header_id|> then the content as its own piece.
      pending = ROLES[bare]!;
      continue;
    }
    const m = ROLE_LINE.exec(seg.replace(/^\n+/, ''));
    if (m) turns.push({ role: ROLES[m[1]!]!, content: m[2]!.trim() });
    else if (pending && bare) turns.push({ role: pending, content: bare });
    else if (bare) return null; // text outside any turn: not a chat rendering we understand
    pending = null;
  }
  return turns.length > 0 ? turns : null;
}

/** The last user turn's text, e.g. as a prompt to type into the Use step. */
export function lastUserTurn(turns: ChatTurn[] | null): string | null {
  if (!turns) return null;
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i]!.role === 'user') return turns[i]!.content;
  return null;
}
