// The exact rows a run trained on and held out, as JSONL for the run record and the cluster bundle.
// A plain JSONL file gives its own lines back untouched; any other file (gzip, JSON array, CSV,
// Parquet) or a mapped one is re-read and each wanted row written as one JSON object in the format
// the run used (mapped), so axolotl / TRL read it without knowing the original columns.
import { applyMapping, type ColumnMapping } from './columns';
import { DatasetLineError } from './formats';
import { openRows, type RandomAccess } from './records';

export interface RowsSource {
  /** Opens the file's bytes from the start (called once per read). */
  stream: () => ReadableStream<Uint8Array>;
  fileName: string;
  randomAccess?: RandomAccess;
  mapping: ColumnMapping | null;
}

/** The file's own lines at these 1-based numbers (plain JSONL, no mapping), in the order asked. */
export function pickLines(text: string, lines: number[]): string {
  const all = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  return lines.map((l) => all[l - 1]!).join('\n') + (lines.length ? '\n' : '');
}

/** One JSONL line per wanted row (by its line or row number), in the order asked, mapped when the run was. */
export async function rowsAsJsonl(src: RowsSource, wanted: number[]): Promise<string> {
  const want = new Set(wanted);
  const found = new Map<number, string>();
  const rows = await openRows(src.stream(), { fileName: src.fileName, randomAccess: src.randomAccess });
  for await (const r of rows.rows) {
    if (!want.has(r.line)) continue;
    if (r.error) throw r.error;
    found.set(r.line, JSON.stringify(src.mapping ? applyMapping(r.value, src.mapping, r.line) : r.value));
  }
  const missing = wanted.find((l) => !found.has(l));
  if (missing !== undefined) throw new DatasetLineError(missing, `${src.fileName} has no ${rows.unit} ${missing} any more: was the file changed since it was read?`);
  return wanted.map((l) => found.get(l)!).join('\n') + (wanted.length ? '\n' : '');
}
