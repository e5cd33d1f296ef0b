// TRL's conversational prompt-completion rows (KTO's conversational unpaired rows when labelled):
// the reader takes the good ones as chat records and refuses each malformed one with its line,
// field and reason, the way the string rows and the preference pairs are refused.
import { describe, expect, it } from 'vitest';
import { DatasetLineError, validateRecord } from './formats';
import { parseDatasetText } from './dataset';

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('conversational prompt-completion rows are read as chat records', () => {
  const good: { name: string; value: unknown; expected: unknown }[] = [
    {
      name: "TRL's conversational unpaired row (label true)",
      value: { prompt: [user('What color is the sky?')], completion: [assistant('It is blue.')], label: true },
      expected: { format: 'prompt-completion', kind: 'chat', prompt: [user('What color is the sky?')], completion: [assistant('It is blue.')], label: true },
    },
    {
      name: 'label false',
      value: { prompt: [user('Hi')], completion: [assistant('Go away.')], label: false },
      expected: { format: 'prompt-completion', kind: 'chat', prompt: [user('Hi')], completion: [assistant('Go away.')], label: false },
    },
    {
      name: 'no label: a conversational prompt-completion row for SFT',
      value: { prompt: [user('Hi')], completion: [assistant('Hello.')] },
      expected: { format: 'prompt-completion', kind: 'chat', prompt: [user('Hi')], completion: [assistant('Hello.')] },
    },
    {
      name: 'a system turn and earlier turns in the prompt (an empty system turn is allowed)',
      value: { prompt: [{ role: 'system', content: '' }, user('Hi'), assistant('Hello!'), user('Bye')], completion: [assistant('Bye!')], label: true },
      expected: { format: 'prompt-completion', kind: 'chat', prompt: [{ role: 'system', content: '' }, user('Hi'), assistant('Hello!'), user('Bye')], completion: [assistant('Bye!')], label: true },
    },
  ];
  for (const g of good) it(g.name, () => expect(validateRecord(g.value, 'prompt-completion', 1)).toEqual(g.expected));

  it('string rows are unchanged: no kind, the label kept', () => {
    expect(validateRecord({ prompt: 'Once', completion: ' upon', label: false }, 'prompt-completion', 1)).toEqual({ format: 'prompt-completion', prompt: 'Once', completion: ' upon', label: false });
  });
});

describe('malformed conversational rows are refused with their line, field and reason', () => {
  const bad: { name: string; value: unknown; reason: string; field?: string }[] = [
    {
      name: 'completion a string after a message-list prompt',
      value: { prompt: [user('Hi')], completion: 'Hello.', label: true },
      reason: 'field "completion" must be a list of assistant messages like [{"role": "assistant", "content": "..."}] when the prompt is a message list, found string',
      field: 'completion',
    },
    {
      name: 'prompt a string before a message-list completion',
      value: { prompt: 'Hi', completion: [assistant('Hello.')], label: true },
      reason: 'field "prompt" must be a list of messages like [{"role": "user", "content": "..."}] when the completion is one (TRL reads a row as conversational only when all its fields are), found string',
      field: 'prompt',
    },
    { name: 'prompt missing', value: { completion: [assistant('Hello.')], label: true }, reason: 'missing field "prompt"', field: 'prompt' },
    { name: 'completion missing', value: { prompt: [user('Hi')], label: true }, reason: 'missing field "completion"', field: 'completion' },
    {
      name: 'completion holds a user turn',
      value: { prompt: [user('Hi')], completion: [assistant('Hello.'), user('And?')], label: true },
      reason: 'completion[1].role must be "assistant" (the completion is the model\'s answer), found "user"',
      field: 'completion[1].role',
    },
    {
      name: 'completion turn without a role',
      value: { prompt: [user('Hi')], completion: [{ content: 'Hello.' }], label: true },
      reason: 'completion[0].role must be one of user, assistant, system, found null',
      field: 'completion[0].role',
    },
    {
      name: 'prompt turn with an unknown role',
      value: { prompt: [{ role: 'human', content: 'Hi' }], completion: [assistant('Hello.')] },
      reason: 'prompt[0].role must be one of user, assistant, system, found "human"',
      field: 'prompt[0].role',
    },
    {
      name: 'completion turn that is not an object',
      value: { prompt: [user('Hi')], completion: ['Hello.'] },
      reason: 'completion[0] must be an object like {"role": "assistant", "content": "..."}, found string',
      field: 'completion[0]',
    },
    { name: 'empty answer', value: { prompt: [user('Hi')], completion: [assistant(' ')], label: false }, reason: 'completion[0].content is empty', field: 'completion[0].content' },
    { name: 'content not a string', value: { prompt: [user('Hi')], completion: [{ role: 'assistant', content: 4 }] }, reason: 'completion[0].content must be a string, found number', field: 'completion[0].content' },
    { name: 'empty completion list', value: { prompt: [user('Hi')], completion: [], label: true }, reason: 'field "completion" is an empty list: nothing to learn from', field: 'completion' },
    { name: 'empty prompt list', value: { prompt: [], completion: [assistant('Hello.')], label: true }, reason: 'field "prompt" is an empty list: the completion must answer a user turn', field: 'prompt' },
    {
      name: 'prompt ending with an assistant turn',
      value: { prompt: [user('Hi'), assistant('Hel')], completion: [assistant('lo.')], label: true },
      reason: 'the prompt must end with a user turn for the completion to answer, but prompt[1] has role "assistant"',
      field: 'prompt[1].role',
    },
    { name: 'label a string', value: { prompt: [user('Hi')], completion: [assistant('Hello.')], label: 'true' }, reason: 'field "label" must be true or false (KTO feedback), found string', field: 'label' },
    { name: 'label a number', value: { prompt: [user('Hi')], completion: [assistant('Hello.')], label: 1 }, reason: 'field "label" must be true or false (KTO feedback), found number', field: 'label' },
    { name: 'label null', value: { prompt: [user('Hi')], completion: [assistant('Hello.')], label: null }, reason: 'field "label" must be true or false (KTO feedback), found null', field: 'label' },
  ];
  for (const b of bad) {
    it(b.name, () => {
      let err: unknown;
      try {
        validateRecord(b.value, 'prompt-completion', 23);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DatasetLineError);
      const e = err as DatasetLineError;
      expect(e.reason).toBe(b.reason);
      expect(e.field).toBe(b.field);
      expect(e.message).toBe(`line 23: ${b.reason}`);
    });
  }
});

describe('a file of conversational rows: bad lines named by number, the rest kept', () => {
  it('detects prompt-completion and reports the malformed lines with their numbers', async () => {
    const rows = [
      { prompt: [user('Hi')], completion: [assistant('Hello.')], label: true },
      { prompt: [user('Hi')], completion: 'Hello.', label: false },
      { prompt: [user('Hi')], completion: [{ content: 'Hello.' }], label: false },
      { prompt: [user('Bye')], completion: [assistant('Bye.')], label: false },
    ];
    const s = await parseDatasetText(rows.map((r) => JSON.stringify(r)).join('\n'), { fileName: 'kto-chat.jsonl' });
    expect(s.format).toBe('prompt-completion');
    expect(s.valid).toBe(2);
    expect(s.errors).toEqual([
      { line: 2, field: 'completion', error: expect.stringContaining('field "completion" must be a list of assistant messages') },
      { line: 3, field: 'completion[0].role', error: 'completion[0].role must be one of user, assistant, system, found null' },
    ]);
  });
});
