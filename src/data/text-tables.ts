// Streaming readers for the two text files that are not one record a line: CSV/TSV (papaparse's
// parser fed chunk by chunk, a header row naming the columns; quoted fields may hold newlines,
// delimiters and doubled quotes) and a JSON array of objects (split element by element by a small
// scanner, each element parsed on its own). Rows carry the physical line where they start.
import Papa from 'papaparse';
import { DatasetLineError, parseJsonLine } from './formats';
import { DEFAULT_MAX_LINE_CHARS, DatasetFileError, SNIFF_BYTES, assertLooksLikeText, type LineProgress } from './jsonl';
import type { DatasetRow } from './dataset-row';

interface TextReadOptions {
  fileName: string;
  bytesTotal?: number;
  onProgress?: (p: LineProgress) => void;
}

/** Decoded text chunks of a UTF-8 stream (BOM dropped), after checking the head is text; counts bytes. */
async function* decodeText(stream: ReadableStream<Uint8Array>, fileName: string, expected: string, bytes: { done: number }): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  const reader = stream.getReader();
  let sniffed = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        const tail = decoder.decode();
        if (tail) yield tail;
        return;
      }
      if (!sniffed) {
        assertLooksLikeText(value.subarray(0, SNIFF_BYTES), fileName, expected);
        sniffed = true;
      }
      bytes.done += value.length;
      yield decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * CSV or TSV rows as objects keyed by the header row. Cells stay strings (an empty cell is "");
 * a row with a different number of fields than the header, or a quote never closed, is a bad row.
 */
export async function* csvRows(stream: ReadableStream<Uint8Array>, opts: TextReadOptions & { delimiter: ',' | '\t' }): AsyncGenerator<DatasetRow> {
  const what = opts.delimiter === ',' ? 'CSV with a header row' : 'TSV with a header row';
  const bytes = { done: 0 };
  let header: string[] | null = null;
  let pending = ''; // text after the last complete row
  let pendingLine = 1; // the physical line `pending` starts on
  let newline: '\n' | '\r\n' | null = null;
  let rowsRead = 0;

  // Parses `text`; complete rows come back with their start line. With `final` false the last
  // (possibly cut) row is left in `pending`, as papaparse's own chunked reader does.
  const parse = (text: string, final: boolean): DatasetRow[] => {
    newline ??= text.includes('\r\n') ? '\r\n' : '\n';
    const found: { fields: string[]; start: number; missingQuote: boolean }[] = [];
    let start = 0;
    const parser = new Papa.Parser({
      delimiter: opts.delimiter,
      newline,
      // The bare Parser hands `step` a one-row batch (papaparse's ParserHandle unwraps it; we do here).
      step: (r: Papa.ParseResult<string[]>) => {
        found.push({ fields: r.data[0], start, missingQuote: r.errors.some((e) => e.code === 'MissingQuotes') });
        start = r.meta.cursor;
      },
    });
    const res = parser.parse(text, 0, !final) as Papa.ParseResult<string[]>;
    const consumed = final ? text.length : res.meta.cursor;
    const out: DatasetRow[] = [];
    let line = pendingLine;
    let at = 0;
    for (const f of found) {
      line += countNewlines(text, at, f.start);
      at = f.start;
      const rowLine = line;
      if (f.fields.length === 1 && f.fields[0].trim() === '' && !f.missingQuote) continue; // blank line
      if (!header) {
        header = f.fields.map((h, i) => h.trim() || `column_${i + 1}`);
        const seen = new Set<string>();
        for (const h of header) {
          if (seen.has(h)) throw new DatasetFileError(opts.fileName, `line ${rowLine}: column "${h}" appears twice in the header row`);
          seen.add(h);
        }
        continue;
      }
      rowsRead++;
      if (f.missingQuote) {
        out.push({ line: rowLine, error: new DatasetLineError(rowLine, 'a quoted field is never closed (a " is missing); the rest of the file was read as that one field') });
      } else if (f.fields.length !== header.length) {
        out.push({ line: rowLine, error: new DatasetLineError(rowLine, `has ${f.fields.length} fields but the header has ${header.length} (${header.join(', ')}); a field holding the delimiter or a line break must be quoted`) });
      } else {
        const value: Record<string, string> = {};
        header.forEach((h, i) => (value[h] = f.fields[i]));
        out.push({ line: rowLine, value });
      }
    }
    pendingLine = line + countNewlines(text, at, consumed);
    pending = text.slice(consumed);
    if (!final && pending.length > DEFAULT_MAX_LINE_CHARS) {
      throw new DatasetFileError(opts.fileName, `the row starting on line ${pendingLine} is longer than ${DEFAULT_MAX_LINE_CHARS} characters (an unclosed quote?)`);
    }
    return out;
  };

  for await (const chunk of decodeText(stream, opts.fileName, what, bytes)) {
    yield* parse(pending + chunk, false);
    opts.onProgress?.({ bytesDone: bytes.done, bytesTotal: opts.bytesTotal, lines: rowsRead });
  }
  if (pending) yield* parse(pending, true);
  opts.onProgress?.({ bytesDone: bytes.done, bytesTotal: opts.bytesTotal, lines: rowsRead });
  if (!header) throw new DatasetFileError(opts.fileName, `no header row: expected ${what} (column names on the first line)`);
}

/**
 * The elements of a top-level JSON array, one row each, without holding the file: a scanner tracks
 * strings and nesting to find where each element ends; JSON.parse then checks the element alone, so
 * a bad element is one bad row (at the line it starts on) and the rest still count.
 */
export async function* jsonArrayRows(stream: ReadableStream<Uint8Array>, opts: TextReadOptions): AsyncGenerator<DatasetRow> {
  const bytes = { done: 0 };
  type Phase = 'open' | 'first' | 'next' | 'value' | 'closed';
  let phase = 'open' as Phase; // widened: the loop below reassigns it
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let element = ''; // text of the element being read
  let elementLine = 0;
  let elements = 0;
  const where = (ch: string) => `line ${line}, byte ~${bytes.done}: found "${ch}"`;

  const finishElement = (): DatasetRow => {
    elements++;
    const text = element;
    element = '';
    try {
      return { line: elementLine, value: parseJsonLine(text, elementLine) };
    } catch (e) {
      return { line: elementLine, error: e as DatasetLineError };
    }
  };

  for await (const chunk of decodeText(stream, opts.fileName, 'a JSON array of objects', bytes)) {
    const rows: DatasetRow[] = [];
    let elementStart = phase === 'value' ? 0 : -1; // where the current element's text begins in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i];
      if (phase === 'value') {
        if (inString) {
          if (escaped) escaped = false;
          else if (ch === '\\') escaped = true;
          else if (ch === '"') inString = false;
        } else if (ch === '"') inString = true;
        else if (ch === '{' || ch === '[') depth++;
        else if ((ch === '}' || ch === ']') && depth > 0) depth--;
        else if (depth === 0 && (ch === ',' || ch === ']')) {
          element += chunk.slice(elementStart, i);
          rows.push(finishElement());
          phase = ch === ',' ? 'next' : 'closed';
        }
      } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
        // whitespace between tokens
      } else if (phase === 'open') {
        if (ch !== '[') throw new DatasetFileError(opts.fileName, `expected a JSON array starting with "[" (${where(ch)})`);
        phase = 'first';
      } else if (phase === 'closed') {
        throw new DatasetFileError(opts.fileName, `text after the array's closing "]" (${where(ch)})`);
      } else if (ch === ']' && phase === 'first') {
        phase = 'closed';
      } else if (ch === ']' || ch === ',') {
        throw new DatasetFileError(opts.fileName, `expected an array element (${where(ch)})`);
      } else {
        phase = 'value';
        elementStart = i;
        elementLine = line;
        depth = 0;
        inString = false;
        escaped = false;
        i--; // read this character again, as the element's first
        continue;
      }
      if (ch === '\n') line++;
    }
    if (phase === 'value') {
      element += chunk.slice(Math.max(0, elementStart));
      if (element.length > DEFAULT_MAX_LINE_CHARS) throw new DatasetFileError(opts.fileName, `the element starting on line ${elementLine} is longer than ${DEFAULT_MAX_LINE_CHARS} characters`);
    }
    yield* rows;
    opts.onProgress?.({ bytesDone: bytes.done, bytesTotal: opts.bytesTotal, lines: elements });
  }
  if (phase === 'open') throw new DatasetFileError(opts.fileName, 'the file is empty: expected a JSON array');
  if (phase !== 'closed') {
    throw new DatasetFileError(opts.fileName, phase === 'value' ? `the file ends inside the element starting on line ${elementLine}: the array is not closed with "]"` : `the file ends before the array's closing "]" (line ${line})`);
  }
}
