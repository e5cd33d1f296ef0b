import { describe, expect, it } from 'vitest';
import { answerOnly, toJsonl, toPreferencePairs, toUnpairedRows, type FeedbackRecord, type PairVerdict, type RatedAnswer } from './feedback';
import { detectFormat, validateRecord } from './formats';

const ans = (text: string, from: RatedAnswer['from'] = 'tuned', seed = 1): RatedAnswer => ({ text, from, temperature: 0.8, seed });
const base = { id: 'x', prompt: 'Once', chat: false, modelSource: 'm', adapter: null, createdAtMs: 0 };
const pair = (verdict: PairVerdict, a = ' upon a time', b = ' there was', chat = false): FeedbackRecord => ({ ...base, chat, kind: 'pair', a: ans(a), b: ans(b, 'tuned', 2), verdict });
const thumb = (verdict: 'up' | 'down', text = ' upon', correction = '', chat = false): FeedbackRecord => ({ ...base, chat, kind: 'single', answer: ans(text), verdict, correction });

describe('toPreferencePairs turns verdicts into chosen/rejected pairs', () => {
  const cases: { name: string; records: FeedbackRecord[]; expected: object[] }[] = [
    { name: 'A better: A chosen', records: [pair('a')], expected: [{ prompt: 'Once', chosen: ' upon a time', rejected: ' there was' }] },
    { name: 'B better: B chosen', records: [pair('b')], expected: [{ prompt: 'Once', chosen: ' there was', rejected: ' upon a time' }] },
    { name: 'a tie gives nothing', records: [pair('tie')], expected: [] },
    { name: 'both bad gives nothing', records: [pair('both-bad')], expected: [] },
    { name: 'identical answers give nothing', records: [pair('a', ' same', ' same')], expected: [] },
    { name: 'an empty answer gives nothing', records: [pair('a', ' ok', '  ')], expected: [] },
    { name: 'thumbs down with a correction: correction chosen', records: [thumb('down', ' bad', ' good')], expected: [{ prompt: 'Once', chosen: ' good', rejected: ' bad' }] },
    { name: 'thumbs down without a correction gives nothing', records: [thumb('down', ' bad')], expected: [] },
    { name: 'thumbs up gives nothing', records: [thumb('up', ' good', ' better')], expected: [] },
    {
      name: 'a chat record becomes TRL conversational rows',
      records: [pair('a', 'Hi!', 'Go away', true)],
      expected: [{ prompt: [{ role: 'user', content: 'Once' }], chosen: [{ role: 'assistant', content: 'Hi!' }], rejected: [{ role: 'assistant', content: 'Go away' }] }],
    },
    { name: 'order is kept', records: [pair('b', ' 1', ' 2'), thumb('down', ' 3', ' 4'), pair('a', ' 5', ' 6')], expected: [{ prompt: 'Once', chosen: ' 2', rejected: ' 1' }, { prompt: 'Once', chosen: ' 4', rejected: ' 3' }, { prompt: 'Once', chosen: ' 5', rejected: ' 6' }] },
  ];
  for (const c of cases) it(c.name, () => expect(toPreferencePairs(c.records)).toEqual(c.expected));
});

describe('toUnpairedRows turns verdicts into labelled completions', () => {
  const row = (completion: string, label: boolean) => ({ prompt: 'Once', completion, label });
  const cases: { name: string; records: FeedbackRecord[]; expected: object[] }[] = [
    { name: 'thumbs up: one true row', records: [thumb('up', ' good')], expected: [row(' good', true)] },
    { name: 'thumbs down: one false row', records: [thumb('down', ' bad')], expected: [row(' bad', false)] },
    { name: 'thumbs down with a correction: the correction is a true row', records: [thumb('down', ' bad', ' good')], expected: [row(' bad', false), row(' good', true)] },
    { name: 'A better: A true, B false', records: [pair('a', ' 1', ' 2')], expected: [row(' 1', true), row(' 2', false)] },
    { name: 'B better: A false, B true', records: [pair('b', ' 1', ' 2')], expected: [row(' 1', false), row(' 2', true)] },
    { name: 'both bad: two false rows', records: [pair('both-bad', ' 1', ' 2')], expected: [row(' 1', false), row(' 2', false)] },
    { name: 'a tie gives nothing', records: [pair('tie')], expected: [] },
    { name: 'empty answers give nothing', records: [thumb('up', ' '), pair('a', '', ' 2')], expected: [row(' 2', false)] },
    { name: 'chat rows are conversational', records: [thumb('up', 'Hello', '', true)], expected: [{ prompt: [{ role: 'user', content: 'Once' }], completion: [{ role: 'assistant', content: 'Hello' }], label: true }] },
  ];
  for (const c of cases) it(c.name, () => expect(toUnpairedRows(c.records)).toEqual(c.expected));
});

describe('answerOnly strips the prompt the engine shows in front of a continuation', () => {
  const cases: [prompt: string, text: string, chat: boolean, expected: string][] = [
    ['Once', 'Once upon a time', false, ' upon a time'],
    ['Once', 'Once', false, ''],
    ['Once', 'once upon', false, 'once upon'], // decoded differently: keep all of it rather than cut text
    ['Hi', 'Hi there', true, 'Hi there'], // a chat reply comes alone
  ];
  for (const [prompt, text, chat, expected] of cases) it(`${JSON.stringify(text)} after ${JSON.stringify(prompt)}${chat ? ' (chat)' : ''}`, () => expect(answerOnly(prompt, text, chat)).toBe(expected));
});

describe('the downloaded pairs read back as the dataset reader’s preference format', () => {
  it('every line validates as a preference record, text and chat alike', () => {
    const text = toJsonl(toPreferencePairs([pair('a'), thumb('down', ' bad', ' good'), pair('b', 'Hi!', 'Go away', true)]));
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    const values = lines.slice(0, -1).map((l) => JSON.parse(l) as unknown);
    expect(values).toHaveLength(3);
    expect(detectFormat(values)).toBe('preference');
    values.forEach((v, i) => expect(validateRecord(v, 'preference', i + 1)).toMatchObject({ format: 'preference' }));
  });

  it('an empty list is an empty file', () => expect(toJsonl([])).toBe(''));
});

describe('the downloaded unpaired rows read back as labelled prompt-completion records', () => {
  it('text ratings as strings, chat-turn ratings in TRL\'s conversational form, every label kept', () => {
    const text = toJsonl(toUnpairedRows([thumb('up', ' good'), pair('a', 'Hi!', 'Go away', true), thumb('down', 'Meh', 'Hello there.', true)]));
    const values = text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(detectFormat(values)).toBe('prompt-completion');
    const records = values.map((v, i) => validateRecord(v, 'prompt-completion', i + 1));
    const user = [{ role: 'user', content: 'Once' }];
    const says = (content: string) => [{ role: 'assistant', content }];
    expect(records).toEqual([
      { format: 'prompt-completion', prompt: 'Once', completion: ' good', label: true },
      { format: 'prompt-completion', kind: 'chat', prompt: user, completion: says('Hi!'), label: true },
      { format: 'prompt-completion', kind: 'chat', prompt: user, completion: says('Go away'), label: false },
      { format: 'prompt-completion', kind: 'chat', prompt: user, completion: says('Meh'), label: false },
      { format: 'prompt-completion', kind: 'chat', prompt: user, completion: says('Hello there.'), label: true },
    ]);
  });
});
