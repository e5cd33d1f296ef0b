// Chat templates and stopping at real vocabulary sizes: Qwen2.5's own template (default system
// prompt) and SmolLM2's ChatML test template render through @huggingface/jinja to the text Python's
// jinja2 renders (strings below were produced by it), tokenize to the exact ids (special tokens as
// single ids), train only the assistant turns and their end-of-turn token, and generation stops on
// every eos id and the end-of-turn token.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { renderExample } from '../src/data/render';
import { endOfTurnToken, stopTokenIds } from '../src/tokenizer/stop-tokens';
import { parseConfig } from '../src/model/config';

const TOKENIZERS = new URL('../../shared/tokenizers/', import.meta.url).pathname;
const read = (dir: string, f: string) => JSON.parse(readFileSync(`${TOKENIZERS}${dir}/${f}`, 'utf8')) as Record<string, unknown>;
const load = (dir: string): TextTokenizer => loadTokenizer(read(dir, 'tokenizer.json'), read(dir, 'tokenizer_config.json'));

const qwen = load('qwen2.5-0.5b-instruct');
const smol = load('smollm2');

const QA = [{ role: 'user' as const, content: 'What is 2+2?' }, { role: 'assistant' as const, content: '4.' }];
const TWO_TURNS = [
  { role: 'system' as const, content: 'Answer briefly.' },
  { role: 'user' as const, content: 'Hi' },
  { role: 'assistant' as const, content: 'Hello!' },
  { role: 'user' as const, content: 'Bye' },
  { role: 'assistant' as const, content: 'Bye!' },
];

// Qwen2.5 ids: <|im_start|> 151644, <|im_end|> 151645, "\n" 198, "system" 8948, "user" 872, "assistant" 77091,
// and its default system prompt as the hub tokenizer encodes it.
const Q = { start: 151644, end: 151645, nl: 198, system: 8948, user: 872, assistant: 77091 };
const QWEN_DEFAULT_SYSTEM = [2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264, 10950, 17847, 13];

describe('Qwen2.5-0.5B-Instruct (real tokenizer, 151,665 entries, real template)', () => {
  it('adds the default system prompt when none is given, with exact ids and loss on "4.<|im_end|>\\n" only', () => {
    const ex = renderExample({ format: 'messages', messages: QA }, qwen, 1);
    expect(ex.text).toBe('<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n');
    const user = qwen.encode('What is 2+2?', { addSpecialTokens: false });
    const answer = qwen.encode('4.', { addSpecialTokens: false });
    const prompt = [Q.start, Q.system, Q.nl, ...QWEN_DEFAULT_SYSTEM, Q.end, Q.nl, Q.start, Q.user, Q.nl, ...user, Q.end, Q.nl, Q.start, Q.assistant, Q.nl];
    expect(ex.inputIds).toEqual([...prompt, ...answer, Q.end, Q.nl]); // no EOS appended: <|im_end|> is Qwen's EOS
    expect(ex.lossMask).toEqual([...prompt.map(() => 0), ...answer.map(() => 1), 1, 1]);
  });

  it('keeps a given system prompt and trains both assistant turns', () => {
    const ex = renderExample({ format: 'messages', messages: TWO_TURNS }, qwen, 1);
    expect(ex.text).toBe('<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nBye!<|im_end|>\n');
    const trained = ex.inputIds.filter((_, t) => ex.lossMask[t] === 1);
    expect(trained).toEqual([...qwen.encode('Hello!', { addSpecialTokens: false }), Q.end, Q.nl, ...qwen.encode('Bye!', { addSpecialTokens: false }), Q.end, Q.nl]);
  });

  it('stops on <|im_end|> and on every eos id of config / generation config', () => {
    const cfg = parseConfig(read('qwen2.5-0.5b-instruct', 'config.json'));
    const gen = read('qwen2.5-0.5b-instruct', 'generation_config.json').eos_token_id as number[];
    expect(endOfTurnToken(qwen, qwen.chatTemplate)).toEqual({ text: '<|im_end|>', id: Q.end });
    expect(stopTokenIds([...cfg.eosTokenIds, ...gen], qwen).sort()).toEqual([151643, 151645]);
  });
});

describe('SmolLM2 (real tokenizer, 49,152 entries, ChatML test template)', () => {
  it('default system line, <|im_start|>/<|im_end|> as single ids, loss on the answer and its end of turn', () => {
    const ex = renderExample({ format: 'messages', messages: QA }, smol, 1);
    expect(ex.text).toBe('<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n');
    const start = smol.tokenToId('<|im_start|>')!;
    const end = smol.tokenToId('<|im_end|>')!;
    expect([start, end]).toEqual([1, 2]);
    expect(ex.inputIds.filter((id) => id === start)).toHaveLength(3);
    expect(ex.inputIds.filter((id) => id === end)).toHaveLength(3);
    const trained = ex.inputIds.filter((_, t) => ex.lossMask[t] === 1);
    expect(trained).toEqual([...smol.encode('4.', { addSpecialTokens: false }), end, ...smol.encode('\n', { addSpecialTokens: false })]);
    expect(smol.decode(ex.inputIds, { skipSpecialTokens: false })).toBe(ex.text);
  });
});

describe('end-of-turn and stop ids per family (template markers)', () => {
  const vocab = new Map([['<|im_end|>', 151645], ['<end_of_turn>', 106], ['<|eot_id|>', 128009], ['<eos>', 1]]);
  const tok = (chatTemplate: string | null, eosTokenId: number | null) => ({ tokenToId: (t: string) => vocab.get(t), eosTokenId, chatTemplate });
  it.each([
    { family: 'Gemma 3 (<end_of_turn>, eos [1, 106])', template: "{{ '<start_of_turn>' + role + '\\n' }}{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}", config: [1, 106], eos: 1, stop: [1, 106], eot: '<end_of_turn>' },
    { family: 'Llama 3.x (<|eot_id|>, eos list)', template: "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}", config: [128001, 128008, 128009], eos: 128009, stop: [128001, 128008, 128009], eot: '<|eot_id|>' },
    { family: 'Qwen (<|im_end|>)', template: "{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}", config: [151643], eos: 151645, stop: [151643, 151645], eot: '<|im_end|>' },
    { family: 'no template: eos only', template: null, config: [2], eos: 2, stop: [2], eot: null },
  ])('$family', ({ template, config, eos, stop, eot }) => {
    const t = tok(template, eos);
    expect(endOfTurnToken(t, template)?.text ?? null).toBe(eot);
    expect(stopTokenIds(config, t).sort((a, b) => a - b)).toEqual(stop);
  });
});
