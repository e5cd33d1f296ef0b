// Block types back to float32, written from gguf-py's quants.py (the numpy reader llama.cpp's
// Python tools use), not from our quantizers: each block is split into its fields and every code
// is rebuilt from its nibble / high-bit planes, so a packing mistake in quant-32.ts or quant-k.ts
// shows up as a mismatch rather than cancelling out. Used by reader.ts and the tests.
import { halfToFloat } from '../../model/safetensors';
import { GgmlType, GgufExportError } from './constants';

type Block = (b: Uint8Array, v: DataView, out: Float32Array, o: number) => void;

/** float32 arithmetic, as numpy's float32 arrays compute: d*sc, times q, minus dmin*m. */
const f = Math.fround;

/** quants.py Q4_K.get_scale_min: 12 bytes as rows d, m, m_d of 4; 6-bit scales and mins of 8 sub-blocks. */
export function unpackScaleMin(s: Uint8Array): { sc: number[]; min: number[] } {
  const d = s.subarray(0, 4), m = s.subarray(4, 8), md = s.subarray(8, 12);
  const sc = [...d].map((v) => v & 0x3f).concat([...md].map((v, k) => (v & 0x0f) | ((d[k]! >> 2) & 0x30)));
  const min = [...m].map((v) => v & 0x3f).concat([...md].map((v, k) => (v >> 4) | ((m[k]! >> 2) & 0x30)));
  return { sc, min };
}

/** Bit k of a little-endian u32 for k = 0..31. */
const bitsOf = (u: number) => Array.from({ length: 32 }, (_, k) => (u >>> k) & 1);

const BLOCKS: Partial<Record<GgmlType, [number, number, Block]>> = {
  [GgmlType.Q4_0]: [32, 18, (b, v, out, o) => {
    const d = halfToFloat(v.getUint16(0, true));
    for (const [half, shift] of [[0, 0], [1, 4]] as const) for (let j = 0; j < 16; j++) out[o + 16 * half + j] = d * (((b[2 + j]! >> shift) & 0x0f) - 8);
  }],
  [GgmlType.Q5_0]: [32, 22, (b, v, out, o) => {
    const d = halfToFloat(v.getUint16(0, true));
    const qh = bitsOf(v.getUint32(2, true));
    const ql = [...b.subarray(6, 22)].map((x) => x & 0x0f).concat([...b.subarray(6, 22)].map((x) => x >> 4));
    for (let k = 0; k < 32; k++) out[o + k] = d * ((ql[k]! | (qh[k]! << 4)) - 16);
  }],
  [GgmlType.Q5_1]: [32, 24, (b, v, out, o) => {
    const d = halfToFloat(v.getUint16(0, true));
    const m = halfToFloat(v.getUint16(2, true));
    const qh = bitsOf(v.getUint32(4, true));
    const ql = [...b.subarray(8, 24)].map((x) => x & 0x0f).concat([...b.subarray(8, 24)].map((x) => x >> 4));
    for (let k = 0; k < 32; k++) out[o + k] = f(f(d * (ql[k]! | (qh[k]! << 4))) + m);
  }],
  [GgmlType.Q4_K]: [256, 144, (b, v, out, o) => {
    const d = halfToFloat(v.getUint16(0, true));
    const dmin = halfToFloat(v.getUint16(2, true));
    const { sc, min } = unpackScaleMin(b.subarray(4, 16));
    // qs as 4 rows of 32 bytes; row r gives sub-blocks 2r (low nibbles) and 2r + 1 (high nibbles).
    for (let s = 0; s < 8; s++) {
      const row = b.subarray(16 + 32 * (s >> 1), 16 + 32 * (s >> 1) + 32);
      const shift = (s & 1) * 4;
      for (let k = 0; k < 32; k++) out[o + 32 * s + k] = f(f(f(d * sc[s]!) * ((row[k]! >> shift) & 0x0f)) - f(dmin * min[s]!));
    }
  }],
  [GgmlType.Q5_K]: [256, 176, (b, v, out, o) => {
    const d = halfToFloat(v.getUint16(0, true));
    const dmin = halfToFloat(v.getUint16(2, true));
    const { sc, min } = unpackScaleMin(b.subarray(4, 16));
    const qh = b.subarray(16, 48); // bit s of qh[k] is the 5th bit of weight k of sub-block s
    for (let s = 0; s < 8; s++) {
      const row = b.subarray(48 + 32 * (s >> 1), 48 + 32 * (s >> 1) + 32);
      const shift = (s & 1) * 4;
      for (let k = 0; k < 32; k++) {
        const q = ((row[k]! >> shift) & 0x0f) | (((qh[k]! >> s) & 1) << 4);
        out[o + 32 * s + k] = f(f(f(d * sc[s]!) * q) - f(dmin * min[s]!));
      }
    }
  }],
  [GgmlType.Q6_K]: [256, 210, (b, v, out, o) => {
    const ql = b.subarray(0, 128), qh = b.subarray(128, 192);
    const scales = new Int8Array(b.buffer, b.byteOffset + 192, 16);
    const d = halfToFloat(v.getUint16(208, true));
    // ql as rows of 64 bytes, each split into low / high nibbles: 4 rows of 32 per half (128 weights);
    // qh as rows of 32 bytes with 2-bit fields at shifts 0, 2, 4, 6: the same 4 groups of 32.
    for (let h = 0; h < 2; h++) {
      for (let g = 0; g < 4; g++) {
        const nib = ql.subarray(64 * h + 32 * (g & 1), 64 * h + 32 * (g & 1) + 32);
        const nshift = (g >> 1) * 4;
        for (let k = 0; k < 32; k++) {
          const i = 128 * h + 32 * g + k; // weight index in the super-block
          const q = ((nib[k]! >> nshift) & 0x0f) | (((qh[32 * h + k]! >> (2 * g)) & 3) << 4);
          out[o + i] = f(f(d * scales[i >> 4]!) * (q - 32));
        }
      }
    }
  }],
};

export function isBlockType(type: GgmlType): boolean {
  return type in BLOCKS;
}

/** Dequantizes `n` values of a block type from `bytes` (which hold exactly n / blockSize blocks). */
export function dequantizeBlocks(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const spec = BLOCKS[type];
  if (!spec) throw new GgufExportError(`reading GGML type ${GgmlType[type] ?? type} is not supported`);
  const [qk, size, block] = spec;
  if (n % qk !== 0 || bytes.byteLength < (n / qk) * size) throw new GgufExportError(`${GgmlType[type]}: ${bytes.byteLength} bytes do not hold ${n} values`);
  const out = new Float32Array(n);
  for (let i = 0; i < n / qk; i++) {
    const b = bytes.subarray(i * size, (i + 1) * size);
    block(b, new DataView(b.buffer, b.byteOffset, size), out, i * qk);
  }
  return out;
}
