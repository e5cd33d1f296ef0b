// Float32 to the 16-bit float formats checkpoints and GGUF files store, with IEEE round-to-nearest-
// even (what torch's .to(float16/bfloat16) and numpy's astype do), overflow to infinity and NaN
// kept NaN. Reading back is safetensors.ts's halfToFloat and a 16-bit shift for bfloat16.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of x, round-to-nearest-even. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, or a quiet NaN
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^-24 with m = full mantissa >> (14 - e) (rounded).
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = mant | 0x800000; // implicit leading 1, 24 bits
    const shift = 14 - e; // 14..24
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m; // m may carry into the exponent field (0x400): that is the right normal number
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // carry may reach 0x7c00 = infinity: correct
  return sign | h;
}

/** bfloat16 bits of x: the top 16 bits of float32, round-to-nearest-even; NaN stays a quiet NaN. */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff)) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export type FloatStorage = 'F32' | 'F16' | 'BF16';

export const STORAGE_BYTES: Record<FloatStorage, number> = { F32: 4, F16: 2, BF16: 2 };

/** Little-endian bytes of `data` in `dtype` (a new buffer; F32 copies too, so callers may free data). */
export function encodeFloats(data: Float32Array, dtype: FloatStorage): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint16Array(data.length);
  const conv = dtype === 'F16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < data.length; i++) out[i] = conv(data[i]!);
  return new Uint8Array(out.buffer); // the platforms we run on are little-endian, as the formats are
}

/** torch_dtype / dtype of a config.json ("float32", "float16", "bfloat16") as safetensors storage, or null. */
export function storageFromTorchDtype(v: unknown): FloatStorage | null {
  switch (v) {
    case 'float32': case 'fp32': return 'F32';
    case 'float16': case 'fp16': case 'half': return 'F16';
    case 'bfloat16': case 'bf16': return 'BF16';
    default: return null;
  }
}
