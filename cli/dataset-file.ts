// A dataset file on disk as the parser wants it: a stream from the start, its size, and random
// access (Parquet reads its footer and row groups through it), all from one Node Blob over the file.
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { blobRandomAccess, type RandomAccess } from '../src/data/parquet';

export interface DatasetFileInput {
  stream: ReadableStream<Uint8Array>;
  fileName: string;
  bytesTotal: number;
  randomAccess: RandomAccess;
  /** A fresh stream from the start (the run record re-reads the rows it names). */
  reopen: () => ReadableStream<Uint8Array>;
}

export async function openDatasetFile(file: string): Promise<DatasetFileInput> {
  const blob = await openAsBlob(file);
  const reopen = () => blob.stream() as ReadableStream<Uint8Array>;
  return { stream: reopen(), fileName: path.basename(file), bytesTotal: blob.size, randomAccess: blobRandomAccess(blob), reopen };
}
