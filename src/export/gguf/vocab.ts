// The tokenizer sections of a GGUF file, as llama.cpp's converter writes them from tokenizer.json:
// - SentencePiece-style vocabularies (BPE with byte fallback, e.g. stories260K and Llama 2):
//   tokenizer.ggml.model "llama", pre "default", tokens, scores, token_type (LlamaHfVocab).
// - byte-level BPE (SmolLM2, Qwen, Llama 3): model "gpt2", the pre-tokenizer named by hashing the
//   ids of the converter's check text (get_vocab_base_pre), tokens, token_type, merges.
// Then special token ids (tokenizer_config.json's tokens, else config.json's ids), add_bos/eos and
// the chat template (SpecialVocab).
// One deliberate difference: for "llama" vocabularies the converter writes every score as -1000,
// which makes llama.cpp's SentencePiece tokenizer merge in a different order than the HF BPE; we
// write -(merge rank), so llama.cpp tokenizes text as the model was trained.
import { sha256Hex } from '../../model/fingerprint';
import { type TextTokenizer } from '../../tokenizer/tokenizer';
import { GgufExportError, TokenType } from './constants';
import { kv, type GgufMetadata } from './writer';

/** convert_hf_to_gguf.py's chktxt: its token ids' sha256 identifies a BPE pre-tokenizer. */
export const PRE_TOKENIZER_CHECK_TEXT =
  '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL';

/** Hash -> tokenizer.ggml.pre for the families the studio trains (from get_vocab_base_pre). */
export const KNOWN_PRE_TOKENIZERS: Record<string, string> = {
  '0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5': 'llama-bpe', // Llama 3
  e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea: 'qwen2', // Qwen 1.5 / 2 / 2.5 / 3
  '855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249': 'smollm', // SmolLM / SmolLM2
  '3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454': 'gpt-2',
  '63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e': 'tekken', // Mistral Nemo
};

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean; ignore_merges?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  decoder?: { type?: string } | null;
}

export type VocabKind = 'llama' | 'gpt2';

export function vocabKind(tj: TokenizerJson): VocabKind {
  const m = tj.model;
  if (m?.type !== 'BPE') throw new GgufExportError(`GGUF export supports BPE tokenizers only; tokenizer.json has a ${String(m?.type)} model`);
  if (m.byte_fallback && tj.decoder?.type === 'Sequence') return 'llama';
  return 'gpt2';
}

function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) || (t.startsWith('<|') && t.endsWith('|>')) || (t.startsWith('<unused') && t.endsWith('>'));
}

function contentOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export interface VocabInput {
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  config: Record<string, unknown>;
  tokenizer: TextTokenizer;
}

/** Writes every tokenizer.* key. Returns the vocabulary size written (config.json's vocab_size). */
export async function vocabMetadata(input: VocabInput, md: GgufMetadata): Promise<number> {
  const tj = input.tokenizerJson as TokenizerJson;
  const tc = (input.tokenizerConfig ?? {}) as Record<string, unknown>;
  const kind = vocabKind(tj);
  const vocab = tj.model!.vocab ?? {};
  const added = tj.added_tokens ?? [];
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(vocab)) byId.set(id, t);
  for (const a of added) byId.set(a.id, a.content);
  const maxId = Math.max(...byId.keys());
  const vocabSize = typeof input.config.vocab_size === 'number' ? input.config.vocab_size : maxId + 1;
  if (maxId >= vocabSize) throw new GgufExportError(`tokenizer id ${maxId} does not fit vocab_size ${vocabSize} of config.json`);
  const addedById = new Map(added.map((a) => [a.id, a]));
  const specialIds = new Set(added.filter((a) => a.special).map((a) => a.id));

  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  const merges = (tj.model!.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  for (let i = 0; i < vocabSize; i++) {
    const t = byId.get(i);
    if (t === undefined) {
      tokens.push(`[PAD${i}]`);
      types[i] = TokenType.UNUSED;
      continue;
    }
    const a = addedById.get(i);
    if (kind === 'llama') {
      types[i] = /^<0x[0-9A-Fa-f]{2}>$/.test(t) ? TokenType.BYTE : specialIds.has(i) ? TokenType.CONTROL : a ? TokenType.USER_DEFINED : TokenType.NORMAL;
      tokens.push(t);
    } else if (a && (a.special || looksSpecial(t))) {
      types[i] = TokenType.CONTROL;
      tokens.push(t);
    } else if (a) {
      types[i] = TokenType.USER_DEFINED;
      tokens.push(t.replaceAll('\u2581', ' '));
    } else {
      types[i] = TokenType.NORMAL;
      tokens.push(t);
    }
  }

  md.set('tokenizer.ggml.model', kv.str(kind));
  if (kind === 'llama') {
    md.set('tokenizer.ggml.pre', kv.str('default'));
    md.set('tokenizer.ggml.tokens', kv.strings(tokens));
    const rank = new Map<string, number>();
    merges.forEach((m, r) => {
      const merged = m.replace(' ', '');
      if (!rank.has(merged)) rank.set(merged, r);
    });
    const scores = new Float32Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) {
      const r = rank.get(tokens[i]!);
      scores[i] = types[i] === TokenType.NORMAL ? (r !== undefined ? -r : -merges.length - i) : -1000;
    }
    md.set('tokenizer.ggml.scores', kv.f32s(scores));
    md.set('tokenizer.ggml.token_type', kv.i32s(types));
  } else {
    const hash = await sha256Hex(new TextEncoder().encode(`[${input.tokenizer.encode(PRE_TOKENIZER_CHECK_TEXT).join(', ')}]`));
    const pre = KNOWN_PRE_TOKENIZERS[hash];
    if (!pre) throw new GgufExportError(`this BPE tokenizer's pre-tokenizer is not one llama.cpp is known to implement (check hash ${hash}); known: ${[...new Set(Object.values(KNOWN_PRE_TOKENIZERS))].join(', ')}`);
    md.set('tokenizer.ggml.pre', kv.str(pre));
    md.set('tokenizer.ggml.tokens', kv.strings(tokens));
    md.set('tokenizer.ggml.token_type', kv.i32s(types));
    md.set('tokenizer.ggml.merges', kv.strings(merges));
  }

  // Special tokens: tokenizer_config.json's token (looked up among added tokens), else config.json's id.
  for (const typ of ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask']) {
    const content = contentOf(tc[`${typ}_token`]);
    let id = content !== null ? added.find((a) => a.content === content)?.id : undefined;
    const fromConfig = input.config[`${typ}_token_id`];
    if (id === undefined && typeof fromConfig === 'number') id = fromConfig;
    if (id !== undefined && id >= 0 && id < vocabSize) md.set(`tokenizer.ggml.${typ}_token_id`, kv.u32(id));
  }
  // What our tokenizer does is what the model was trained with: say it explicitly.
  const bos = input.tokenizer.bosTokenId;
  const withSpecial = input.tokenizer.encode('a');
  const plain = input.tokenizer.encode('a', { addSpecialTokens: false });
  md.set('tokenizer.ggml.add_bos_token', kv.bool(bos !== null && withSpecial[0] === bos && plain[0] !== bos));
  const eos = input.tokenizer.eosTokenId;
  md.set('tokenizer.ggml.add_eos_token', kv.bool(eos !== null && withSpecial[withSpecial.length - 1] === eos && plain[plain.length - 1] !== eos));
  if (input.tokenizer.chatTemplate) md.set('tokenizer.chat_template', kv.str(input.tokenizer.chatTemplate));
  return vocabSize;
}
