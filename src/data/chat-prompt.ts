// A prompt typed in the Use step, as an instruct model expects it: one user turn rendered through
// the model's own chat template with the generation prompt (Qwen2.5 adds its default system line,
// Gemma opens a model turn, Llama 3 writes its header tokens), then tokenized without extra specials.
import { Template } from '@huggingface/jinja';
import type { TextTokenizer } from '../tokenizer/tokenizer';

export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

/** The text the model sees for one user message: its template's rendering with add_generation_prompt. */
export function chatPromptText(tok: Pick<TextTokenizer, 'chatTemplate' | 'bosToken' | 'eosToken'>, userText: string): string {
  if (!tok.chatTemplate) throw new ChatTemplateError('This model has no chat template (tokenizer_config.json has no chat_template): generate from plain text instead.');
  try {
    return new Template(tok.chatTemplate).render({ messages: [{ role: 'user', content: userText }], add_generation_prompt: true, bos_token: tok.bosToken ?? '', eos_token: tok.eosToken ?? '' });
  } catch (e) {
    throw new ChatTemplateError(`The model's chat template failed on this prompt: ${(e as Error).message}`);
  }
}

/** Token ids of that rendering (the template writes BOS itself where the model wants one). */
export function chatPromptIds(tok: TextTokenizer, userText: string): number[] {
  return tok.encode(chatPromptText(tok, userText), { addSpecialTokens: false });
}
