// The Node export sink: each file is written to "<name>.partial" in the output folder and renamed
// to its final name only on close, so an export cut short (disk full, Ctrl-C, bad input) never
// leaves a file that looks complete; abort removes the partial file.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ExportWriteError, type ExportSink, type FileWriter } from '../src/export/sink';

export class NodeFolderSink implements ExportSink {
  constructor(readonly folder: string) {}

  async create(name: string): Promise<FileWriter> {
    const final = path.join(this.folder, name);
    const partial = `${final}.partial`;
    await mkdir(path.dirname(final), { recursive: true });
    const fh = await open(partial, 'w');
    let closed = false;
    const fail = (e: unknown): never => {
      throw new ExportWriteError(`${final}: ${(e as Error).message}`);
    };
    return {
      write: async (bytes) => {
        await fh.write(bytes).catch(fail);
      },
      close: async () => {
        await fh.close().catch(fail);
        closed = true;
        await rename(partial, final).catch(fail);
      },
      abort: async () => {
        if (!closed) await fh.close().catch(() => undefined);
        closed = true;
        await rm(partial, { force: true });
      },
    };
  }
}
