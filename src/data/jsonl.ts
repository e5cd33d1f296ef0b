// Streaming line splitter for JSONL files: reads a ReadableStream<Uint8Array> (File.stream() in the
// browser, a converted fs stream in Node) chunk by chunk and yields one line at a time, so a 200 MB
// file is never held as one string. Also rejects files that are not text, once, with a clear error.

export interface LineProgress {
  bytesDone: number;
  /** Known when the caller knows the file size (File.size, fs.stat). */
  bytesTotal?: number;
  /** Physical lines read so far, blank ones included. */
  lines: number;
}

export interface JsonlLine {
  /** 1-based physical line number in the file (blank lines count, so it matches an editor). */
  line: number;
  /** The line without its line ending (LF or CRLF) and without a leading UTF-8 BOM. */
  text: string;
}

export interface ReadLinesOptions {
  fileName: string;
  bytesTotal?: number;
  onProgress?: (p: LineProgress) => void;
  /** Yield blank (whitespace-only) lines too; by default they are skipped. */
  keepBlank?: boolean;
  /** A line longer than this (in UTF-16 units) means the file is not JSONL (e.g. one huge JSON array). */
  maxLineChars?: number;
}

/** The whole file is unusable: not text, unreadable, or not line-oriented. */
export class DatasetFileError extends Error {
  override name = 'DatasetFileError';
  constructor(
    readonly fileName: string,
    reason: string,
  ) {
    super(`${fileName}: ${reason}`);
  }
}

/** How much of the head of the file is checked for NUL bytes and invalid UTF-8. */
export const SNIFF_BYTES = 1024;
export const DEFAULT_MAX_LINE_CHARS = 64 * 1024 * 1024;

/** Throws DatasetFileError when `head` (the first bytes of a file) does not look like UTF-8 text. */
export function assertLooksLikeText(head: Uint8Array, fileName: string, expected = 'UTF-8 JSONL, one JSON object per line'): void {
  const nul = head.indexOf(0);
  if (nul >= 0) {
    throw new DatasetFileError(fileName, `not a text file (NUL byte at offset ${nul}); expected ${expected}`);
  }
  try {
    // stream: true tolerates a multi-byte character cut at the end of the sniffed window.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch {
    throw new DatasetFileError(fileName, `not a text file (invalid UTF-8 in the first kilobyte); expected ${expected}`);
  }
}

/** Concatenates chunks; only used for the small sniffing window. */
function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Yields the lines of a UTF-8 stream. Handles a UTF-8 BOM, CRLF and LF endings, blank lines, a final
 * line without newline, and multi-byte characters split across chunks (TextDecoder in stream mode).
 * Memory held: one chunk plus the current partial line.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>, opts: ReadLinesOptions): AsyncGenerator<JsonlLine> {
  const { fileName, bytesTotal, onProgress } = opts;
  const maxLineChars = opts.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
  // ignoreBOM false (default) strips a leading BOM; fatal false turns later bad bytes into U+FFFD,
  // which then fail JSON validation on their own line instead of killing the whole file.
  const decoder = new TextDecoder('utf-8');
  const reader = stream.getReader();
  let bytesDone = 0;
  let lineNo = 0;
  let pending = '';
  let sniffed = false;
  const head: Uint8Array[] = [];
  let headBytes = 0;

  const report = () => onProgress?.({ bytesDone, bytesTotal, lines: lineNo });

  // Splits decoded text into complete lines; the unterminated tail stays in `pending`.
  function* split(text: string, final: boolean): Generator<JsonlLine> {
    let buf = pending + text;
    let start = 0;
    let searchFrom = pending.length; // the pending tail is known to hold no newline
    for (;;) {
      const nl = buf.indexOf('\n', searchFrom);
      if (nl < 0) break;
      let end = nl;
      if (end > start && buf.charCodeAt(end - 1) === 13) end--; // CRLF
      lineNo++;
      const line = buf.slice(start, end);
      start = nl + 1;
      searchFrom = start;
      if (opts.keepBlank || line.trim() !== '') yield { line: lineNo, text: line };
    }
    buf = buf.slice(start);
    if (final) {
      if (buf.endsWith('\r')) buf = buf.slice(0, -1);
      if (buf.length > 0) {
        lineNo++;
        if (opts.keepBlank || buf.trim() !== '') yield { line: lineNo, text: buf };
      }
      pending = '';
    } else {
      if (buf.length > maxLineChars) {
        throw new DatasetFileError(fileName, `line ${lineNo + 1} is longer than ${maxLineChars} characters; expected JSONL, one JSON object per line`);
      }
      pending = buf;
    }
  }

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!done && value.length === 0) continue;
      if (!sniffed) {
        if (!done) {
          head.push(value);
          headBytes += value.length;
          bytesDone += value.length;
          if (headBytes < SNIFF_BYTES) continue;
        }
        const all = concat(head);
        assertLooksLikeText(all.subarray(0, SNIFF_BYTES), fileName);
        sniffed = true;
        head.length = 0;
        yield* split(decoder.decode(all, { stream: !done }), done);
        report();
        if (done) break;
        continue;
      }
      if (done) {
        yield* split(decoder.decode(), true);
        report();
        break;
      }
      bytesDone += value.length;
      yield* split(decoder.decode(value, { stream: true }), false);
      report();
    }
  } finally {
    reader.releaseLock();
  }
}

/** A ReadableStream over an in-memory string or bytes, cut into `chunkBytes` pieces (tests, small inputs). */
export function streamFromBytes(data: Uint8Array | string, chunkBytes = 64 * 1024): ReadableStream<Uint8Array> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.length, offset + chunkBytes);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}
