import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { DatasetLineError, type DatasetRecord } from './formats';
import { FALLBACK_CHAT_TEMPLATE, chatTemplateFor, displayToken, fitLength, renderExample, type RenderOptions, type TrainingExample } from './render';

const MODEL = new URL('../../../shared/models/stories260K/', import.meta.url);
const tok: TextTokenizer = loadTokenizer(
  JSON.parse(readFileSync(new URL('tokenizer.json', MODEL), 'utf8')),
  JSON.parse(readFileSync(new URL('tokenizer_config.json', MODEL), 'utf8')),
);

/** The tokens that carry loss, joined as readable text: what the model is taught to produce. */
function trainedText(e: TrainingExample): string {
  return e.inputIds.filter((_, t) => e.lossMask[t] === 1).map((id) => displayToken(tok, id)).join('');
}
function promptText(e: TrainingExample): string {
  return e.inputIds.filter((_, t) => e.lossMask[t] === 0).map((id) => displayToken(tok, id)).join('');
}

describe('renderExample puts loss on the right tokens for each format (stories260K tokenizer)', () => {
  const cases: { name: string; rec: DatasetRecord; opts?: RenderOptions; trained: string; untrained: string }[] = [
    { name: 'text: everything but BOS, EOS appended', rec: { format: 'text', text: 'Zed is a kind dragon.' }, trained: ' Zed is a kind dragon.</s>', untrained: '<s>' },
    { name: 'text already ending in EOS gets no second EOS', rec: { format: 'text', text: 'The end.</s>' }, trained: ' The end.</s>', untrained: '<s>' },
    {
      name: 'prompt-completion: prompt masked',
      rec: { format: 'prompt-completion', prompt: 'Once upon a time', completion: ', there was a cat.' },
      trained: ', there was a cat.</s>',
      untrained: '<s> Once upon a time',
    },
    {
      name: 'prompt-completion with trainOnPrompt',
      rec: { format: 'prompt-completion', prompt: 'Once upon a time', completion: ', there was a cat.' },
      opts: { trainOnPrompt: true },
      trained: ' Once upon a time, there was a cat.</s>',
      untrained: '<s>',
    },
    { name: 'prompt-completion with empty prompt', rec: { format: 'prompt-completion', prompt: '', completion: 'Hi.' }, trained: ' Hi.</s>', untrained: '<s>' },
    {
      name: 'alpaca: only the response',
      rec: { format: 'alpaca', instruction: 'Say hi', input: '', output: 'Hi.' },
      trained: 'Hi.</s>',
      untrained: '<s> ### Instruction:\nSay hi\n\n### Response:\n',
    },
    {
      name: 'alpaca with input and system',
      rec: { format: 'alpaca', instruction: 'Name it', input: 'a cat', output: 'Tom', system: 'Be kind.' },
      trained: 'Tom</s>',
      untrained: '<s> Be kind.\n\n### Instruction:\nName it\n\n### Input:\na cat\n\n### Response:\n',
    },
    {
      name: 'messages through the fallback template: assistant turns and their EOS',
      rec: { format: 'messages', messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Who?' }, { role: 'assistant', content: 'Zed' }] },
      trained: ' Hello</s> Zed</s>',
      // The lone ' ' after </s>: the legacy Llama normalizer prepends '▁' to the text after a special token.
      untrained: '<s> Be kind.\n\nUser: Hi\nAssistant: \nUser: Who?\nAssistant:',
    },
    {
      name: 'sharegpt renders like messages',
      rec: { format: 'sharegpt', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] },
      trained: ' Hello</s>',
      untrained: '<s> User: Hi\nAssistant:',
    },
    {
      name: 'messages with trainOnPrompt trains everything after BOS',
      rec: { format: 'messages', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] },
      opts: { trainOnPrompt: true },
      trained: ' User: Hi\nAssistant: Yo</s>',
      untrained: '<s>',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = renderExample(c.rec, tok, 9, c.opts);
      expect(e.line).toBe(9);
      expect(e.lossMask).toHaveLength(e.inputIds.length);
      expect(e.lossMask[0]).toBe(0);
      expect(trainedText(e)).toBe(c.trained);
      expect(promptText(e)).toBe(c.untrained);
      expect(e.inputIds.filter((id) => id === tok.eosTokenId)).toHaveLength(c.trained.split('</s>').length - 1);
    });
  }

  it('prompt-completion ids match the README reference tokenization of "Once upon a time"', () => {
    const e = renderExample({ format: 'prompt-completion', prompt: 'Once upon a time', completion: ', there was' }, tok, 1);
    // README: "Once upon a time" -> [1, 403, 407, 261, 378]; the model continues 432 (","), 383, 286.
    expect(e.inputIds).toEqual([1, 403, 407, 261, 378, 432, 383, 286, 2]);
    expect(e.lossMask).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });
});

describe('chat template golden test (ChatML-style template written here)', () => {
  const CHATML =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const rec: DatasetRecord = {
    format: 'messages',
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Who?' },
      { role: 'assistant', content: 'Zed' },
    ],
  };

  it('renders exact ids with loss on "content<|im_end|>\\n" of each assistant turn, then EOS', () => {
    const e = renderExample(rec, tok, 1, { chatTemplate: CHATML });
    expect(e.text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\nZed<|im_end|>\n</s>');
    // Golden ids: checked token by token (stories260K has no <|im_*|> tokens, so they are spelled out).
    const head = [410, 504, 506, 288, 98, 356, 295, 413, 506, 505, 425, 419, 285, 13, 440, 417, 504, 506, 288, 98, 367, 506, 505, 13]; // ▁<|im_start|>user\nHi<|im_end|>\n
    const asst = [504, 506, 288, 98, 356, 295, 413, 506, 505, 412, 419, 419, 293, 413, 303, 413, 13]; // <|im_start|>assistant\n
    const hello = [440, 411, 306, 414, 504, 506, 288, 98, 367, 506, 505, 13]; // Hello<|im_end|>\n
    const user2 = [504, 506, 288, 98, 356, 295, 413, 506, 505, 425, 419, 285, 13, 448, 415, 414, 450, 504, 506, 288, 98, 367, 506, 505, 13]; // <|im_start|>user\nWho?<|im_end|>\n
    const zed = [469, 266, 504, 506, 288, 98, 367, 506, 505, 13]; // Zed<|im_end|>\n
    expect(e.inputIds).toEqual([...head, ...asst, ...hello, ...user2, ...asst, ...zed, 2]);
    const z = (a: number[]) => a.map(() => 0);
    const o = (a: number[]) => a.map(() => 1);
    expect(e.lossMask).toEqual([...z(head), ...z(asst), ...o(hello), ...z(user2), ...z(asst), ...o(zed), 1]);
    expect(tok.decode(e.inputIds, { skipSpecialTokens: false })).toBe(e.text);
  });

  it('a template that raises gives a DatasetLineError with the line number', () => {
    const raising = "{{ raise_exception('roles must alternate') }}";
    expect(() => renderExample(rec, tok, 12, { chatTemplate: raising })).toThrow(DatasetLineError);
    expect(() => renderExample(rec, tok, 12, { chatTemplate: raising })).toThrow(/line 12: chat template failed on this conversation: .*roles must alternate/);
  });

  it('a template that rewrites earlier turns falls back to locating the assistant content', () => {
    // Upper-cases user turns only when they are not last: prefixes are not prefixes of the whole.
    const shifty =
      "{% for m in messages %}{% if m['role'] == 'user' and not loop.last %}{{ 'U:' + m['content'] | upper }}{% elif m['role'] == 'user' %}{{ 'U:' + m['content'] }}{% else %}{{ ' A:' + m['content'] + eos_token }}{% endif %}{% endfor %}";
    const e = renderExample({ format: 'messages', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello' }] }, tok, 1, { chatTemplate: shifty });
    expect(e.text).toBe('U:HI A:Hello</s>');
    expect(trainedText(e)).toBe('Hello</s>');
  });

  it('a model without a chat template uses the documented fallback', () => {
    expect(tok.chatTemplate).toBeNull();
    const t = chatTemplateFor(tok);
    expect(t.fallback).toBe(true);
    expect(t.template).toBe(FALLBACK_CHAT_TEMPLATE);
    expect(chatTemplateFor(tok, CHATML).fallback).toBe(false);
  });
});

describe('fitLength applies the maximum sequence length', () => {
  const ex = (mask: number[]): TrainingExample => ({ line: 1, inputIds: mask.map((_, i) => 100 + i), lossMask: mask });
  const cases: { name: string; mask: number[]; max?: number; overflow: 'truncate' | 'drop'; kept: number | null; truncated: boolean }[] = [
    { name: 'no limit keeps all', mask: [0, 1, 1, 1], overflow: 'truncate', kept: 4, truncated: false },
    { name: 'within the limit', mask: [0, 1, 1, 1], max: 4, overflow: 'truncate', kept: 4, truncated: false },
    { name: 'truncate cuts to the limit', mask: [0, 1, 1, 1], max: 2, overflow: 'truncate', kept: 2, truncated: true },
    { name: 'drop leaves it out', mask: [0, 1, 1, 1], max: 2, overflow: 'drop', kept: null, truncated: false },
    { name: 'truncation that leaves no trained token drops it', mask: [0, 0, 0, 1], max: 3, overflow: 'truncate', kept: null, truncated: true },
    { name: 'an example with no trained token at all is dropped', mask: [0, 0], overflow: 'truncate', kept: null, truncated: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = fitLength(ex(c.mask), c.max, c.overflow);
      expect(r.truncated).toBe(c.truncated);
      expect(r.example === null ? null : r.example.inputIds.length).toBe(c.kept);
      if (r.example) expect(r.example.lossMask).toHaveLength(r.example.inputIds.length);
    });
  }
});

describe('displayToken', () => {
  const cases: [number, string][] = [
    [1, '<s>'],
    [403, ' Once'],
    [13, '\n'], // <0x0A>
    [2, '</s>'],
  ];
  for (const [id, text] of cases) it(`${id} -> ${JSON.stringify(text)}`, () => expect(displayToken(tok, id)).toBe(text));
});
