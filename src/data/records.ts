// Every dataset file kind as one stream of rows: JSONL (plain or gzip), a JSON array, CSV/TSV and
// Parquet. The kind is told by magic bytes first and the extension second; each reader streams (a
// Parquet file is read row group by row group through random access), so no file is ever one string.
// A row carries its 1-based position (a line for text files, a row for Parquet) and its value or error.
import { Gunzip } from 'fflate';
import { DatasetLineError, parseJsonLine } from './formats';
import { DatasetFileError, readLines, type LineProgress } from './jsonl';
import { csvRows, jsonArrayRows } from './text-tables';
import { parquetRows, type RandomAccess } from './parquet';
import type { DatasetRow } from './dataset-row';

export const DATASET_FILE_KINDS = ['jsonl', 'json-array', 'csv', 'tsv', 'parquet'] as const;
export type DatasetFileKind = (typeof DATASET_FILE_KINDS)[number];

export type { DatasetRow };

export interface RowSource {
  kind: DatasetFileKind;
  /** The bytes were gzip-compressed (progress still counts compressed bytes). */
  gzip: boolean;
  /** What `line` counts, for messages: text files have lines, Parquet files rows. */
  unit: 'line' | 'row';
  rows: AsyncGenerator<DatasetRow>;
}

export interface OpenRowsOptions {
  fileName: string;
  bytesTotal?: number;
  onProgress?: (p: LineProgress) => void;
  /** Random access to the same bytes (Blob.slice, a file handle): Parquet needs it, text does not. */
  randomAccess?: RandomAccess;
}

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"
const GZIP_MAGIC = [0x1f, 0x8b];
/** Bytes looked at before choosing a reader (magic numbers and the first non-blank character). */
const PEEK_BYTES = 4096;

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => head[i] === b);
}

/** The first non-whitespace character of a text head (after a BOM), or ''. */
function firstChar(head: Uint8Array): string {
  const s = new TextDecoder().decode(head.subarray(0, 256));
  return s.replace(/^\uFEFF/, '').trimStart().charAt(0);
}

/**
 * Which reader a file needs: magic bytes decide for Parquet and gzip, then the extension
 * (.csv, .tsv, .parquet), then the first character (`[` means a JSON array, even in a .json file).
 * `name` is the file name without a .gz suffix when the bytes were compressed.
 */
export function detectFileKind(name: string, head: Uint8Array): DatasetFileKind {
  const lower = name.toLowerCase();
  if (startsWith(head, PARQUET_MAGIC)) return 'parquet';
  if (lower.endsWith('.parquet')) {
    const found = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DatasetFileError(name, `not a Parquet file: it starts with bytes ${found || '(none)'}, a Parquet file starts with "PAR1"`);
  }
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  return firstChar(head) === '[' ? 'json-array' : 'jsonl';
}

/** Reads up to `n` bytes from the start of a stream and returns them with a stream that replays them. */
async function peek(stream: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  let done = false;
  while (got < n) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    got += r.value.length;
  }
  const head = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) {
    head.set(c, o);
    o += c.length;
  }
  let replayed = false;
  const replay = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!replayed) {
        replayed = true;
        if (head.length > 0) {
          controller.enqueue(head);
          return;
        }
      }
      if (done) return controller.close();
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head: head.subarray(0, n), stream: replay };
}

/**
 * Decompresses a gzip stream with fflate as it is read; `onCompressed` gets the compressed bytes
 * consumed so far (what the progress bar measures against the file size). A damaged or cut file
 * fails with the compressed byte offset where fflate stopped.
 */
export function gunzipStream(src: ReadableStream<Uint8Array>, fileName: string, onCompressed?: (bytes: number) => void): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  const out: Uint8Array[] = [];
  let consumed = 0;
  const gunzip = new Gunzip((chunk) => out.push(chunk));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (out.length === 0) {
        const { done, value } = await reader.read();
        try {
          if (done) gunzip.push(new Uint8Array(0), true);
          else gunzip.push(value);
        } catch (e) {
          throw new DatasetFileError(fileName, `not valid gzip data near compressed byte ${consumed}: ${(e as Error).message}`);
        }
        if (!done) {
          consumed += value.length;
          onCompressed?.(consumed);
        } else {
          for (const c of out.splice(0)) controller.enqueue(c);
          controller.close();
          return;
        }
      }
      controller.enqueue(out.shift()!);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** JSONL lines as rows; a lone `{` or `[` on line 1 means a pretty-printed document, said once. */
async function* jsonlRows(stream: ReadableStream<Uint8Array>, opts: OpenRowsOptions): AsyncGenerator<DatasetRow> {
  let first = true;
  for await (const { line, text } of readLines(stream, { fileName: opts.fileName, bytesTotal: opts.bytesTotal, onProgress: opts.onProgress })) {
    if (first && (text.trim() === '{' || text.trim() === '[')) {
      throw new DatasetFileError(opts.fileName, `line ${line} is "${text.trim()}": this looks like a multi-line JSON document, not JSONL (one JSON object per line)`);
    }
    first = false;
    try {
      yield { line, value: parseJsonLine(text, line) };
    } catch (e) {
      yield { line, error: e as DatasetLineError };
    }
  }
}

/** Chooses the reader for a file (see detectFileKind) and returns its rows, not yet read. */
export async function openRows(stream: ReadableStream<Uint8Array>, opts: OpenRowsOptions): Promise<RowSource> {
  let { head, stream: s } = await peek(stream, PEEK_BYTES);
  let name = opts.fileName;
  let gzip = false;
  let o = opts;
  if (startsWith(head, GZIP_MAGIC)) {
    gzip = true;
    name = name.replace(/\.(gz|gzip)$/i, '');
    let compressed = 0;
    const outer = opts.onProgress;
    // Lines are counted in the decompressed text, bytes in the file as stored.
    o = { ...opts, onProgress: outer ? (p) => outer({ ...p, bytesDone: compressed, bytesTotal: opts.bytesTotal }) : undefined };
    ({ head, stream: s } = await peek(gunzipStream(s, opts.fileName, (n) => (compressed = n)), PEEK_BYTES));
  } else if (/\.(gz|gzip)$/i.test(name)) {
    throw new DatasetFileError(opts.fileName, 'the name ends in .gz but the file is not gzip-compressed (it does not start with bytes 1f 8b)');
  }
  const kind = detectFileKind(name, head);
  switch (kind) {
    case 'parquet': {
      await s.cancel();
      if (gzip) throw new DatasetFileError(opts.fileName, 'a gzip-compressed Parquet file: decompress it first (Parquet compresses its own pages)');
      if (!opts.randomAccess) throw new DatasetFileError(opts.fileName, 'a Parquet file needs random access to its bytes (a File or a file on disk), not a stream');
      return { kind, gzip, unit: 'row', rows: parquetRows(opts.randomAccess, o) };
    }
    case 'csv':
    case 'tsv':
      return { kind, gzip, unit: 'line', rows: csvRows(s, { ...o, delimiter: kind === 'csv' ? ',' : '\t' }) };
    case 'json-array':
      return { kind, gzip, unit: 'line', rows: jsonArrayRows(s, o) };
    case 'jsonl':
      return { kind, gzip, unit: 'line', rows: jsonlRows(s, o) };
    default:
      return assertNever(kind);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled dataset file kind: ${String(x)}`);
}

export type { RandomAccess };
