// Where the worker streams an export: a folder the user picked (File System Access API: each
// writable is a swap file that becomes the file only on close(); a failed file is removed), or
// whole-file Blobs posted to the page for a download when the API is absent. Blob parts may live
// on disk in the browser's blob store, so the model is not held twice in the worker's heap.
import { ExportWriteError, type ExportSink, type FileWriter } from '../export/sink';

export class DirectorySink implements ExportSink {
  constructor(private readonly dir: FileSystemDirectoryHandle) {}

  async create(name: string): Promise<FileWriter> {
    const handle = await this.dir.getFileHandle(name, { create: true });
    const w = await handle.createWritable();
    const fail = (e: unknown): never => {
      const err = e as DOMException;
      throw new ExportWriteError(`${name}: ${err.name === 'QuotaExceededError' ? 'the disk or quota is full' : err.message}`);
    };
    return {
      write: async (bytes) => {
        await w.write(bytes.slice() as Uint8Array<ArrayBuffer>).catch(fail);
      },
      close: async () => {
        await w.close().catch(fail);
      },
      abort: async () => {
        await w.abort().catch(() => undefined);
        await this.dir.removeEntry(name).catch(() => undefined);
      },
    };
  }
}

export class BlobSink implements ExportSink {
  constructor(private readonly onFile: (name: string, blob: Blob) => void) {}

  async create(name: string): Promise<FileWriter> {
    let parts: Blob[] = [];
    return {
      write: async (bytes) => {
        parts.push(new Blob([bytes.slice() as Uint8Array<ArrayBuffer>]));
      },
      close: async () => {
        this.onFile(name, new Blob(parts, { type: 'application/octet-stream' }));
        parts = [];
      },
      abort: async () => {
        parts = [];
      },
    };
  }
}
