// One row of a dataset file as every reader yields it (src/data/records.ts chooses the reader).
import type { DatasetLineError } from './formats';

export interface DatasetRow {
  /** 1-based: the physical line where the row starts (text files), or the row index (Parquet). */
  line: number;
  value?: unknown;
  error?: DatasetLineError;
}
