import { describe, expect, it } from 'vitest';
import { gzipSync } from 'fflate';
import { DatasetFileError, streamFromBytes, type LineProgress } from './jsonl';
import { detectFileKind, openRows, type DatasetRow } from './records';
import { blobRandomAccess } from './parquet';
import { writeParquetFixture } from './parquet-fixture';
import { parseDataset } from './dataset';

const enc = (s: string) => new TextEncoder().encode(s);

async function rowsOf(bytes: Uint8Array, fileName: string, chunk = 7, progress?: LineProgress[]): Promise<{ kind: string; gzip: boolean; unit: string; rows: DatasetRow[] }> {
  const src = await openRows(streamFromBytes(bytes, chunk), { fileName, bytesTotal: bytes.length, randomAccess: blobRandomAccess(new Blob([bytes as BlobPart])), onProgress: (p) => progress?.push(p) });
  const rows: DatasetRow[] = [];
  for await (const r of src.rows) rows.push(r);
  return { kind: src.kind, gzip: src.gzip, unit: src.unit, rows };
}

const values = (rows: DatasetRow[]) => rows.map((r) => (r.error ? { line: r.line, error: r.error.reason } : { line: r.line, value: r.value }));

describe('detectFileKind', () => {
  it.each([
    ['d.jsonl', '{"a":1}', 'jsonl'],
    ['d.json', '{"a":1}\n{"a":2}', 'jsonl'],
    ['d.json', '  \n[{"a":1}]', 'json-array'],
    ['d.txt', '[{"a":1}]', 'json-array'],
    ['d.csv', 'a,b\n1,2', 'csv'],
    ['D.TSV', 'a\tb', 'tsv'],
    ['noext', 'PAR1xxxx', 'parquet'],
    ['d.csv', 'PAR1xxxx', 'parquet'], // magic bytes win over the name
  ])('%s starting %j is %s', (name, head, kind) => {
    expect(detectFileKind(name, enc(head))).toBe(kind);
  });

  it('a .parquet name without the magic bytes is refused with what the file starts with', () => {
    expect(() => detectFileKind('x.parquet', enc('a,b'))).toThrow('x.parquet: not a Parquet file: it starts with bytes 61 2c 62, a Parquet file starts with "PAR1"');
  });
});

describe('CSV and TSV', () => {
  // BOM, CRLF, a quoted field holding a comma, a doubled quote and a line break, an empty cell, a blank line.
  const awkward = '\uFEFFquestion,answer,note\r\n"Hi, there","He said ""yes""\r\nand left",\r\nplain,two,x\r\n\r\n"multi\r\nline\r\nq",a,\r\n';

  it.each([1, 3, 7, 1000])('reads quoted commas, quotes and newlines and empty cells, in chunks of %i bytes', async (chunk) => {
    const { kind, rows } = await rowsOf(enc(awkward), 'qa.csv', chunk);
    expect(kind).toBe('csv');
    expect(values(rows)).toEqual([
      { line: 2, value: { question: 'Hi, there', answer: 'He said "yes"\r\nand left', note: '' } },
      { line: 4, value: { question: 'plain', answer: 'two', note: 'x' } },
      { line: 6, value: { question: 'multi\r\nline\r\nq', answer: 'a', note: '' } },
    ]);
  });

  it('a row with the wrong number of fields is a bad row at its line; the others still count', async () => {
    const { rows } = await rowsOf(enc('prompt,completion\na,b\n"x\ny",b,extra\nc,d'), 'f.csv');
    expect(values(rows)).toEqual([
      { line: 2, value: { prompt: 'a', completion: 'b' } },
      { line: 3, error: 'has 3 fields but the header has 2 (prompt, completion); a field holding the delimiter or a line break must be quoted' },
      { line: 5, value: { prompt: 'c', completion: 'd' } },
    ]);
  });

  it('a quote never closed is one bad row that says so', async () => {
    const { rows } = await rowsOf(enc('prompt,completion\na,b\nc,"never closed\nd,e\n'), 'f.csv', 5);
    expect(values(rows)).toEqual([
      { line: 2, value: { prompt: 'a', completion: 'b' } },
      { line: 3, error: 'a quoted field is never closed (a " is missing); the rest of the file was read as that one field' },
    ]);
  });

  it('reads TSV by extension, tabs inside quotes kept', async () => {
    const { kind, rows } = await rowsOf(enc('prompt\tcompletion\n"a\tb"\tc\n'), 'f.tsv', 4);
    expect(kind).toBe('tsv');
    expect(values(rows)).toEqual([{ line: 2, value: { prompt: 'a\tb', completion: 'c' } }]);
  });

  it('refuses a duplicate header name and a binary file', async () => {
    await expect(rowsOf(enc('a,b,a\n1,2,3\n'), 'f.csv')).rejects.toThrow('f.csv: line 1: column "a" appears twice in the header row');
    await expect(rowsOf(new Uint8Array([0x61, 0x2c, 0, 1, 2]), 'f.csv')).rejects.toThrow('not a text file (NUL byte at offset 2); expected CSV with a header row');
  });
});

describe('JSON array', () => {
  const text = '[\n  {"text": "a, [b] {c}"},\n  {"text": "esc \\" ], quote"},\n  {"text": \n   "two lines"},\n  {"bad": tru},\n  {"text": "last"}\n]\n';

  it.each([1, 5, 64])('splits elements with brackets, commas and escaped quotes in strings (chunks of %i)', async (chunk) => {
    const { kind, rows } = await rowsOf(enc(text), 'a.json', chunk);
    expect(kind).toBe('json-array');
    expect(rows.map((r) => r.line)).toEqual([2, 3, 4, 6, 7]);
    expect(rows.filter((r) => !r.error).map((r) => (r.value as { text: string }).text)).toEqual(['a, [b] {c}', 'esc " ], quote', 'two lines', 'last']);
    expect(rows[3].error?.reason).toMatch(/^invalid JSON: /);
  });

  it.each([
    ['[{"text":"a"},', 'a.json: the file ends before the array\'s closing "]" (line 1)'],
    ['[{"text":"a"', 'a.json: the file ends inside the element starting on line 1: the array is not closed with "]"'],
    ['[{"text":"a"}]\n x', 'a.json: text after the array\'s closing "]" (line 2, byte ~17: found "x")'],
    ['[{"text":"a"},,{}]', 'a.json: expected an array element (line 1, byte ~18: found ",")'],
  ])('%j fails with where it broke', async (t, message) => {
    await expect(rowsOf(enc(t), 'a.json', 1000)).rejects.toThrow(message);
  });

  it('an empty array has no rows', async () => {
    expect((await rowsOf(enc(' [ ] '), 'a.json')).rows).toEqual([]);
  });
});

describe('gzip-compressed JSONL', () => {
  const jsonl = Array.from({ length: 300 }, (_, i) => JSON.stringify({ prompt: `q${i}`, completion: `a${i}` })).join('\n');
  const gz = gzipSync(enc(jsonl));

  it('is detected by its magic bytes, decompressed as it streams, and progress counts compressed bytes', async () => {
    const progress: LineProgress[] = [];
    const { kind, gzip, rows } = await rowsOf(gz, 'data.jsonl.gz', 97, progress);
    expect({ kind, gzip, rows: rows.length }).toEqual({ kind: 'jsonl', gzip: true, rows: 300 });
    expect(rows[299]).toEqual({ line: 300, value: { prompt: 'q299', completion: 'a299' } });
    expect(progress.at(-1)).toMatchObject({ bytesDone: gz.length, bytesTotal: gz.length, lines: 300 });
    expect(progress.every((p) => p.bytesDone <= gz.length)).toBe(true);
  });

  it('a gzip file cut short fails with the compressed byte where it stopped', async () => {
    const err = await rowsOf(gz.subarray(0, 200), 'data.jsonl.gz', 64).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFileError);
    expect((err as Error).message).toMatch(/^data\.jsonl\.gz: not valid gzip data near compressed byte 200: /);
  });

  it('a .gz name on plain text is refused', async () => {
    await expect(rowsOf(enc('{"text":"a"}'), 'x.jsonl.gz')).rejects.toThrow('x.jsonl.gz: the name ends in .gz but the file is not gzip-compressed (it does not start with bytes 1f 8b)');
  });

  it('a gzipped CSV is read as CSV', async () => {
    const { kind, gzip, rows } = await rowsOf(gzipSync(enc('question,answer\n"a\nb",c\n')), 'qa.csv.gz', 5);
    expect({ kind, gzip }).toEqual({ kind: 'csv', gzip: true });
    expect(values(rows)).toEqual([{ line: 2, value: { question: 'a\nb', answer: 'c' } }]);
  });
});

describe('Parquet', () => {
  const n = 10;
  const file = writeParquetFixture(
    [
      { name: 'question', type: 'string', values: Array.from({ length: n }, (_, i) => (i === 4 ? null : `q${i}`)) },
      { name: 'answer', type: 'string', values: Array.from({ length: n }, (_, i) => (i === 7 ? null : `a${i} ✓`)) },
      { name: 'score', type: 'int64', values: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : i * 10)) },
      { name: 'ok', type: 'boolean', values: Array.from({ length: n }, (_, i) => i % 2 === 0) },
    ],
    4, // row groups of 4, 4 and 2 rows
  );

  it('reads every row group in order, nulls left out of the row, with progress per group', async () => {
    const progress: LineProgress[] = [];
    const { kind, unit, rows } = await rowsOf(file, 'qa.parquet', 7, progress);
    expect({ kind, unit }).toEqual({ kind: 'parquet', unit: 'row' });
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows[0].value).toEqual({ question: 'q0', answer: 'a0 ✓', ok: true });
    expect(rows[4].value).toEqual({ answer: 'a4 ✓', score: 40, ok: true });
    expect(rows[7].value).toEqual({ question: 'q7', score: 70, ok: false });
    expect(progress.map((p) => p.lines)).toEqual([4, 8, 10]);
    expect(progress.at(-1)!.bytesDone).toBe(file.length);
  });

  it('a damaged footer is one DatasetFileError naming the footer', async () => {
    const bad = file.slice();
    bad.fill(0xff, bad.length - 30, bad.length - 8);
    await expect(rowsOf(bad, 'qa.parquet')).rejects.toThrow(/^qa\.parquet: not a readable Parquet file \(footer\): /);
  });

  it('without random access (a bare stream) Parquet is refused with the reason', async () => {
    const src = openRows(streamFromBytes(file), { fileName: 'qa.parquet' });
    await expect(src).rejects.toThrow('qa.parquet: a Parquet file needs random access to its bytes (a File or a file on disk), not a stream');
  });

  it('parseDataset maps question/answer by name, counts rows, and names the column of a null cell', async () => {
    const s = await parseDataset(streamFromBytes(file), { fileName: 'qa.parquet', bytesTotal: file.length, randomAccess: blobRandomAccess(new Blob([file as BlobPart])) });
    expect(s.mapping).toEqual({ source: 'detected', columns: { format: 'prompt-completion', fields: { completion: 'answer', prompt: 'question' } } });
    expect({ format: s.format, lines: s.lines, valid: s.valid, invalid: s.invalid, unit: s.unit }).toEqual({ format: 'prompt-completion', lines: 10, valid: 8, invalid: 2, unit: 'row' });
    expect(s.errors).toEqual([
      { line: 5, error: 'missing column "question" (mapped to prompt)', field: 'question' },
      { line: 8, error: 'missing column "answer" (mapped to completion)', field: 'answer' },
    ]);
    expect(s.columns.map((c) => [c.name, c.types.join('|'), c.samples[0]])).toEqual([
      ['question', 'string', 'q0'],
      ['answer', 'string', 'a0 ✓'],
      ['ok', 'boolean', 'true'],
      ['score', 'number', '10'],
    ]);
  });
});
