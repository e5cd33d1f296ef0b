// Parquet datasets through hyparquet: the footer first, then one row group at a time (only that
// group's column chunks are fetched through random access), each row as a plain object. Null cells
// are left out of the row, so an optional field reads as absent and a required one as missing.
import { parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DatasetFileError, type LineProgress } from './jsonl';
import type { DatasetRow } from './dataset-row';

/** hyparquet's AsyncBuffer: a Blob (slice + arrayBuffer), a file handle, a cached download. */
export interface RandomAccess {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

/** Random access over a Blob or File (the browser's, or Node's). */
export function blobRandomAccess(blob: Blob): RandomAccess {
  return { byteLength: blob.size, slice: (start, end) => blob.slice(start, end).arrayBuffer() };
}

/** Cells as JSON would hold them: int64 as numbers, dates as ISO strings, nulls dropped from objects. */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plainValue);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = plainValue(x);
    return out;
  }
  return v;
}

export async function* parquetRows(file: RandomAccess, opts: { fileName: string; bytesTotal?: number; onProgress?: (p: LineProgress) => void }): AsyncGenerator<DatasetRow> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (e) {
    throw new DatasetFileError(opts.fileName, `not a readable Parquet file (footer): ${(e as Error).message}`);
  }
  const bytesTotal = opts.bytesTotal ?? file.byteLength;
  let rowStart = 0;
  let bytesDone = 0;
  for (const [g, group] of metadata.row_groups.entries()) {
    const n = Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd: rowStart + n, compressors });
    } catch (e) {
      throw new DatasetFileError(opts.fileName, `row group ${g + 1} of ${metadata.row_groups.length} (rows ${rowStart + 1}-${rowStart + n}) cannot be read: ${(e as Error).message}`);
    }
    for (const [i, r] of rows.entries()) yield { line: rowStart + i + 1, value: plainValue(r) };
    rowStart += n;
    for (const c of group.columns) bytesDone += Number(c.meta_data?.total_compressed_size ?? 0n);
    opts.onProgress?.({ bytesDone: g === metadata.row_groups.length - 1 ? bytesTotal : Math.min(bytesDone, bytesTotal), bytesTotal, lines: rowStart });
  }
}
