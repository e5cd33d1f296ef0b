// Where an export's files go, one byte stream per file: a Node file (cli/file-sink.ts), the File
// System Access API or a download (src/ui/export-sinks.ts), or memory (tests, small files). Writers
// take chunks in order so no format ever needs the whole model in one buffer; a file only appears
// under its final name on close(), and abort() removes what was written, so a failed export never
// leaves a half-written file that looks valid.

export interface FileWriter {
  /**
   * Appends bytes; may reject with a quota/disk error, after which the caller calls abort().
   * The caller may reuse `bytes` once the promise resolves: copy (or finish with) them first.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Finishes the file and makes it visible under its final name. */
  close(): Promise<void>;
  /** Drops everything written to this file. Safe to call after a failed write. */
  abort(): Promise<void>;
}

export interface ExportSink {
  /** Opens a new file `name` (may contain '/' for sub-folders, e.g. "gguf/model.gguf"). */
  create(name: string): Promise<FileWriter>;
}

/** Raised when a sink refuses bytes (disk or quota full, permission revoked); names the file. */
export class ExportWriteError extends Error {
  override name = 'ExportWriteError';
}

/** Collects files in memory: for tests and for formats small enough to zip or download whole. */
export class MemorySink implements ExportSink {
  readonly files = new Map<string, Uint8Array>();
  /** Bytes a write may add before it fails: simulates a full disk in tests. */
  constructor(private readonly limitBytes = Infinity) {}
  private used = 0;

  async create(name: string): Promise<FileWriter> {
    const parts: Uint8Array[] = [];
    let size = 0;
    return {
      write: async (bytes) => {
        if (this.used + bytes.byteLength > this.limitBytes) throw new ExportWriteError(`${name}: no space left (limit ${this.limitBytes} bytes)`);
        this.used += bytes.byteLength;
        parts.push(bytes.slice()); // callers may reuse their buffer
        size += bytes.byteLength;
      },
      close: async () => {
        const out = new Uint8Array(size);
        let o = 0;
        for (const p of parts) { out.set(p, o); o += p.byteLength; }
        this.files.set(name, out);
      },
      abort: async () => {
        this.used -= size;
        parts.length = 0;
        size = 0;
      },
    };
  }

  text(name: string): string {
    const f = this.files.get(name);
    if (!f) throw new Error(`MemorySink: no file ${name}`);
    return new TextDecoder().decode(f);
  }
}

/** Writes one whole file (small ones: JSON, Modelfile); aborts on failure. */
export async function writeWholeFile(sink: ExportSink, name: string, content: string | Uint8Array): Promise<number> {
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const w = await sink.create(name);
  try {
    await w.write(bytes);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
  return bytes.byteLength;
}

/**
 * Buffers small writes into chunks of about `chunkBytes` so sinks see a few large writes (a
 * File System Access writable or a worker message per chunk), not one per tensor row.
 */
export class ChunkedWriter {
  private buf: Uint8Array;
  private used = 0;
  written = 0;
  constructor(private readonly inner: FileWriter, chunkBytes = 4 << 20) {
    this.buf = new Uint8Array(chunkBytes);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.written += bytes.byteLength;
    if (bytes.byteLength >= this.buf.byteLength) {
      await this.flush();
      await this.inner.write(bytes);
      return;
    }
    if (this.used + bytes.byteLength > this.buf.byteLength) await this.flush();
    this.buf.set(bytes, this.used);
    this.used += bytes.byteLength;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.inner.write(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inner.close();
  }

  abort(): Promise<void> {
    this.used = 0;
    return this.inner.abort();
  }
}
