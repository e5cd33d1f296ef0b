// chatTurns reads the turns back out of prompts rendered by real chat templates: ChatML (Qwen2.5's
// own template, SmolLM2's), Llama 3's header tokens and Gemma 3's turns, and gives null for plain text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { renderExample } from './render';
import { chatTurns, lastUserTurn } from './chat-turns';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
const load = (dir: string): TextTokenizer => {
  const read = (f: string) => JSON.parse(readFileSync(`${SHARED}${dir}/${f}`, 'utf8')) as Record<string, unknown>;
  return loadTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
};

const CHAT = [
  { role: 'system' as const, content: 'Answer briefly.' },
  { role: 'user' as const, content: 'What is the capital of France?' },
  { role: 'assistant' as const, content: 'Paris.' },
  { role: 'user' as const, content: 'And of Spain?' },
  { role: 'assistant' as const, content: 'Madrid.' },
];

/** The untrained head of a rendered example: what Evaluate and the samples use as the prompt. */
function promptIds(tok: TextTokenizer): number[] {
  const ex = renderExample({ format: 'messages', messages: CHAT }, tok, 1);
  return ex.inputIds.slice(0, ex.lossMask.indexOf(1));
}

/**
 * A tokenizer over fixed pieces, for the turn markers of templates whose real tokenizers are not
 * in ../shared (the tiny Llama 3 and Gemma 3 models ship small vocabularies without them).
 */
function pieceTokenizer(specials: string[]): { tok: TextTokenizer; ids: (text: string) => number[] } {
  const pieces: string[] = [];
  const idOf = (p: string) => (pieces.includes(p) ? pieces.indexOf(p) : pieces.push(p) - 1);
  const pattern = new RegExp(`(${specials.map((x) => x.replace(/[|<>]/g, '\\$&')).join('|')})`);
  const tok = {
    decode: (ids: number[], o?: { skipSpecialTokens?: boolean }) => ids.map((i) => (o?.skipSpecialTokens !== false && specials.includes(pieces[i]!) ? '' : pieces[i]!)).join(''),
  } as unknown as TextTokenizer;
  return { tok, ids: (text) => text.split(pattern).filter(Boolean).map(idOf) };
}

describe('chatTurns', () => {
  it.each([['tokenizers/qwen2.5-0.5b-instruct'], ['tokenizers/smollm2']])('%s (ChatML, real template): the prompt before the first answer is its system and user turns', (dir) => {
    const tok = load(dir);
    const turns = chatTurns(tok, promptIds(tok));
    expect(turns).toEqual([{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is the capital of France?' }]);
    expect(lastUserTurn(turns)).toBe('What is the capital of France?');
  });

  it('Llama 3 headers: the role between its own markers, the content after them', () => {
    const { tok, ids } = pieceTokenizer(['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']);
    const text = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';
    expect(chatTurns(tok, ids(text))).toEqual([{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Hi there' }]);
  });

  it('Gemma turns: "model" is the assistant', () => {
    const { tok, ids } = pieceTokenizer(['<bos>', '<start_of_turn>', '<end_of_turn>']);
    const text = '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n';
    const turns = chatTurns(tok, ids(text));
    expect(turns).toEqual([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Bye' }]);
    expect(lastUserTurn(turns)).toBe('Bye');
  });

  it('a whole conversation reads back turn by turn', () => {
    const tok = load('tokenizers/qwen2.5-0.5b-instruct');
    const ex = renderExample({ format: 'messages', messages: CHAT }, tok, 1);
    expect(chatTurns(tok, ex.inputIds)).toEqual(CHAT);
  });

  it('plain text is not a chat: null', () => {
    const tok = load('tokenizers/smollm2');
    expect(chatTurns(tok, tok.encode('Once upon a time there was a user'))).toBeNull();
    expect(lastUserTurn(null)).toBeNull();
  });
});
