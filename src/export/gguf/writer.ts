// Writes a GGUF file (version 3, little-endian) as a stream: header, metadata key-values and tensor
// infos first (all sizes are known from shapes and types alone), then each tensor's data, read and
// encoded one at a time and padded to the alignment. Layout per llama.cpp's gguf-py GGUFWriter:
//   magic u32 | version u32 | n_tensors u64 | n_kv u64 | kv* | tensor_info* | pad | data
//   kv: key string, value type u32, value; string: u64 byte length + UTF-8 bytes;
//   array: element type u32, count u64, elements; tensor_info: name, n_dims u32, ne u64 * n_dims
//   (innermost first: the reverse of the row-major shape), type u32, offset u64 into the data section.
import { ChunkedWriter, type FileWriter } from '../sink';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufExportError, GgufValueType } from './constants';
import { encodeGgml, ggmlBytes } from './quant';

export type GgufValue =
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32 | GgufValueType.UINT8 | GgufValueType.INT8 | GgufValueType.UINT16 | GgufValueType.INT16 | GgufValueType.FLOAT64; value: number }
  | { type: GgufValueType.UINT64 | GgufValueType.INT64; value: bigint }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.STRING; value: string[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.INT32 | GgufValueType.UINT32 | GgufValueType.FLOAT32; value: number[] | Int32Array | Float32Array };

export type GgufMetadata = Map<string, GgufValue>;

export const kv = {
  str: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  strings: (value: string[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  i32s: (value: number[] | Int32Array): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value }),
  u32s: (value: number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.UINT32, value }),
  f32s: (value: number[] | Float32Array): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT32, value }),
};

export interface GgufTensor {
  /** GGUF name, e.g. blk.0.attn_q.weight */
  name: string;
  /** Row-major shape as in the checkpoint ([out, in]); written reversed as GGML's ne. */
  shape: number[];
  type: GgmlType;
  /** float32 values in row-major order, already transformed for GGUF (permuted, shifted). */
  read(): Promise<Float32Array>;
}

/** Appends little-endian primitives to a growing buffer (the header is small: up to a few MB of vocab). */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static enc = new TextEncoder();

  private room(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) { this.room(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number) { this.room(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number) { this.room(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number) { this.room(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number) { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number) { this.room(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number) { this.room(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number) { this.room(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number) { this.room(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint) { this.room(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }
  str(s: string) {
    const b = ByteBuilder.enc.encode(s);
    this.u64(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  zeros(n: number) { this.room(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  bytes(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeScalar(b: ByteBuilder, type: GgufValueType, v: unknown): void {
  switch (type) {
    case GgufValueType.UINT8: return b.u8(v as number);
    case GgufValueType.INT8: return b.i8(v as number);
    case GgufValueType.UINT16: return b.u16(v as number);
    case GgufValueType.INT16: return b.i16(v as number);
    case GgufValueType.UINT32: return b.u32(v as number);
    case GgufValueType.INT32: return b.i32(v as number);
    case GgufValueType.FLOAT32: return b.f32(v as number);
    case GgufValueType.FLOAT64: return b.f64(v as number);
    case GgufValueType.UINT64: return b.u64(v as bigint);
    case GgufValueType.INT64: return b.i64(v as bigint);
    case GgufValueType.BOOL: return b.u8(v ? 1 : 0);
    case GgufValueType.STRING: return b.str(v as string);
    case GgufValueType.ARRAY: throw new GgufExportError('nested GGUF arrays are not written');
  }
}

function align(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

export function tensorBytes(t: Pick<GgufTensor, 'shape' | 'type'>): number {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return ggmlBytes(t.type, n, t.shape[t.shape.length - 1]!);
}

/** Header + metadata + tensor infos + padding: everything before the first tensor's data. */
export function ggufHeader(metadata: GgufMetadata, tensors: Pick<GgufTensor, 'name' | 'shape' | 'type'>[], alignment = GGUF_DEFAULT_ALIGNMENT): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const b = new ByteBuilder();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.size);
  for (const [key, v] of metadata) {
    b.str(key);
    b.u32(v.type);
    if (v.type === GgufValueType.ARRAY) {
      b.u32(v.itemType);
      b.u64(v.value.length);
      for (const item of v.value) writeScalar(b, v.itemType, item);
    } else writeScalar(b, v.type, v.value);
  }
  const offsets: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufExportError(`tensor ${t.name} is written twice`);
    names.add(t.name);
    b.str(t.name);
    b.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) b.u64(t.shape[i]!); // ne[0] is the innermost dimension
    b.u32(t.type);
    b.u64(offset);
    offsets.push(offset);
    offset = align(offset + tensorBytes(t), alignment);
  }
  b.zeros(align(b.length, alignment) - b.length);
  return { header: b.bytes(), offsets, dataBytes: offset };
}

export interface GgufProgress {
  bytesWritten: number;
  bytesTotal: number;
}

/** Streams the whole file into `writer`; returns its size. Aborts the writer on any failure. */
export async function writeGguf(writer: FileWriter, metadata: GgufMetadata, tensors: GgufTensor[], onProgress?: (p: GgufProgress) => void, alignment = GGUF_DEFAULT_ALIGNMENT): Promise<number> {
  const out = new ChunkedWriter(writer);
  try {
    const { header, offsets, dataBytes } = ggufHeader(metadata, tensors, alignment);
    const total = header.byteLength + dataBytes;
    await out.write(header);
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const expected = t.shape.reduce((a, b) => a * b, 1);
      const values = await t.read();
      if (values.length !== expected) throw new GgufExportError(`tensor ${t.name}: ${values.length} values for shape [${t.shape}]`);
      const bytes = encodeGgml(values, t.type);
      await out.write(bytes);
      const end = i + 1 < tensors.length ? offsets[i + 1]! : dataBytes;
      const pad = end - offsets[i]! - bytes.byteLength;
      if (pad > 0) await out.write(new Uint8Array(pad));
      onProgress?.({ bytesWritten: out.written, bytesTotal: total });
    }
    await out.close();
    return total;
  } catch (e) {
    await out.abort().catch(() => undefined);
    throw e;
  }
}
