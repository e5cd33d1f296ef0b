import { describe, expect, it } from 'vitest';
import { DatasetLineError, detectFormat, parseJsonLine, shapeOf, validateRecord, type DatasetFormat } from './formats';

describe('shapeOf and detectFormat', () => {
  const shapes: [unknown, DatasetFormat | null][] = [
    [{ text: 'a' }, 'text'],
    [{ prompt: 'a', completion: 'b' }, 'prompt-completion'],
    [{ completion: 'b' }, 'prompt-completion'],
    [{ instruction: 'a', input: '', output: 'b' }, 'alpaca'],
    [{ messages: [] }, 'messages'],
    [{ conversations: [] }, 'sharegpt'],
    [{ foo: 1 }, null],
    [[1, 2], null],
    ['text', null],
  ];
  for (const [v, f] of shapes) it(`${JSON.stringify(v)} is shaped like ${f}`, () => expect(shapeOf(v)).toBe(f));

  it('picks the majority shape of the first lines', () => {
    expect(detectFormat([{ text: 'a' }, { prompt: 'p', completion: 'c' }, { prompt: 'p', completion: 'c' }, 42])).toBe('prompt-completion');
  });
  it('returns null when nothing is recognizable', () => {
    expect(detectFormat([{ a: 1 }, null, 'x'])).toBeNull();
  });
});

describe('validateRecord accepts each format and normalizes it', () => {
  const good: { format: DatasetFormat; value: unknown; expected: unknown }[] = [
    { format: 'text', value: { text: 'Zed flew.' }, expected: { format: 'text', text: 'Zed flew.' } },
    { format: 'prompt-completion', value: { prompt: '', completion: 'x' }, expected: { format: 'prompt-completion', prompt: '', completion: 'x' } },
    { format: 'alpaca', value: { instruction: 'i', output: 'o' }, expected: { format: 'alpaca', instruction: 'i', input: '', output: 'o' } },
    { format: 'alpaca', value: { instruction: 'i', input: 'n', output: 'o', system: 's' }, expected: { format: 'alpaca', instruction: 'i', input: 'n', output: 'o', system: 's' } },
    {
      format: 'messages',
      value: { messages: [{ role: 'system', content: '' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
      expected: { format: 'messages', messages: [{ role: 'system', content: '' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
    },
    {
      format: 'sharegpt',
      value: { conversations: [{ from: 'system', value: 's' }, { from: 'human', value: 'hi' }, { from: 'gpt', value: 'yo' }] },
      expected: { format: 'sharegpt', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
    },
  ];
  for (const g of good) it(`${g.format}: ${JSON.stringify(g.value)}`, () => expect(validateRecord(g.value, g.format, 1)).toEqual(g.expected));
});

describe('validateRecord rejects each kind of bad line with its line number, field and reason', () => {
  const bad: { name: string; format: DatasetFormat; value: unknown; reason: string; field?: string }[] = [
    { name: 'not an object', format: 'text', value: [1], reason: 'expected a JSON object like {"text": "..."}, found array' },
    { name: 'missing text', format: 'text', value: { txt: 'a' }, reason: 'missing field "text"', field: 'text' },
    { name: 'text not a string', format: 'text', value: { text: 5 }, reason: 'field "text" must be a string, found number', field: 'text' },
    { name: 'text null', format: 'text', value: { text: null }, reason: 'field "text" must be a string, found null', field: 'text' },
    { name: 'empty text', format: 'text', value: { text: '  ' }, reason: 'field "text" is empty', field: 'text' },
    { name: 'missing completion', format: 'prompt-completion', value: { prompt: 'p' }, reason: 'missing field "completion"', field: 'completion' },
    { name: 'empty completion', format: 'prompt-completion', value: { prompt: 'p', completion: '' }, reason: 'field "completion" is empty', field: 'completion' },
    { name: 'text line in a prompt-completion file', format: 'prompt-completion', value: { text: 'a' }, reason: 'line is in "text" format but the file is "prompt-completion"' },
    { name: 'prompt line in a text file', format: 'text', value: { prompt: 'a', completion: 'b' }, reason: 'line is in "prompt-completion" format but the file is "text"' },
    { name: 'alpaca missing output', format: 'alpaca', value: { instruction: 'i' }, reason: 'missing field "output"', field: 'output' },
    { name: 'alpaca input wrong type', format: 'alpaca', value: { instruction: 'i', input: ['x'], output: 'o' }, reason: 'field "input" must be a string, found array', field: 'input' },
    { name: 'messages not an array', format: 'messages', value: { messages: 'hi' }, reason: 'field "messages" must be an array, found string', field: 'messages' },
    { name: 'messages empty', format: 'messages', value: { messages: [] }, reason: 'field "messages" is empty', field: 'messages' },
    {
      name: 'unknown role',
      format: 'messages',
      value: { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'bot', content: 'd' }] },
      reason: 'unknown role "bot" at messages[3] (expected user, assistant, system)',
      field: 'messages[3].role',
    },
    { name: 'missing content', format: 'messages', value: { messages: [{ role: 'user' }] }, reason: 'missing field "messages[0].content"', field: 'messages[0].content' },
    { name: 'empty assistant content', format: 'messages', value: { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] }, reason: 'field "messages[1].content" is empty', field: 'messages[1].content' },
    { name: 'turn not an object', format: 'messages', value: { messages: ['hi'] }, reason: 'messages[0] must be an object, found string', field: 'messages[0]' },
    { name: 'no assistant turn', format: 'messages', value: { messages: [{ role: 'user', content: 'q' }] }, reason: 'no "assistant" turn in "messages": nothing to learn from', field: 'messages' },
    {
      name: 'sharegpt unknown from',
      format: 'sharegpt',
      value: { conversations: [{ from: 'human', value: 'q' }, { from: 'bing', value: 'a' }] },
      reason: 'unknown role "bing" at conversations[1] (expected human, gpt, system)',
      field: 'conversations[1].from',
    },
    { name: 'sharegpt value not string', format: 'sharegpt', value: { conversations: [{ from: 'gpt', value: 3 }] }, reason: 'field "conversations[0].value" must be a string, found number', field: 'conversations[0].value' },
    { name: 'sharegpt line in a messages file', format: 'messages', value: { conversations: [] }, reason: 'line is in "sharegpt" format but the file is "messages"' },
  ];
  for (const b of bad) {
    it(b.name, () => {
      let err: unknown;
      try {
        validateRecord(b.value, b.format, 17);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DatasetLineError);
      const e = err as DatasetLineError;
      expect(e.line).toBe(17);
      expect(e.reason).toBe(b.reason);
      expect(e.field).toBe(b.field);
      expect(e.message).toBe(`line 17: ${b.reason}`);
    });
  }

  it('invalid JSON carries the parser message', () => {
    expect(() => parseJsonLine('{"text": ', 4)).toThrow(DatasetLineError);
    try {
      parseJsonLine('{"text": ', 4);
    } catch (e) {
      expect((e as DatasetLineError).line).toBe(4);
      expect((e as DatasetLineError).reason).toMatch(/^invalid JSON: .*(JSON|Unexpected|end)/);
    }
  });
});
