import { describe, expect, it } from 'vitest';
import { ColumnMappingError, applyMapping, columnsFlag, parseColumnsFlag, suggestMapping, type ColumnMapping } from './columns';
import { parseDatasetText } from './dataset';
import { DatasetLineError, type DatasetRecord } from './formats';
import type { PreflightCollector } from './preflight-collect';

describe('suggestMapping: common hub column names', () => {
  it.each<[string, Record<string, unknown>, ColumnMapping | null]>([
    ['question/answer', { question: 'q', answer: 'a' }, { format: 'prompt-completion', fields: { completion: 'answer', prompt: 'question' } }],
    ['Question/Answer (case)', { Question: 'q', Answer: 'a' }, { format: 'prompt-completion', fields: { completion: 'Answer', prompt: 'Question' } }],
    ['input/output', { input: 'q', output: 'a' }, { format: 'prompt-completion', fields: { completion: 'output', prompt: 'input' } }],
    ['instruction/response', { instruction: 'i', response: 'r' }, { format: 'alpaca', fields: { instruction: 'instruction', output: 'response' } }],
    ['instruction/context/response', { instruction: 'i', context: 'c', response: 'r' }, { format: 'alpaca', fields: { instruction: 'instruction', output: 'response', input: 'context' } }],
    ['prompt/chosen_response/rejected_response', { prompt: 'p', chosen_response: 'c', rejected_response: 'r' }, { format: 'preference', fields: { chosen: 'chosen_response', rejected: 'rejected_response', prompt: 'prompt' } }],
    ['prompt/completion/label (unpaired)', { prompt: 'p', completion: 'c', label: true }, { format: 'unpaired', fields: { label: 'label', completion: 'completion', prompt: 'prompt' } }],
    [
      "TRL's conversational unpaired row (message lists)",
      { prompt: [{ role: 'user', content: 'q' }], completion: [{ role: 'assistant', content: 'a' }], label: false },
      { format: 'unpaired', fields: { label: 'label', completion: 'completion', prompt: 'prompt' } },
    ],
    ['conversations with role/content', { conversations: [{ role: 'user', content: 'a' }] }, { format: 'messages', fields: { messages: 'conversations', role: 'role', content: 'content' } }],
    ['dialog with speaker/text', { dialog: [{ speaker: 'human', text: 'a' }] }, { format: 'messages', fields: { messages: 'dialog', role: 'speaker', content: 'text' } }],
    ['messages with from/value', { messages: [{ from: 'human', value: 'a' }] }, { format: 'messages', fields: { messages: 'messages', role: 'from', content: 'value' } }],
    ['story (a text column)', { story: 's', id: 3 }, { format: 'text', fields: { text: 'story' } }],
    // Already a known format: nothing to map.
    ['prompt/completion', { prompt: 'p', completion: 'c' }, null],
    ['text', { text: 't' }, null],
    ['instruction/output', { instruction: 'i', output: 'o' }, null],
    ['messages role/content', { messages: [{ role: 'user', content: 'a' }] }, null],
    ['conversations from/value', { conversations: [{ from: 'human', value: 'a' }] }, null],
    // Nothing recognizable.
    ['col_a/col_b', { col_a: 'x', col_b: 'y' }, null],
  ])('%s', (_name, row, expected) => {
    expect(suggestMapping([row])).toEqual(expected);
  });
});

describe('applyMapping', () => {
  it('renames columns to the format\'s fields and drops the rest', () => {
    expect(applyMapping({ q: 'a', r: 'b', id: 1 }, { format: 'prompt-completion', fields: { prompt: 'q', completion: 'r' } }, 1)).toEqual({ prompt: 'a', completion: 'b' });
  });

  it('renames turn keys and normalizes roles (human/gpt, bot, model, USER)', () => {
    const m: ColumnMapping = { format: 'messages', fields: { messages: 'dialog', role: 'from', content: 'value' } };
    const row = { dialog: [{ from: 'system', value: 's' }, { from: 'USER', value: 'q' }, { from: 'gpt', value: 'a' }, { from: 'human', value: 'q2' }, { from: 'bot', value: 'a2' }] };
    expect(applyMapping(row, m, 1)).toEqual({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }, { role: 'user', content: 'q2' }, { role: 'assistant', content: 'a2' }] });
  });

  it.each<[string, unknown, ColumnMapping, string]>([
    ['a missing column', { q: 'a' }, { format: 'prompt-completion', fields: { prompt: 'q', completion: 'r' } }, 'line 7: missing column "r" (mapped to completion)'],
    ['turns that are not a list', { d: 'x' }, { format: 'messages', fields: { messages: 'd', role: 'from', content: 'value' } }, 'line 7: column "d" must be a list of turns, found string'],
    ['an unknown role', { d: [{ from: 'narrator', value: 'x' }] }, { format: 'messages', fields: { messages: 'd', role: 'from', content: 'value' } }, 'line 7: unknown role "narrator" at d[0].from'],
    ['a label that is not boolean-like', { p: 'a', c: 'b', l: 'maybe' }, { format: 'unpaired', fields: { prompt: 'p', completion: 'c', label: 'l' } }, 'line 7: column "l" (the label) must be true/false, 1/0 or good/bad, found "maybe"'],
  ])('%s is a line error naming the column', (_name, row, m, message) => {
    let err: unknown;
    try {
      applyMapping(row, m, 7);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetLineError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });

  it('message lists in prompt/completion columns pass through untouched (unpaired and prompt-completion)', () => {
    const prompt = [{ role: 'system', content: '' }, { role: 'user', content: 'q' }];
    const completion = [{ role: 'assistant', content: 'a' }];
    expect(applyMapping({ ask: prompt, say: completion, ok: 'good' }, { format: 'unpaired', fields: { prompt: 'ask', completion: 'say', label: 'ok' } }, 1)).toEqual({ prompt, completion, label: true });
    expect(applyMapping({ ask: prompt, say: completion }, { format: 'prompt-completion', fields: { prompt: 'ask', completion: 'say' } }, 1)).toEqual({ prompt, completion });
  });

  it.each([['1', true], ['0', false], ['good', true], ['False', false], [true, true]])('label %j reads as %s', (raw, label) => {
    expect(applyMapping({ p: 'a', c: 'b', l: raw }, { format: 'unpaired', fields: { prompt: 'p', completion: 'c', label: 'l' } }, 1).label).toBe(label);
  });
});

describe('parseColumnsFlag', () => {
  it.each<[string, ColumnMapping]>([
    ['prompt=question,completion=answer', { format: 'prompt-completion', fields: { prompt: 'question', completion: 'answer' } }],
    [' instruction = instr , output=resp ', { format: 'alpaca', fields: { instruction: 'instr', output: 'resp' } }],
    ['messages=dialog,role=from,content=value', { format: 'messages', fields: { messages: 'dialog', role: 'from', content: 'value' } }],
    ['prompt=p,chosen=good,rejected=bad', { format: 'preference', fields: { prompt: 'p', chosen: 'good', rejected: 'bad' } }],
    ['prompt=p,completion=c,label=thumbs', { format: 'unpaired', fields: { prompt: 'p', completion: 'c', label: 'thumbs' } }],
    ['text=story', { format: 'text', fields: { text: 'story' } }],
  ])('%j', (flag, m) => {
    expect(parseColumnsFlag(flag)).toEqual(m);
    expect(parseColumnsFlag(columnsFlag(m))).toEqual(m);
  });

  it.each([
    ['', '--columns: empty; expected field=column pairs, e.g. prompt=question,completion=answer'],
    ['prompt=a,prompt=b,completion=c', '--columns: "prompt" is mapped twice'],
    ['messages=d,role=from', '--columns: messages needs "content" mapped to a column'],
    ['=x', '--columns: "=x" is not field=column (e.g. prompt=question,completion=answer)'],
  ])('%j is refused: %s', (flag, message) => {
    expect(() => parseColumnsFlag(flag)).toThrow(new ColumnMappingError(message));
  });
});

const seen: DatasetRecord[] = [];
// Only what the records look like after validation matters here; the collector's other work is not needed.
const collector = { add: (r: DatasetRecord) => seen.push(r) } as unknown as PreflightCollector;

describe('parseDataset with mappings', () => {
  it('detects conversations with from/value roles named human/gpt under another column, and validates the mapped turns', async () => {
    const lines = [
      { chat: [{ speaker: 'human', text: 'Hi' }, { speaker: 'gpt', text: 'Hello!' }] },
      { chat: [{ speaker: 'human', text: 'Only a question' }] },
    ].map((r) => JSON.stringify(r)).join('\n');
    const s = await parseDatasetText(lines, { fileName: 'c.jsonl' });
    expect(s.mapping).toEqual({ source: 'detected', columns: { format: 'messages', fields: { messages: 'chat', role: 'speaker', content: 'text' } } });
    expect({ format: s.format, valid: s.valid, invalid: s.invalid }).toEqual({ format: 'messages', valid: 1, invalid: 1 });
    expect(s.errors[0]).toMatchObject({ line: 2, error: 'no "assistant" turn in "messages": nothing to learn from (column "chat")' });
  });

  it('a given mapping wins over detection and over a forced format', async () => {
    const s = await parseDatasetText('{"question": "q", "answer": "a", "explanation": "e"}', { fileName: 'x.jsonl', format: 'text', columns: { format: 'prompt-completion', fields: { prompt: 'question', completion: 'explanation' } } });
    expect({ format: s.format, valid: s.valid, mapping: s.mapping?.source }).toEqual({ format: 'prompt-completion', valid: 1, mapping: 'given' });
  });

  it('a forced format turns detection off: the columns are taken as they are', async () => {
    const s = await parseDatasetText('{"question": "q", "answer": "a"}', { fileName: 'x.jsonl', format: 'prompt-completion' });
    expect({ mapping: s.mapping, valid: s.valid, error: s.errors[0]?.error }).toEqual({ mapping: null, valid: 0, error: 'missing field "prompt"' });
  });

  it('unpaired feedback keeps a boolean label on each prompt/completion record (what KTO reads)', async () => {
    const rows = [{ q: 'a', r: 'good answer', ok: 1 }, { q: 'b', r: 'bad answer', ok: 0 }, { q: 'c', r: 'fine', ok: 'maybe' }].map((r) => JSON.stringify(r)).join('\n');
    const s = await parseDatasetText(rows, { fileName: 'kto.jsonl', columns: parseColumnsFlag('prompt=q,completion=r,label=ok'), preflight: collector });
    expect({ format: s.format, valid: s.valid, invalid: s.invalid }).toEqual({ format: 'prompt-completion', valid: 2, invalid: 1 });
    expect(s.errors).toEqual([{ line: 3, field: 'ok', error: 'column "ok" (the label) must be true/false, 1/0 or good/bad, found "maybe"' }]);
    expect(seen.map((r) => (r as { label?: boolean }).label)).toEqual([true, false]);
  });

  it('mapped columns holding message lists become conversational records with their labels; a bad turn is still named', async () => {
    seen.length = 0;
    const turn = (role: string, content: string) => ({ role, content });
    const rows = [
      { ask: [turn('user', 'Hi')], say: [turn('assistant', 'Hello.')], ok: 'good' },
      { ask: [turn('user', 'Hi')], say: [turn('assistant', 'Go away.')], ok: 'bad' },
      { ask: [turn('user', 'Hi')], say: [turn('user', 'Hm.')], ok: 'bad' },
    ].map((r) => JSON.stringify(r)).join('\n');
    const s = await parseDatasetText(rows, { fileName: 'kto.jsonl', columns: parseColumnsFlag('prompt=ask,completion=say,label=ok'), preflight: collector });
    expect({ format: s.format, valid: s.valid, invalid: s.invalid }).toEqual({ format: 'prompt-completion', valid: 2, invalid: 1 });
    expect(s.errors).toEqual([{ line: 3, field: 'completion[0].role', error: 'completion[0].role must be "assistant" (the completion is the model\'s answer), found "user"' }]);
    expect(seen).toEqual([
      { format: 'prompt-completion', kind: 'chat', prompt: [turn('user', 'Hi')], completion: [turn('assistant', 'Hello.')], label: true },
      { format: 'prompt-completion', kind: 'chat', prompt: [turn('user', 'Hi')], completion: [turn('assistant', 'Go away.')], label: false },
    ]);
  });
});
