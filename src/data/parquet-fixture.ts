// A minimal Parquet writer for tests and fixtures (no Parquet writer is a dependency): flat columns of
// strings, int64, doubles or booleans, optional ones with nulls, several row groups, PLAIN encoding,
// uncompressed data pages v1, and the footer in Thrift's compact protocol. Only what the tests need;
// the real files users bring are read by hyparquet, which also reads these.

export type FixtureColumn =
  | { name: string; type: 'string'; values: (string | null)[] }
  | { name: string; type: 'int64'; values: (number | null)[] }
  | { name: string; type: 'double'; values: (number | null)[] }
  | { name: string; type: 'boolean'; values: (boolean | null)[] };

// Thrift compact protocol type ids.
const T_I32 = 5;
const T_I64 = 6;
const T_BINARY = 8;
const T_LIST = 9;
const T_STRUCT = 12;

type Field = [id: number, type: number, write: (w: Writer) => void];

class Writer {
  bytes: number[] = [];
  byte(b: number): void {
    this.bytes.push(b & 0xff);
  }
  varint(v: bigint): void {
    let x = v;
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }
  zigzag(v: number | bigint): void {
    const x = BigInt(v);
    this.varint(x >= 0n ? x << 1n : (-x << 1n) - 1n);
  }
  binary(b: Uint8Array): void {
    this.varint(BigInt(b.length));
    for (const x of b) this.byte(x);
  }
  struct(fields: Field[]): void {
    let last = 0;
    for (const [id, type, write] of fields) {
      this.byte(((id - last) << 4) | type); // every delta here is 1..15
      last = id;
      write(this);
    }
    this.byte(0); // stop
  }
  list(type: number, items: ((w: Writer) => void)[]): void {
    if (items.length < 15) this.byte((items.length << 4) | type);
    else {
      this.byte(0xf0 | type);
      this.varint(BigInt(items.length));
    }
    for (const it of items) it(this);
  }
}

const i32 = (id: number, v: number): Field => [id, T_I32, (w) => w.zigzag(v)];
const i64 = (id: number, v: number): Field => [id, T_I64, (w) => w.zigzag(v)];
const str = (id: number, s: string): Field => [id, T_BINARY, (w) => w.binary(new TextEncoder().encode(s))];
const struct = (id: number, fields: Field[]): Field => [id, T_STRUCT, (w) => w.struct(fields)];
const list = (id: number, type: number, items: ((w: Writer) => void)[]): Field => [id, T_LIST, (w) => w.list(type, items)];

// Parquet enums.
const PHYSICAL = { string: 6 /* BYTE_ARRAY */, int64: 2, double: 5, boolean: 0 } as const;
const OPTIONAL = 1;
const REQUIRED = 0;
const UTF8 = 0;
const PLAIN = 0;
const RLE = 3;

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function plainValues(col: FixtureColumn, values: unknown[]): number[] {
  const out: number[] = [];
  const present = values.filter((v) => v !== null);
  switch (col.type) {
    case 'string':
      for (const v of present) {
        const b = new TextEncoder().encode(v as string);
        out.push(...le32(b.length), ...b);
      }
      break;
    case 'int64':
      for (const v of present) {
        const dv = new DataView(new ArrayBuffer(8));
        dv.setBigInt64(0, BigInt(v as number), true);
        out.push(...new Uint8Array(dv.buffer));
      }
      break;
    case 'double':
      for (const v of present) {
        const dv = new DataView(new ArrayBuffer(8));
        dv.setFloat64(0, v as number, true);
        out.push(...new Uint8Array(dv.buffer));
      }
      break;
    case 'boolean':
      for (let i = 0; i < present.length; i += 8) {
        let b = 0;
        for (let j = 0; j < 8 && i + j < present.length; j++) if (present[i + j]) b |= 1 << j;
        out.push(b);
      }
      break;
  }
  return out;
}

/** Definition levels (1 present, 0 null) as one bit-packed run of the RLE/bit-packing hybrid, length-prefixed. */
function definitionLevels(values: unknown[]): number[] {
  const groups = Math.ceil(values.length / 8);
  const w = new Writer();
  w.varint(BigInt((groups << 1) | 1));
  for (let g = 0; g < groups; g++) {
    let b = 0;
    for (let j = 0; j < 8; j++) if (values[g * 8 + j] !== null && g * 8 + j < values.length) b |= 1 << j;
    w.byte(b);
  }
  return [...le32(w.bytes.length), ...w.bytes];
}

/**
 * A Parquet file with these columns, `rowsPerGroup` rows per row group. A column holding a null
 * anywhere is OPTIONAL (with definition levels), otherwise REQUIRED.
 */
export function writeParquetFixture(columns: FixtureColumn[], rowsPerGroup: number): Uint8Array {
  const numRows = columns[0]?.values.length ?? 0;
  const optional = columns.map((c) => c.values.some((v) => v === null));
  const out: number[] = [...new TextEncoder().encode('PAR1')];
  const rowGroups: ((w: Writer) => void)[] = [];
  for (let start = 0; start < numRows; start += rowsPerGroup) {
    const end = Math.min(numRows, start + rowsPerGroup);
    const chunks: ((w: Writer) => void)[] = [];
    let groupBytes = 0;
    columns.forEach((col, c) => {
      const values = col.values.slice(start, end);
      const body = [...(optional[c] ? definitionLevels(values) : []), ...plainValues(col, values)];
      const header = new Writer();
      header.struct([i32(1, 0 /* DATA_PAGE */), i32(2, body.length), i32(3, body.length), struct(5, [i32(1, values.length), i32(2, PLAIN), i32(3, RLE), i32(4, RLE)])]);
      const offset = out.length;
      out.push(...header.bytes, ...body);
      const size = header.bytes.length + body.length;
      groupBytes += size;
      chunks.push((w) =>
        w.struct([
          i64(2, offset),
          struct(3, [
            i32(1, PHYSICAL[col.type]),
            list(2, T_I32, [(x) => x.zigzag(PLAIN), (x) => x.zigzag(RLE)]),
            list(3, T_BINARY, [(x) => x.binary(new TextEncoder().encode(col.name))]),
            i32(4, 0 /* UNCOMPRESSED */),
            i64(5, values.length),
            i64(6, size),
            i64(7, size),
            i64(9, offset),
          ]),
        ]),
      );
    });
    rowGroups.push((w) => w.struct([list(1, T_STRUCT, chunks), i64(2, groupBytes), i64(3, end - start)]));
  }
  const schema: ((w: Writer) => void)[] = [(w) => w.struct([str(4, 'schema'), i32(5, columns.length)])];
  columns.forEach((col, c) => {
    const fields: Field[] = [i32(1, PHYSICAL[col.type]), i32(3, optional[c] ? OPTIONAL : REQUIRED), str(4, col.name)];
    if (col.type === 'string') fields.push(i32(6, UTF8));
    schema.push((w) => w.struct(fields));
  });
  const footer = new Writer();
  footer.struct([i32(1, 1), list(2, T_STRUCT, schema), i64(3, numRows), list(4, T_STRUCT, rowGroups)]);
  out.push(...footer.bytes, ...le32(footer.bytes.length), ...new TextEncoder().encode('PAR1'));
  return new Uint8Array(out);
}
