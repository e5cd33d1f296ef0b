// Packing: several short examples share one sequence of at most `rowLength` tokens, so fewer padding
// tokens are computed. Each token carries its position within its own example (restarting at 0) and
// its example's segment id; the model's forward pass uses both so attention never crosses examples.

export interface PackableExample {
  inputIds: number[]; // [n]
  lossMask: number[]; // [n]
}

/** One packed sequence: examples laid end to end. All four arrays have the same length (<= rowLength). */
export interface PackedRow {
  inputIds: number[]; // [L]
  /** Each example keeps its own mask, except its first token, which is never a target across a boundary. */
  lossMask: number[]; // [L]
  /** Position of each token within its example: 0, 1, ..., n-1, 0, 1, ... */
  positions: number[]; // [L]
  /** Segment id of each token: 0 for the row's first example, 1 for the second, ... */
  segments: number[]; // [L]
}

export interface PackingStats {
  /** Examples in, rows out. */
  examples: number;
  rows: number;
  /** Tokens of the examples (after any cut to rowLength). */
  tokens: number;
  /** tokens / (rows * rowLength): how full the rows are. Unpacked, it is tokens / (examples * rowLength). */
  fill: number;
}

/**
 * Best-fit-decreasing packing: examples longest first, each into the open row whose free space fits it
 * most tightly (found through buckets keyed by free space, so O(examples * rowLength) at worst).
 * Examples longer than rowLength are cut to it. Rows list their examples longest first.
 */
export function packExamples<E extends PackableExample>(examples: E[], rowLength: number): PackedRow[] {
  if (!(Number.isInteger(rowLength) && rowLength > 0)) throw new RangeError(`packExamples: rowLength must be a positive integer, got ${rowLength}`);
  const order = examples
    .map((e, i) => ({ i, n: Math.min(e.inputIds.length, rowLength) }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.i - b.i); // stable: equal lengths keep file order
  const rows: number[][] = []; // example indices per row
  const free: number[] = []; // free tokens per row
  const byFree: number[][] = Array.from({ length: rowLength + 1 }, () => []); // byFree[f]: rows with exactly f free
  for (const { i, n } of order) {
    let r = -1;
    for (let f = n; f <= rowLength; f++) {
      const bucket = byFree[f];
      if (bucket.length > 0) {
        r = bucket.pop() as number;
        break;
      }
    }
    if (r < 0) {
      r = rows.length;
      rows.push([]);
      free.push(rowLength);
    }
    rows[r].push(i);
    free[r] -= n;
    byFree[free[r]].push(r);
  }
  return rows.map((members) => {
    const row: PackedRow = { inputIds: [], lossMask: [], positions: [], segments: [] };
    members.forEach((i, seg) => {
      const e = examples[i];
      const n = Math.min(e.inputIds.length, rowLength);
      for (let t = 0; t < n; t++) {
        row.inputIds.push(e.inputIds[t]);
        // The first token of an example would be "predicted" from the previous example: never a target.
        row.lossMask.push(t === 0 ? 0 : e.lossMask[t]);
        row.positions.push(t);
        row.segments.push(seg);
      }
    });
    return row;
  });
}

/** How well `examples` pack into rows of `rowLength` tokens, without building the rows' token arrays twice. */
export function packingStats(examples: PackableExample[], rows: PackedRow[], rowLength: number): PackingStats {
  const tokens = rows.reduce((s, r) => s + r.inputIds.length, 0);
  return { examples: examples.length, rows: rows.length, tokens, fill: rows.length > 0 ? tokens / (rows.length * rowLength) : 0 };
}
