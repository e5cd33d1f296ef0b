import { describe, expect, it } from 'vitest';
import { gzipSync } from 'fflate';
import { pickLines, rowsAsJsonl } from './exact-rows';
import { streamFromBytes } from './jsonl';
import { blobRandomAccess } from './parquet';
import { writeParquetFixture } from './parquet-fixture';

const src = (bytes: Uint8Array | string, fileName: string, mapping: Parameters<typeof rowsAsJsonl>[0]['mapping'] = null) => {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return { stream: () => streamFromBytes(b, 5), fileName, randomAccess: blobRandomAccess(new Blob([b as BlobPart])), mapping };
};

describe('the rows a run names, written back as JSONL', () => {
  it('a plain JSONL file gives its own lines, in the order asked', () => {
    expect(pickLines('\uFEFF{"text":"a"}\r\n\r\n{"text": "b"}\n', [3, 1])).toBe('{"text": "b"}\n{"text":"a"}\n');
  });

  it('CSV rows by the line they start on, mapped, with quoted newlines kept inside the JSON', async () => {
    const csv = 'q,a\n"one\ntwo",x\nthree,y\n';
    expect(await rowsAsJsonl(src(csv, 'f.csv', { format: 'prompt-completion', fields: { prompt: 'q', completion: 'a' } }), [4, 2])).toBe('{"prompt":"three","completion":"y"}\n{"prompt":"one\\ntwo","completion":"x"}\n');
  });

  it('Parquet rows by number, and gzip JSONL by line', async () => {
    const pq = writeParquetFixture([{ name: 'text', type: 'string', values: ['r1', 'r2', 'r3', 'r4', 'r5'] }], 2);
    expect(await rowsAsJsonl(src(pq, 'f.parquet'), [5, 3])).toBe('{"text":"r5"}\n{"text":"r3"}\n');
    const gz = gzipSync(new TextEncoder().encode('{"text":"a"}\n{"text":"b"}\n'));
    expect(await rowsAsJsonl(src(gz, 'f.jsonl.gz'), [2])).toBe('{"text":"b"}\n');
  });

  it('a row the file no longer has is an error, not a silent gap', async () => {
    await expect(rowsAsJsonl(src('{"text":"a"}\n', 'f.jsonl'), [1, 7])).rejects.toThrow('line 7: f.jsonl has no line 7 any more: was the file changed since it was read?');
  });
});
