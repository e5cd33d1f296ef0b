// Tensor data in GGML storage types, byte-exact with llama.cpp's reference (ggml-quants.c and
// gguf-py quants.py): F32, F16 and BF16 round to nearest even; Q8_0 stores each block of 32 values
// as an f16 scale d = max|x| / 127 and int8 codes round(x / d), rounding half away from zero, with
// the scale and its inverse computed in float32 as the reference does. The 4/5-bit block types and
// k-quants live in quant-32.ts and quant-k.ts.
import { floatToBf16, floatToHalf } from '../dtype';
import { BLOCK, GgmlType, GgufExportError } from './constants';
import { quantizeQ4_0, quantizeQ5_0, quantizeQ5_1 } from './quant-32';
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quant-k';

export function ggmlBytes(type: GgmlType, elements: number, rowLength: number): number {
  const b = BLOCK[type];
  if (!b) throw new GgufExportError(`GGML type ${GgmlType[type] ?? type} is not supported by this exporter`);
  if (rowLength % b[0] !== 0) throw new GgufExportError(`${GgmlType[type]} needs rows that are a multiple of ${b[0]} values, got ${rowLength}`);
  return (elements / b[0]) * b[1];
}

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % 32 !== 0) throw new GgufExportError(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  const f = Math.fround;
  for (let b = 0; b < blocks; b++) {
    const o = b * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]!));
    const d = f(amax / 127);
    const id = d === 0 ? 0 : f(1 / d);
    view.setUint16(b * 34, floatToHalf(d), true);
    for (let i = 0; i < 32; i++) {
      const v = f(x[o + i]! * id);
      const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5); // roundf: half away from zero
      view.setInt8(b * 34 + 2 + i, q);
    }
  }
  return out;
}

/** Little-endian bytes of x in `type`. */
export function encodeGgml(x: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case GgmlType.F16:
    case GgmlType.BF16: {
      const conv = type === GgmlType.F16 ? floatToHalf : floatToBf16;
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = conv(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case GgmlType.Q8_0: return quantizeQ8_0(x);
    case GgmlType.Q4_0: return quantizeQ4_0(x);
    case GgmlType.Q5_0: return quantizeQ5_0(x);
    case GgmlType.Q5_1: return quantizeQ5_1(x);
    case GgmlType.Q4_K: return quantizeQ4_K(x);
    case GgmlType.Q5_K: return quantizeQ5_K(x);
    case GgmlType.Q6_K: return quantizeQ6_K(x);
    default:
      throw new GgufExportError(`GGML type ${GgmlType[type] ?? type} is not supported by this exporter`);
  }
}
