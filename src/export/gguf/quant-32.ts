// The 32-weight block types llama-quantize writes without an importance matrix, byte for byte as
// ggml-quants.c's reference quantizers (quantize_row_q4_0_ref, _q5_0_ref, _q5_1_ref) compute them:
// every product and sum rounded to float32 as C does, the f16 scale rounded to nearest even.
//   Q4_0 [18 B]: d f16 | qs[16]            x = d * (q - 8),  q in 0..15
//   Q5_0 [22 B]: d f16 | qh u32 | qs[16]   x = d * (q - 16), q in 0..31
//   Q5_1 [24 B]: d f16 | m f16 | qh | qs   x = d * q + m,    q in 0..31
// Codes j and j + 16 share byte qs[j] (low, high nibble); bit j of qh is the 5th bit of code j.
import { floatToHalf } from '../dtype';
import { GgufExportError } from './constants';

const f = Math.fround;

function blocksOf(x: Float32Array, name: string): number {
  if (x.length % 32 !== 0) throw new GgufExportError(`${name} needs a multiple of 32 values, got ${x.length}`);
  return x.length / 32;
}

/** The signed value of largest magnitude (the first one on ties), as the reference picks `max`. */
function signedAbsMax(x: Float32Array, o: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** Symmetric 4 or 5-bit block: d = max / -(2^(bits-1)), code = trunc(x / d + offset + 0.5) capped. */
function symmetric(x: Float32Array, bits: 4 | 5): Uint8Array {
  const blocks = blocksOf(x, bits === 4 ? 'Q4_0' : 'Q5_0');
  const size = bits === 4 ? 18 : 22;
  const half = bits === 4 ? 8 : 16; // the code of zero
  const top = 2 * half - 1;
  const out = new Uint8Array(blocks * size);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const o = b * 32;
    const at = b * size;
    const d = f(signedAbsMax(x, o) / -half);
    const id = d ? f(1 / d) : 0;
    view.setUint16(at, floatToHalf(d), true);
    const qs = at + (bits === 4 ? 2 : 6);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      // (int8_t)(v + 8.5f): truncation toward zero of a float32 sum.
      const q0 = Math.min(top, Math.trunc(f(f(x[o + j]! * id) + half + 0.5)));
      const q1 = Math.min(top, Math.trunc(f(f(x[o + 16 + j]! * id) + half + 0.5)));
      out[qs + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 >> 4) & 1) << j;
      qh |= ((q1 >> 4) & 1) << (j + 16);
    }
    if (bits === 5) view.setUint32(at + 2, qh >>> 0, true);
  }
  return out;
}

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  return symmetric(x, 4);
}

export function quantizeQ5_0(x: Float32Array): Uint8Array {
  return symmetric(x, 5);
}

/** Q5_1: d = (max - min) / 31, m = min, code = trunc((x - min) / d + 0.5) (no cap, as the reference). */
export function quantizeQ5_1(x: Float32Array): Uint8Array {
  const blocks = blocksOf(x, 'Q5_1');
  const out = new Uint8Array(blocks * 24);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const o = b * 32;
    const at = b * 24;
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = x[o + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    view.setUint16(at, floatToHalf(d), true);
    view.setUint16(at + 2, floatToHalf(min), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.trunc(f(f(f(x[o + j]! - min) * id) + 0.5)) & 0xff; // (uint8_t)
      const q1 = Math.trunc(f(f(f(x[o + 16 + j]! - min) * id) + 0.5)) & 0xff;
      out[at + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 >> 4) & 1) << j;
      qh |= ((q1 >> 4) & 1) << (j + 16);
    }
    view.setUint32(at + 4, qh >>> 0, true);
  }
  return out;
}
