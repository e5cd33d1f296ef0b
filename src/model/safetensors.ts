// safetensors reading and writing (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length N, N bytes of JSON, then raw little-endian tensor data.
// Reading goes through a ByteSource so a multi-hundred-MB file is never held whole: each tensor is
// read, converted to float32 and handed over on its own (IndexedDB chunks, a Node file, a buffer).

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'I8' | 'F64' | 'BOOL';

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) in bytes, relative to the first byte after the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Byte offset of the data section inside the file (8 + header length). */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** Random access to the bytes of one file, wherever they live. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Header JSON larger than this is refused: real checkpoints stay far below, a corrupt length does not. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, I8: 1, BOOL: 1,
};

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => {
      if (offset + length > bytes.byteLength) throw new SafetensorsError(`read past end of file (${offset + length} > ${bytes.byteLength})`);
      return bytes.subarray(offset, offset + length);
    },
  };
}

export async function readHeader(source: ByteSource, fileName = 'model.safetensors'): Promise<SafetensorsHeader> {
  if (source.size < 8) throw new SafetensorsError(`${fileName}: ${source.size} bytes is too short for a safetensors file`);
  const lenBytes = await source.read(0, 8);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > source.size) {
    throw new SafetensorsError(`${fileName}: header length ${headerLen} is not plausible for a file of ${source.size} bytes (not a safetensors file?)`);
  }
  const json = new TextDecoder().decode(await source.read(8, headerLen));
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch (e) {
    throw new SafetensorsError(`${fileName}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataSize = source.size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null) throw new SafetensorsError(`${fileName}: tensor "${name}" has no dtype/shape entry`);
    const v = value as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dtype = v.dtype as SafetensorsDtype;
    if (!(dtype in BYTES_PER_ELEMENT)) throw new SafetensorsError(`${fileName}: tensor "${name}" has unsupported dtype ${String(v.dtype)}`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${fileName}: tensor "${name}" has an invalid shape`);
    }
    const offs = v.data_offsets as [number, number];
    const shape = v.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
    if (!Array.isArray(offs) || offs.length !== 2 || offs[1] - offs[0] !== expected || offs[0] < 0 || offs[1] > dataSize) {
      throw new SafetensorsError(`${fileName}: tensor "${name}" has data_offsets ${JSON.stringify(offs)} inconsistent with ${dtype}${JSON.stringify(shape)} in ${dataSize} data bytes`);
    }
    tensors.set(name, { dtype, shape, dataOffsets: [offs[0], offs[1]] });
  }
  return { dataStart, tensors, metadata };
}

/** Reads one tensor and converts it to float32 (F32, F16 and BF16 checkpoints are all common). */
export async function readTensorF32(source: ByteSource, header: SafetensorsHeader, name: string): Promise<Float32Array> {
  const info = header.tensors.get(name);
  if (!info) throw new SafetensorsError(`tensor "${name}" is missing`);
  const [begin, end] = info.dataOffsets;
  const bytes = await source.read(header.dataStart + begin, end - begin);
  return toFloat32(bytes, info.dtype, name);
}

function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, name: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(bytes.byteLength / 4);
      // Copy (never alias): the source may be a chunk buffer that is reused or released.
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'BF16': {
      const n = bytes.byteLength / 2;
      const u32 = new Uint32Array(n);
      for (let i = 0; i < n; i++) u32[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(u32.buffer);
    }
    case 'F16': {
      const n = bytes.byteLength / 2;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'F64': {
      const n = bytes.byteLength / 8;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    default:
      throw new SafetensorsError(`tensor "${name}" has dtype ${dtype}, expected a floating-point dtype`);
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Serialises float32 tensors. Tensors are sorted by name (as the Python library does) and the
 * header is padded with spaces to a multiple of 8 so every tensor starts 8-byte aligned.
 */
export function writeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new SafetensorsError(`tensor "${t.name}": shape ${JSON.stringify(t.shape)} needs ${n} values, got ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const t of sorted) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}
