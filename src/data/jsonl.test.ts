import { describe, expect, it } from 'vitest';
import { DatasetFileError, readLines, streamFromBytes, type JsonlLine, type LineProgress } from './jsonl';

async function collect(data: Uint8Array | string, chunkBytes = 64 * 1024, keepBlank = false): Promise<JsonlLine[]> {
  const out: JsonlLine[] = [];
  for await (const l of readLines(streamFromBytes(data, chunkBytes), { fileName: 't.jsonl', keepBlank })) out.push(l);
  return out;
}

const BOM = '\uFEFF';

describe('readLines splits lines the way an editor numbers them', () => {
  const cases: { name: string; input: string; expected: [number, string][] }[] = [
    { name: 'LF endings', input: 'a\nb\nc\n', expected: [[1, 'a'], [2, 'b'], [3, 'c']] },
    { name: 'CRLF endings are stripped', input: 'a\r\nb\r\n', expected: [[1, 'a'], [2, 'b']] },
    { name: 'final line without newline is kept', input: 'a\nb', expected: [[1, 'a'], [2, 'b']] },
    { name: 'final CRLF-less line with CR', input: 'a\r\nb\r', expected: [[1, 'a'], [2, 'b']] },
    { name: 'blank lines are skipped but counted', input: 'a\n\n  \r\nb\n', expected: [[1, 'a'], [4, 'b']] },
    { name: 'UTF-8 BOM is removed from the first line', input: `${BOM}{"x":1}\n`, expected: [[1, '{"x":1}']] },
    { name: 'empty file yields nothing', input: '', expected: [] },
    { name: 'BOM-only file yields nothing', input: BOM, expected: [] },
    { name: 'multi-byte characters survive', input: 'héllo 🐉\n日本\n', expected: [[1, 'héllo 🐉'], [2, '日本']] },
  ];
  for (const chunk of [1, 2, 3, 7, 1 << 16]) {
    for (const c of cases) {
      it(`${c.name} (chunks of ${chunk} bytes)`, async () => {
        const got = await collect(c.input, chunk);
        expect(got.map((l) => [l.line, l.text])).toEqual(c.expected);
      });
    }
  }

  it('keepBlank yields blank lines with their numbers', async () => {
    const got = await collect('a\n\nb', 4, true);
    expect(got.map((l) => [l.line, l.text])).toEqual([[1, 'a'], [2, ''], [3, 'b']]);
  });

  it('a 4-byte character split across every possible chunk boundary decodes intact', async () => {
    const text = `${'x'.repeat(1030)}🐉\n`;
    for (let chunk = 1020; chunk < 1040; chunk++) {
      const got = await collect(text, chunk);
      expect(got[0].text.endsWith('🐉')).toBe(true);
      expect(got[0].text).not.toContain('\uFFFD');
    }
  });
});

describe('readLines rejects files that are not text with one DatasetFileError', () => {
  const bad: { name: string; bytes: Uint8Array; reason: RegExp }[] = [
    { name: 'NUL bytes', bytes: new Uint8Array([0x7b, 0x22, 0x00, 0x01, 0x02, 0x0a]), reason: /NUL byte at offset 2/ },
    { name: 'invalid UTF-8', bytes: new Uint8Array([0x7b, 0xff, 0xfe, 0x80, 0x0a]), reason: /invalid UTF-8/ },
    { name: 'a PNG header', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), reason: /not a text file/ },
  ];
  for (const b of bad) {
    it(b.name, async () => {
      const err = await collect(b.bytes, 3).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetFileError);
      expect((err as Error).message).toMatch(b.reason);
      expect((err as Error).message).toContain('t.jsonl');
    });
  }

  it('a line longer than maxLineChars is reported as not JSONL', async () => {
    const it = readLines(streamFromBytes('x'.repeat(5000), 100), { fileName: 'big.json', maxLineChars: 1000 });
    await expect(it.next()).rejects.toThrow(/line 1 is longer than 1000/);
  });
});

describe('readLines progress', () => {
  it('reports bytes and lines, ending at the full size', async () => {
    const text = 'one\ntwo\nthree\n'.repeat(100);
    const seen: LineProgress[] = [];
    const lines: JsonlLine[] = [];
    for await (const l of readLines(streamFromBytes(text, 50), { fileName: 'p', bytesTotal: text.length, onProgress: (p) => seen.push(p) })) lines.push(l);
    expect(lines).toHaveLength(300);
    const last = seen[seen.length - 1];
    expect(last).toEqual({ bytesDone: text.length, bytesTotal: text.length, lines: 300 });
    for (let i = 1; i < seen.length; i++) expect(seen[i].bytesDone).toBeGreaterThanOrEqual(seen[i - 1].bytesDone);
  });
});
