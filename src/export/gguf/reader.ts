// Reads back a GGUF file's metadata, tensor infos and tensor values (F32, F16, BF16, Q8_0, and the
// 4/5-bit and k-quant block types through dequant.ts): for the tests, for checking a file before it
// is offered, and for the CLI's summary. Not a general loader: no big-endian files, no IQ types.
import { halfToFloat } from '../../model/safetensors';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufExportError, GgufValueType } from './constants';
import { tensorBytes } from './writer';
import { dequantizeBlocks, isBlockType } from './dequant';

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (ne reversed). */
  shape: number[];
  type: GgmlType;
  /** Absolute byte offset of the data in the file. */
  offset: number;
}

export interface ParsedGguf {
  version: number;
  metadata: Map<string, unknown>;
  tensors: Map<string, GgufTensorInfo>;
}

export function parseGguf(bytes: Uint8Array): ParsedGguf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.byteLength) throw new GgufExportError(`GGUF truncated at byte ${p} (needs ${n} more of ${bytes.byteLength})`);
  };
  const u32 = () => { need(4); const v = view.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = Number(view.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); need(n); const s = dec.decode(bytes.subarray(p, p + n)); p += n; return s; };
  const scalar = (t: GgufValueType): unknown => {
    switch (t) {
      case GgufValueType.UINT8: need(1); return view.getUint8(p++);
      case GgufValueType.INT8: need(1); return view.getInt8(p++);
      case GgufValueType.UINT16: { need(2); const v = view.getUint16(p, true); p += 2; return v; }
      case GgufValueType.INT16: { need(2); const v = view.getInt16(p, true); p += 2; return v; }
      case GgufValueType.UINT32: return u32();
      case GgufValueType.INT32: { need(4); const v = view.getInt32(p, true); p += 4; return v; }
      case GgufValueType.FLOAT32: { need(4); const v = view.getFloat32(p, true); p += 4; return v; }
      case GgufValueType.FLOAT64: { need(8); const v = view.getFloat64(p, true); p += 8; return v; }
      case GgufValueType.UINT64: return u64();
      case GgufValueType.INT64: { need(8); const v = Number(view.getBigInt64(p, true)); p += 8; return v; }
      case GgufValueType.BOOL: need(1); return view.getUint8(p++) !== 0;
      case GgufValueType.STRING: return str();
      case GgufValueType.ARRAY: {
        const it = u32() as GgufValueType;
        const n = u64();
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = scalar(it);
        return out;
      }
      default: throw new GgufExportError(`unknown GGUF value type ${t as number} at byte ${p}`);
    }
  };
  if (u32() !== GGUF_MAGIC) throw new GgufExportError('not a GGUF file (bad magic)');
  const version = u32();
  const nTensors = u64();
  const nKv = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    metadata.set(key, scalar(u32() as GgufValueType));
  }
  const infos: { name: string; shape: number[]; type: GgmlType; rel: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    const type = u32() as GgmlType;
    infos.push({ name, shape: ne.reverse(), type, rel: u64() });
  }
  const alignment = (metadata.get('general.alignment') as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  const dataStart = Math.ceil(p / alignment) * alignment;
  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    const offset = dataStart + t.rel;
    if (offset + tensorBytes(t) > bytes.byteLength) throw new GgufExportError(`tensor ${t.name} runs past the end of the file`);
    tensors.set(t.name, { name: t.name, shape: t.shape, type: t.type, offset });
  }
  return { version, metadata, tensors };
}

/** A tensor's values as float32 (dequantized). */
export function readGgufTensor(bytes: Uint8Array, info: GgufTensorInfo): Float32Array {
  const n = info.shape.reduce((a, b) => a * b, 1);
  if (isBlockType(info.type)) return dequantizeBlocks(info.type, bytes.subarray(info.offset, info.offset + tensorBytes(info)), n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.offset, tensorBytes(info));
  const out = new Float32Array(n);
  switch (info.type) {
    case GgmlType.F32: for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true); break;
    case GgmlType.F16: for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true)); break;
    case GgmlType.BF16: {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case GgmlType.Q8_0:
      for (let b = 0; b < n / 32; b++) {
        const d = halfToFloat(view.getUint16(b * 34, true));
        for (let i = 0; i < 32; i++) out[b * 32 + i] = d * view.getInt8(b * 34 + 2 + i);
      }
      break;
    default: throw new GgufExportError(`reading GGML type ${info.type} is not supported`);
  }
  return out;
}
