import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { DatasetLineError, shapeOf, validateRecord } from './formats';
import { renderPreference } from './preference';
import { validatePreference } from './preference-lines';
import type { PreferenceRecord } from './record-shapes';
import { displayToken, type TrainingExample } from './render';
import { parseDatasetText } from './dataset';

const MODEL = new URL('../../../shared/models/stories260K/', import.meta.url);
const tok: TextTokenizer = loadTokenizer(
  JSON.parse(readFileSync(new URL('tokenizer.json', MODEL), 'utf8')),
  JSON.parse(readFileSync(new URL('tokenizer_config.json', MODEL), 'utf8')),
);
const trained = (e: { inputIds: number[]; lossMask: number[] }) => e.inputIds.filter((_, t) => e.lossMask[t] === 1).map((id) => displayToken(tok, id)).join('');

const u = (content: string) => ({ role: 'user' as const, content });
const a = (content: string) => ({ role: 'assistant' as const, content });

describe('validatePreference accepts the string and conversational forms', () => {
  const good: { name: string; value: Record<string, unknown>; expected: PreferenceRecord }[] = [
    {
      name: 'strings',
      value: { prompt: 'Once', chosen: ' they were happy.', rejected: ' he was sad.' },
      expected: { format: 'preference', kind: 'text', prompt: 'Once', chosen: ' they were happy.', rejected: ' he was sad.' },
    },
    {
      name: 'message lists with an explicit prompt list',
      value: { prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
      expected: { format: 'preference', kind: 'chat', prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
    },
    {
      name: 'message lists with a string prompt (a user turn)',
      value: { prompt: 'Hi', chosen: [a('Hello!')], rejected: [a('Go away.')] },
      expected: { format: 'preference', kind: 'chat', prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
    },
    {
      name: 'whole conversations without a prompt: the shared opening turns become the prompt',
      value: { chosen: [u('Hi'), a('Hello!')], rejected: [u('Hi'), a('Go away.')] },
      expected: { format: 'preference', kind: 'chat', prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
    },
  ];
  for (const c of good) it(c.name, () => expect(validateRecord(c.value, 'preference', 3)).toEqual(c.expected));

  it('is detected by its chosen/rejected keys even though it has a prompt', () => {
    expect(shapeOf({ prompt: 'p', chosen: 'c', rejected: 'r' })).toBe('preference');
    expect(shapeOf({ chosen: [], rejected: [] })).toBe('preference');
  });
});

describe('validatePreference names the line and field of a bad pair', () => {
  const bad: { value: Record<string, unknown>; field: string; reason: RegExp }[] = [
    { value: { prompt: 'p', chosen: 'c' }, field: 'rejected', reason: /missing field "rejected"/ },
    { value: { prompt: 'p', rejected: 'r' }, field: 'chosen', reason: /missing field "chosen"/ },
    { value: { prompt: 'p', chosen: 'c', rejected: 3 }, field: 'rejected', reason: /must be a string like the other answer, found number/ },
    { value: { prompt: 'p', chosen: ' ', rejected: 'r' }, field: 'chosen', reason: /"chosen" is empty/ },
    { value: { chosen: 'c', rejected: 'r' }, field: 'prompt', reason: /missing field "prompt"/ },
    { value: { prompt: ['x'], chosen: 'c', rejected: 'r' }, field: 'prompt', reason: /must be a string when the answers are strings/ },
    { value: { prompt: 'p', chosen: 'same', rejected: 'same' }, field: 'rejected', reason: /same: nothing to prefer/ },
    { value: { chosen: [a('x')], rejected: { role: 'assistant' } }, field: 'rejected', reason: /string or a list of messages, found object/ },
    { value: { chosen: [a('x'), 'oops'], rejected: [a('y')] }, field: 'chosen[1]', reason: /chosen\[1\] must be an object/ },
    { value: { chosen: [{ role: 'bot', content: 'x' }], rejected: [a('y')] }, field: 'chosen[0].role', reason: /role must be one of user, assistant, system, found "bot"/ },
    { value: { chosen: [a('x')], rejected: [{ role: 'assistant', content: 5 }] }, field: 'rejected[0].content', reason: /content must be a string, found number/ },
    { value: { chosen: [u('Hi'), u('More')], rejected: [u('Hi'), a('y')] }, field: 'chosen', reason: /"chosen" has no assistant turn after the prompt/ },
    { value: { chosen: [u('Hi'), a('x')], rejected: [u('Hi'), a('x')] }, field: 'chosen', reason: /same conversation/ },
  ];
  for (const c of bad) {
    it(`${JSON.stringify(c.value)} -> ${c.field}`, () => {
      let err: unknown;
      try {
        validatePreference(c.value, 7);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DatasetLineError);
      const e = err as DatasetLineError;
      expect(e.line).toBe(7);
      expect(e.field).toBe(c.field);
      expect(e.message).toMatch(c.reason);
    });
  }
});

describe('renderPreference: loss only on each answer', () => {
  it('string pairs: the prompt carries no loss, each answer (and EOS) does', () => {
    const rec = validatePreference({ prompt: 'Once upon a time', chosen: ' they were happy.', rejected: ' he was sad.' }, 1);
    const p = renderPreference(rec, tok, 1);
    expect(trained(p)).toBe(' they were happy.</s>');
    expect(trained(p.rejected)).toBe(' he was sad.</s>');
    expect(p.inputIds.slice(0, 4)).toEqual(p.rejected.inputIds.slice(0, 4)); // same prompt tokens
  });

  it('conversations go through the chat template; only the final assistant turns are trained', () => {
    const rec = validatePreference({ chosen: [u('Hi'), a('Yes'), u('Story?'), a('A happy cat.')], rejected: [u('Hi'), a('Yes'), u('Story?'), a('A sad dog.')] }, 1);
    const p = renderPreference(rec, tok, 1);
    expect(trained(p)).toContain('happy cat.');
    expect(trained(p)).not.toContain('Yes');
    expect(trained(p.rejected)).toContain('sad dog.');
    expect(trained(p.rejected)).not.toContain('Yes');
  });

  it('parseDataset keeps both sides, counts their tokens, and drops a pair whose answer does not fit', async () => {
    const file = [
      '{"prompt": "Once", "chosen": " they were happy.", "rejected": " he was sad."}',
      '{"prompt": "Once", "chosen": " ok", "rejected": " this answer is much much much longer than the length limit allows it to be."}',
      '{"prompt": "Once", "chosen": " ok"}',
    ].join('\n');
    const s = await parseDatasetText(file, { fileName: 'p.jsonl', tokenizer: tok, maxLength: 16, overflow: 'drop' });
    expect(s.format).toBe('preference');
    expect({ valid: s.valid, invalid: s.invalid, dropped: s.dropped }).toEqual({ valid: 2, invalid: 1, dropped: 1 });
    expect(s.errors[0]).toEqual({ line: 3, error: 'missing field "rejected"', field: 'rejected' });
    const e = s.examples[0] as TrainingExample;
    expect(trained(e.rejected!)).toBe(' he was sad.</s>');
    expect(s.tokens).toBe(e.inputIds.length + e.rejected!.inputIds.length);
  });
});
