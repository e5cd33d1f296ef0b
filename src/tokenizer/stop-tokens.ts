// When generation stops, per family: on every id of config.json's eos_token_id (a list in Llama 3
// and Gemma 3), on the tokenizer's EOS, and on the chat template's end-of-turn token (<|im_end|>
// for Qwen / SmolLM2 ChatML, <end_of_turn> for Gemma, <|eot_id|> for Llama 3), which instruct
// models emit at the end of a reply. Training appends and trains that same token (data/render.ts).
import type { TextTokenizer } from './tokenizer';

/** Markers that close a turn in the chat templates of the supported families, most specific first. */
export const END_OF_TURN_MARKERS = ['<|im_end|>', '<end_of_turn>', '<|eot_id|>', '<|end|>'] as const;

/** The end-of-turn token the chat template writes, when the template uses one the vocabulary has. */
export function endOfTurnToken(tok: Pick<TextTokenizer, 'tokenToId'>, template: string | null): { text: string; id: number } | null {
  if (!template) return null;
  for (const text of END_OF_TURN_MARKERS) {
    const id = tok.tokenToId(text);
    if (id !== undefined && template.includes(text)) return { text, id };
  }
  return null;
}

/** Every id that ends a reply: config eos ids, the tokenizer's EOS and the template's end of turn, without repeats. */
export function stopTokenIds(configEosIds: readonly number[], tok: Pick<TextTokenizer, 'tokenToId' | 'eosTokenId' | 'chatTemplate'>): number[] {
  const ids = [...configEosIds];
  if (tok.eosTokenId !== null) ids.push(tok.eosTokenId);
  const eot = endOfTurnToken(tok, tok.chatTemplate);
  if (eot) ids.push(eot.id);
  return [...new Set(ids)];
}
