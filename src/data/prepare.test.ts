import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { streamFromBytes } from './jsonl';
import { DEFAULT_DATASET_OPTIONS, prepareDataset, type DatasetOptions } from './prepare';

const MODEL = new URL('../../../shared/models/stories260K/', import.meta.url);
const tok = loadTokenizer(JSON.parse(readFileSync(new URL('tokenizer.json', MODEL), 'utf8')), JSON.parse(readFileSync(new URL('tokenizer_config.json', MODEL), 'utf8')));
const QA = readFileSync(new URL('../../public/examples/qa-prompt-completion.jsonl', import.meta.url), 'utf8');

const input = (text: string, fileName = 'qa.jsonl') => ({ stream: streamFromBytes(text), fileName, bytesTotal: text.length });
const prep = (opts: Partial<DatasetOptions>, validation: string | null = null) =>
  prepareDataset(input(QA), validation === null ? null : input(validation, 'val.jsonl'), tok, { ...DEFAULT_DATASET_OPTIONS, ...opts });

describe('prepareDataset', () => {
  const splits: { pct: number; train: number; validation: number; source: string }[] = [
    { pct: 0, train: 20, validation: 0, source: 'none' },
    { pct: 10, train: 18, validation: 2, source: 'percent' },
    { pct: 25, train: 15, validation: 5, source: 'percent' },
  ];
  for (const c of splits) {
    it(`holds out ${c.pct}% of 20 examples: ${c.validation}`, async () => {
      const p = await prep({ validationPercent: c.pct });
      expect([p.train.length, p.validation.length, p.extras.train, p.extras.validation.source]).toEqual([c.train, c.validation, c.train, c.source]);
    });
  }

  it('the same seed holds out the same lines; another seed others', async () => {
    const lines = async (seed: number) => (await prep({ validationPercent: 25, seed })).validation.map((e) => e.line);
    expect(await lines(1)).toEqual(await lines(1));
    expect(await lines(1)).not.toEqual(await lines(2));
  });

  it('a second file is the validation set, in the first file\'s format, its bad lines reported', async () => {
    const val = '{"prompt": "Q: a?\\nA:", "completion": " b"}\n{"text": "wrong format"}\n';
    const p = await prep({ validationPercent: 50 }, val);
    expect(p.train).toHaveLength(20);
    expect(p.extras.validation).toMatchObject({ source: 'file', examples: 1, fileName: 'val.jsonl', invalid: 1 });
    expect(p.extras.validation.errors?.[0].line).toBe(2);
  });

  it('packing stats: fewer rows than examples, rows no longer than maxLength', async () => {
    const p = await prep({ validationPercent: 0, maxLength: 64, packing: true });
    const longest = Math.max(...p.train.map((e) => e.inputIds.length));
    expect(longest).toBeLessThanOrEqual(64);
    expect(p.extras.packing).toMatchObject({ examples: 20, enabled: true, rowLength: 64 });
    expect(p.extras.packing.rows).toBeLessThan(20);
    expect(p.extras.packing.rows).toBeGreaterThanOrEqual(Math.ceil(p.extras.packing.tokens / 64));
  });

  it('the length histogram counts every example before truncation', async () => {
    const p = await prep({ maxLength: 8 });
    const h = p.summary.lengths!;
    expect(h.examples).toBe(20);
    expect(h.longest).toBeGreaterThan(8); // measured before the cut
    expect(p.summary.truncated).toBeGreaterThan(0);
  });
});

describe('prepareDataset: a prompt for the Use step', () => {
  const smolDir = new URL('../../../shared/tokenizers/smollm2/', import.meta.url);
  const smol = loadTokenizer(JSON.parse(readFileSync(new URL('tokenizer.json', smolDir), 'utf8')), JSON.parse(readFileSync(new URL('tokenizer_config.json', smolDir), 'utf8')));
  const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: q }, { role: 'assistant', content: a }] });

  it('chat data: the last user turn of the first held-out conversation', async () => {
    const text = Array.from({ length: 10 }, (_, i) => chat(`What is ${i} + ${i}?`, String(2 * i))).join('\n');
    const p = await prepareDataset(input(text, 'chat.jsonl'), null, smol, { ...DEFAULT_DATASET_OPTIONS, validationPercent: 20 });
    const first = p.validation[0]!.line;
    expect(p.extras.chatPrompt).toBe(`What is ${first - 1} + ${first - 1}?`);
  });

  it('plain prompt/completion data gives none', async () => {
    expect((await prep({})).extras.chatPrompt).toBeNull();
  });
});
