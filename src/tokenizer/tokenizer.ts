// Thin wrapper over @huggingface/tokenizers: the rest of the code sees only ids in, text out, and
// the handful of special ids and template fields it needs.
import { Tokenizer } from '@huggingface/tokenizers';

export interface TextTokenizer {
  /** Token ids of `text`, with the model's own special-token rules (e.g. BOS for Llama). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The text of one id as the tokenizer writes it (for token-boundary previews). */
  idToToken(id: number): string | undefined;
  /** The id of one whole token (a special token such as <|im_end|>), if the vocabulary has it. */
  tokenToId(token: string): number | undefined;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** The Jinja chat template from tokenizer_config.json, when the model has one. */
  readonly chatTemplate: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
}

export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown): TextTokenizer {
  let tok: Tokenizer;
  const cfg = (tokenizerConfig ?? {}) as Record<string, unknown>;
  try {
    tok = new Tokenizer(tokenizerJson as object, cfg);
  } catch (e) {
    throw new TokenizerLoadError(`tokenizer.json could not be loaded: ${(e as Error).message}`);
  }
  const vocab = (tokenizerJson as { model?: { vocab?: Record<string, number> | [string, number][] } }).model?.vocab;
  const added = (tokenizerJson as { added_tokens?: { id: number; content: string }[] }).added_tokens ?? [];
  const idToTok = new Map<number, string>();
  if (Array.isArray(vocab)) vocab.forEach(([t], i) => idToTok.set(i, t));
  else if (vocab) for (const [t, id] of Object.entries(vocab)) idToTok.set(id, t);
  for (const a of added) idToTok.set(a.id, a.content);
  const tokToId = new Map<string, number>();
  for (const [id, t] of idToTok) tokToId.set(t, id);
  const bosToken = tokenText(cfg.bos_token);
  const eosToken = tokenText(cfg.eos_token);
  let chatTemplate: string | null = null;
  if (typeof cfg.chat_template === 'string') chatTemplate = cfg.chat_template;
  else if (Array.isArray(cfg.chat_template)) {
    const def = (cfg.chat_template as { name: string; template: string }[]).find((t) => t.name === 'default');
    chatTemplate = def?.template ?? null;
  }
  return {
    encode: (text, opts) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }).ids,
    decode: (ids, opts) => tok.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens ?? true }),
    idToToken: (id) => idToTok.get(id),
    tokenToId: (t) => tokToId.get(t),
    bosTokenId: bosToken !== null ? tokToId.get(bosToken) ?? null : null,
    eosTokenId: eosToken !== null ? tokToId.get(eosToken) ?? null : null,
    chatTemplate,
    bosToken,
    eosToken,
  };
}
