import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { DatasetFileError, streamFromBytes, type LineProgress } from './jsonl';
import { DatasetAbortedError, parseDataset, parseDatasetText, splitTrainValidation, type DatasetSummary, type ParseDatasetOptions } from './dataset';

const MODEL = new URL('../../../shared/models/stories260K/', import.meta.url);
const tok: TextTokenizer = loadTokenizer(
  JSON.parse(readFileSync(new URL('tokenizer.json', MODEL), 'utf8')),
  JSON.parse(readFileSync(new URL('tokenizer_config.json', MODEL), 'utf8')),
);
const FIXTURES = new URL('../../tests/fixtures/datasets/', import.meta.url);
const EXAMPLES = new URL('../../public/examples/', import.meta.url);

function parseFile(url: URL, opts: Partial<ParseDatasetOptions> = {}, chunkBytes = 7): Promise<DatasetSummary> {
  const bytes = new Uint8Array(readFileSync(url));
  return parseDataset(streamFromBytes(bytes, chunkBytes), { fileName: url.pathname.split('/').pop() as string, bytesTotal: bytes.length, ...opts });
}

describe('fixture files', () => {
  it('mixed-quality.jsonl: valid lines kept, every bad line listed with its number and reason', async () => {
    const s = await parseFile(new URL('mixed-quality.jsonl', FIXTURES), { tokenizer: tok });
    expect(s.format).toBe('text');
    expect({ lines: s.lines, valid: s.valid, invalid: s.invalid }).toEqual({ lines: 12, valid: 4, invalid: 8 });
    expect(s.errors.map((e) => [e.line, e.error.replace(/^invalid JSON: .*/, 'invalid JSON')])).toEqual([
      [4, 'invalid JSON'],
      [5, 'missing field "text"'],
      [6, 'field "text" must be a string, found number'],
      [7, 'field "text" is empty'],
      [8, 'line is in "prompt-completion" format but the file is "text"'],
      [9, 'expected a JSON object like {"text": "..."}, found array'],
      [11, 'invalid JSON'],
      [12, 'field "text" must be a string, found null'],
    ]);
    expect(s.examples.map((e) => e.line)).toEqual([1, 2, 10, 13]);
    expect(s.tokens).toBe(s.examples.reduce((n, e) => n + e.inputIds.length, 0));
    expect(s.trainedTokens).toBe(s.tokens - s.examples.length); // everything but each BOS
  });

  it('mixed-chat.jsonl: chat-specific bad lines, and the fallback template is named', async () => {
    const s = await parseFile(new URL('mixed-chat.jsonl', FIXTURES), { tokenizer: tok });
    expect(s.format).toBe('messages');
    expect({ valid: s.valid, invalid: s.invalid }).toEqual({ valid: 3, invalid: 6 });
    expect(s.errors.map((e) => [e.line, e.error])).toEqual([
      [3, 'unknown role "robot" at messages[3] (expected user, assistant, system)'],
      [4, 'field "messages[1].content" is empty'],
      [5, 'no "assistant" turn in "messages": nothing to learn from'],
      [6, 'field "messages" must be an array, found string'],
      [7, 'line is in "sharegpt" format but the file is "messages"'],
      [8, 'field "messages[1].content" must be a string, found number'],
    ]);
    expect(s.chatTemplate?.fallback).toBe(true);
  });

  it('crlf-bom.jsonl: BOM, CRLF, blank line and no final newline are all fine', async () => {
    const s = await parseFile(new URL('crlf-bom.jsonl', FIXTURES), { tokenizer: tok }, 3);
    expect(s.format).toBe('text');
    expect({ lines: s.lines, valid: s.valid, invalid: s.invalid }).toEqual({ lines: 4, valid: 3, invalid: 1 });
    expect(s.errors).toEqual([{ line: 3, error: 'line is in "prompt-completion" format but the file is "text"' }]);
    expect(s.preview[0].text).toBe('Zed is a kind dragon.</s>');
    expect(s.preview[1].text).toBe('Zed can fly. 🐉</s>');
  });

  it('not-text.jsonl: one DatasetFileError naming the file', async () => {
    const err = await parseFile(new URL('not-text.jsonl', FIXTURES)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFileError);
    expect((err as Error).message).toMatch(/^not-text\.jsonl: not a text file/);
  });

  it('empty.jsonl: no format, no lines', async () => {
    const s = await parseFile(new URL('empty.jsonl', FIXTURES), { tokenizer: tok });
    expect(s).toMatchObject({ format: null, lines: 0, valid: 0, invalid: 0, examples: [] });
  });

  it('the shipped examples parse cleanly', async () => {
    const stories = await parseFile(new URL('stories-dragon.jsonl', EXAMPLES), { tokenizer: tok }, 4096);
    expect(stories).toMatchObject({ format: 'text', invalid: 0 });
    expect(stories.valid).toBeGreaterThanOrEqual(40);
    // The story text should be mostly whole-word tokens, not byte fallbacks: the model knows these words.
    const bytes = stories.examples.flatMap((e) => e.inputIds).filter((id) => id >= 3 && id <= 258).length;
    expect(bytes / stories.tokens).toBeLessThan(0.05);
    const qa = await parseFile(new URL('qa-prompt-completion.jsonl', EXAMPLES), { tokenizer: tok }, 4096);
    expect(qa).toMatchObject({ format: 'prompt-completion', invalid: 0, valid: 20 });
  });
});

describe('parseDataset options', () => {
  const pc = ['{"prompt": "Once upon a time", "completion": ", there was a cat."}', '{"prompt": "The cat", "completion": " and the dog played in the park all day long."}'].join('\n');

  it('a forced format turns lines of another shape into errors', async () => {
    const s = await parseDatasetText(pc, { fileName: 'f', format: 'text' });
    expect(s.format).toBe('text');
    expect(s.invalid).toBe(2);
  });

  it('lines of no known shape are errors that list the formats', async () => {
    const s = await parseDatasetText('{"a": 1}\n{"b": 2}', { fileName: 'f' });
    expect(s.format).toBeNull();
    expect(s.errors[0].error).toMatch(/^not a known dataset format; expected one of \{"text": "..."\}/);
  });

  const lengthCases: { name: string; maxLength?: number; overflow?: 'truncate' | 'drop'; lengths: number[]; truncated: number; dropped: number }[] = [
    { name: 'no limit', lengths: [13, 23], truncated: 0, dropped: 0 },
    { name: 'truncate to 12', maxLength: 12, lengths: [12, 12], truncated: 2, dropped: 0 },
    { name: 'drop over 14', maxLength: 14, overflow: 'drop', lengths: [13], truncated: 0, dropped: 1 },
    { name: 'truncate to 5 leaves the first with no completion: dropped', maxLength: 5, lengths: [5], truncated: 2, dropped: 1 },
  ];
  for (const c of lengthCases) {
    it(`max length: ${c.name}`, async () => {
      const s = await parseDatasetText(pc, { fileName: 'f', tokenizer: tok, maxLength: c.maxLength, overflow: c.overflow });
      expect(s.examples.map((e) => e.inputIds.length)).toEqual(c.lengths);
      expect({ truncated: s.truncated, dropped: s.dropped, valid: s.valid }).toEqual({ truncated: c.truncated, dropped: c.dropped, valid: 2 });
      expect(s.tokens).toBe(c.lengths.reduce((a, b) => a + b, 0));
    });
  }

  it('preview shows tokens with their loss flags', async () => {
    const s = await parseDatasetText(pc, { fileName: 'f', tokenizer: tok, previewCount: 1 });
    expect(s.preview).toHaveLength(1);
    const p = s.preview[0];
    expect(p.text).toBe('Once upon a time, there was a cat.</s>');
    expect(p.tokens.slice(0, 6)).toEqual([
      { id: 1, text: '<s>', loss: false },
      { id: 403, text: ' Once', loss: false },
      { id: 407, text: ' upon', loss: false },
      { id: 261, text: ' a', loss: false },
      { id: 378, text: ' time', loss: false },
      { id: 432, text: ',', loss: true },
    ]);
  });

  it('keeps only maxErrorsKept errors but counts them all', async () => {
    const text = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? '{"text": "ok"}' : 'bad')).join('\n');
    const s = await parseDatasetText(text, { fileName: 'f', maxErrorsKept: 5 });
    expect(s.invalid).toBe(20);
    expect(s.errors.map((e) => e.line)).toEqual([2, 3, 5, 6, 8]);
  });

  it('detection waits for the first recognizable lines even after many bad ones', async () => {
    const text = [...Array.from({ length: 60 }, () => 'junk'), '{"prompt": "a", "completion": "b"}'].join('\n');
    const s = await parseDatasetText(text, { fileName: 'f' });
    expect(s.format).toBe('prompt-completion');
    expect({ valid: s.valid, invalid: s.invalid }).toEqual({ valid: 1, invalid: 60 });
  });

  it('a pretty-printed JSON array is read element by element (each at the line it starts on)', async () => {
    const s = await parseDatasetText('[\n  {"text": "a"},\n  {"text": "b"}\n]\n', { fileName: 'arr.json' });
    expect({ kind: s.fileKind, format: s.format, valid: s.valid }).toEqual({ kind: 'json-array', format: 'text', valid: 2 });
  });

  it('a pretty-printed JSON object is one DatasetFileError, not a line per error', async () => {
    const err = await parseDatasetText('{\n  "text": "a"\n}\n', { fileName: 'one.json' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFileError);
    expect((err as Error).message).toBe('one.json: line 1 is "{": this looks like a multi-line JSON document, not JSONL (one JSON object per line)');
  });

  it('an aborted signal stops parsing with DatasetAbortedError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(parseDatasetText('{"text": "a"}', { fileName: 'f', signal: ac.signal })).rejects.toBeInstanceOf(DatasetAbortedError);
  });
});

describe('splitTrainValidation', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  it('is deterministic for a seed, disjoint, complete and order-preserving', () => {
    const a = splitTrainValidation(items, 10, 42);
    const b = splitTrainValidation(items, 10, 42);
    expect(a).toEqual(b);
    expect(a.validation).toHaveLength(10);
    expect([...a.train, ...a.validation].sort((x, y) => x - y)).toEqual(items);
    expect(a.validation).toEqual([...a.validation].sort((x, y) => x - y));
  });
  it('a different seed picks a different set', () => {
    expect(splitTrainValidation(items, 10, 1).validation).not.toEqual(splitTrainValidation(items, 10, 2).validation);
  });
  const sizes: [number, number, number][] = [
    [0, 0, 0],
    [1, 10, 0],
    [2, 1, 1],
    [10, 0, 0],
    [10, 100, 9],
    [10, 25, 3],
  ];
  for (const [n, pct, k] of sizes) {
    it(`${n} examples at ${pct}% -> ${k} held out`, () => {
      expect(splitTrainValidation(items.slice(0, n), pct, 7).validation).toHaveLength(k);
    });
  }
});

/** A stream that generates `lines` JSONL lines on the fly, so the test itself holds no big string. */
function generatedStream(lines: number, padChars = 0, linesPerChunk = 1000): ReadableStream<Uint8Array> {
  const pad = ' Zed was happy.'.repeat(Math.ceil(padChars / 15)).slice(0, padChars);
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= lines) return controller.close();
      let s = '';
      const end = Math.min(lines, i + linesPerChunk);
      for (; i < end; i++) s += i % 1000 === 999 ? 'not json\n' : `{"text": "Zed the kind purple dragon flew over the big hill, story number ${i}.${pad}"}\r\n`;
      controller.enqueue(enc.encode(s));
    },
  });
}

describe('large files', () => {
  it('parses 400,000 lines (100 MB) through the streaming path with bounded memory', async () => {
    const LINES = 400_000;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let last: LineProgress | undefined;
    const t0 = performance.now();
    const s = await parseDataset(generatedStream(LINES, 180), {
      fileName: 'big.jsonl',
      onProgress: (p) => {
        last = p;
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      },
    });
    const ms = performance.now() - t0;
    gc?.(); // only with node --expose-gc; otherwise `after` still holds uncollected garbage
    const after = process.memoryUsage().heapUsed;
    expect(s.lines).toBe(LINES);
    expect(s.invalid).toBe(LINES / 1000);
    expect(s.valid).toBe(LINES - LINES / 1000);
    expect(s.errors).toHaveLength(100);
    expect(last?.lines).toBe(LINES);
    const mb = (x: number) => Math.round(x / 1048576);
    console.log(`${LINES} lines (${mb(last?.bytesDone ?? 0)} MB) in ${Math.round(ms)} ms; heapUsed before ${mb(before)} MB, peak ${mb(peak)} MB, after ${mb(after)} MB`);
    // Holding the file as one string would take at least its size in heap; the streaming path only
    // holds a chunk, the current line and young-generation garbage (V8 collects that lazily).
    expect(last?.bytesDone).toBeGreaterThan(95 * 1048576);
    expect(peak - before).toBeLessThan(60 * 1048576);
    if (gc) expect(after - before).toBeLessThan(8 * 1048576);
  });

  it('tokenizes 20,000 lines with stories260K and reports the rate', async () => {
    const t0 = performance.now();
    const s = await parseDataset(generatedStream(20_000), { fileName: 'big.jsonl', tokenizer: tok, previewCount: 0 });
    const ms = performance.now() - t0;
    expect(s.examples).toHaveLength(s.valid);
    console.log(`20k lines tokenized in ${Math.round(ms)} ms: ${s.tokens} tokens, ${Math.round(s.tokens / (ms / 1000))} tokens/s`);
  });
});

describe('prompt rows (GRPO)', () => {
  it('a file of prompts with no completion anywhere is read as prompts: tokens with BOS, nothing trained, the whole row kept', async () => {
    const text = ['{"prompt": "Once upon a time", "word": "Lily"}', '{"prompt": "The cat"}', '{"prompt": ""}', '{"word": "x"}'].join('\n');
    const s = await parseDatasetText(text, { fileName: 'p.jsonl', tokenizer: tok });
    expect(s.format).toBe('prompt');
    expect({ valid: s.valid, invalid: s.invalid }).toEqual({ valid: 2, invalid: 2 });
    expect(s.errors).toEqual([
      { line: 3, error: 'field "prompt" is empty', field: 'prompt' },
      { line: 4, error: 'missing field "prompt"', field: 'prompt' },
    ]);
    // Forced to prompts, a line with an answer says so rather than dropping the answer silently.
    const forced = await parseDatasetText('{"prompt": "The dog", "completion": "ran"}', { fileName: 'p.jsonl', tokenizer: tok, format: 'prompt' });
    expect(forced.errors).toEqual([{ line: 1, error: 'line has a "completion" but the file holds prompts only (GRPO samples the answers)', field: 'completion' }]);
    const [a, b] = s.examples;
    expect(a.inputIds).toEqual(tok.encode('Once upon a time', { addSpecialTokens: true }));
    expect(a.inputIds.at(-1)).not.toBe(tok.eosTokenId);
    expect(a.lossMask.every((m) => m === 0)).toBe(true);
    expect({ prompt: a.prompt, row: a.row, line: a.line }).toEqual({ prompt: 'Once upon a time', row: { prompt: 'Once upon a time', word: 'Lily' }, line: 1 });
    expect(b.line).toBe(2);
    expect(s.trainedTokens).toBe(0);
  });

  it('a prompt that leaves no room for a completion within maxLength is left out, not cut', async () => {
    const s = await parseDatasetText('{"prompt": "Once upon a time there was a little girl"}\n{"prompt": "Hi"}', { fileName: 'p.jsonl', tokenizer: tok, maxLength: 5 });
    expect({ valid: s.valid, dropped: s.dropped, examples: s.examples.map((e) => e.prompt) }).toEqual({ valid: 2, dropped: 1, examples: ['Hi'] });
  });

  it('a prompt/completion file keeps each plain prompt and its source row (GRPO can read it; SFT ignores them)', async () => {
    const s = await parseDatasetText('{"question": "2+2=", "answer": "4"}', { fileName: 'qa.jsonl', tokenizer: tok });
    expect(s.mapping?.columns).toEqual({ format: 'prompt-completion', fields: { completion: 'answer', prompt: 'question' } });
    expect({ prompt: s.examples[0].prompt, row: s.examples[0].row }).toEqual({ prompt: '2+2=', row: { question: '2+2=', answer: '4' } });
  });

  it('a lone question column maps to prompts', async () => {
    const s = await parseDatasetText('{"question": "Why is the sky blue?", "id": 7}', { fileName: 'q.jsonl', tokenizer: tok });
    expect(s.mapping?.columns).toEqual({ format: 'prompt', fields: { prompt: 'question' } });
    expect(s.format).toBe('prompt');
    expect({ prompt: s.examples[0].prompt, row: s.examples[0].row }).toEqual({ prompt: 'Why is the sky blue?', row: { question: 'Why is the sky blue?', id: 7 } });
  });
});
