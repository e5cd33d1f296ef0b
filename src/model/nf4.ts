// NF4 ("QLoRA-style") 4-bit quantization of frozen weights, pure TypeScript (no tfjs).
// A weight is flattened row-major, cut into blocks of 64, each block scaled by its absmax and every
// value replaced by the nearest of the 16 NF4 levels; the codes are packed eight per int32.
//
// Packing order (the WGSL kernels in src/gpu/nf4-matmul.ts rely on it): flat element i lives in
// word i >> 3 at bits [4 * (i & 7), 4 * (i & 7) + 4), i.e. the lowest nibble holds the first
// element. Flat index of W[n, k] (W is [out, in]) is n * in + k. The tail is padded with code 7
// (level 0.0) up to a multiple of 64, so every block is whole.
//
// Double quantization (optional, as in bitsandbytes, simplified): the per-block absmax values get
// their mean subtracted and are stored as signed 8-bit in blocks of 256 with one fp32 scale each
// (linear, not bitsandbytes' dynamic map). Each byte is stored offset by +128 (0..255), four per
// int32, lowest byte first. absmax ≈ mean + (byte - 128) / 127 * scale[block / 256].

/** Elements per absmax block. */
export const NF4_BLOCK = 64;
/** Absmax values per double-quantization block. */
export const DQ_BLOCK = 256;

/** The 16 NF4 levels of bitsandbytes, ascending; code q decodes to NF4_LEVELS[q] * absmax. */
export const NF4_LEVELS: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
];
/** Code of level 0.0, used for padding and all-zero blocks. */
export const NF4_ZERO_CODE = 7;

// Decision thresholds between neighbouring levels: value v gets the first code whose upper
// midpoint is >= v (so an exact midpoint rounds down to the lower level).
const MIDPOINTS: readonly number[] = NF4_LEVELS.slice(0, 15).map((l, i) => (l + NF4_LEVELS[i + 1]) / 2);

/** Absmax constants after double quantization. */
export interface DoubleQuantAbsmax {
  /** ceil(numBlocks / 4) words, four offset-binary bytes each (see header). */
  readonly codes: Int32Array;
  /** One scale (max |absmax - mean|) per DQ_BLOCK absmax values. */
  readonly scales: Float32Array;
  readonly mean: number;
  /** Number of absmax values encoded (= number of 64-blocks). */
  readonly count: number;
}

export interface Nf4Weight {
  /** [out, in] of the original weight. */
  readonly shape: readonly [number, number];
  /** out * in: the real element count (before padding). */
  readonly numel: number;
  /** ceil(numel / 64) * 8 words: eight 4-bit codes per int32. */
  readonly codes: Int32Array;
  /** One fp32 absmax per 64-block, or null when double-quantized. */
  readonly absmax: Float32Array | null;
  /** Double-quantized absmax, or null. */
  readonly dq: DoubleQuantAbsmax | null;
}

export class Nf4ShapeError extends Error {
  override name = 'Nf4ShapeError';
}

export function numBlocks(numel: number): number {
  return Math.ceil(numel / NF4_BLOCK);
}

/** Nearest NF4 code (0..15) of a value already divided by its absmax (expected in [-1, 1]). */
export function nearestNf4Code(v: number): number {
  // Binary search over the 15 midpoints.
  let lo = 0;
  let hi = 15;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= MIDPOINTS[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Quantize a row-major weight [out, in] to NF4. */
export function quantizeNf4(
  weight: Float32Array,
  outFeatures: number,
  inFeatures: number,
  opts: { doubleQuant?: boolean } = {},
): Nf4Weight {
  const numel = outFeatures * inFeatures;
  if (!Number.isInteger(numel) || numel <= 0 || weight.length !== numel) {
    throw new Nf4ShapeError(
      `src/model/nf4.ts quantizeNf4: weight has ${weight.length} elements, expected out*in = ${outFeatures}*${inFeatures} = ${numel}`,
    );
  }
  const nb = numBlocks(numel);
  const absmax = new Float32Array(nb);
  const codes = new Int32Array(nb * (NF4_BLOCK / 8));
  for (let b = 0; b < nb; b++) {
    const start = b * NF4_BLOCK;
    const end = Math.min(start + NF4_BLOCK, numel);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(weight[i]));
    absmax[b] = m;
    const inv = m > 0 ? 1 / m : 0;
    for (let i = start; i < start + NF4_BLOCK; i++) {
      const q = i < end && m > 0 ? nearestNf4Code(weight[i] * inv) : NF4_ZERO_CODE;
      codes[i >> 3] |= q << ((i & 7) * 4);
    }
  }
  if (opts.doubleQuant) {
    return { shape: [outFeatures, inFeatures], numel, codes, absmax: null, dq: doubleQuantize(absmax) };
  }
  return { shape: [outFeatures, inFeatures], numel, codes, absmax, dq: null };
}

/** 8-bit quantization of absmax values minus their mean, blocks of DQ_BLOCK. */
export function doubleQuantize(absmax: Float32Array): DoubleQuantAbsmax {
  const count = absmax.length;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += absmax[i];
  const mean = Math.fround(sum / count);
  const scales = new Float32Array(Math.ceil(count / DQ_BLOCK));
  const codes = new Int32Array(Math.ceil(count / 4));
  for (let s = 0; s < scales.length; s++) {
    const start = s * DQ_BLOCK;
    const end = Math.min(start + DQ_BLOCK, count);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(absmax[i] - mean));
    scales[s] = m;
    for (let i = start; i < end; i++) {
      const q = m > 0 ? Math.round(((absmax[i] - mean) / m) * 127) : 0; // -127..127
      codes[i >> 2] |= (q + 128) << ((i & 3) * 8);
    }
  }
  return { codes, scales, mean, count };
}

/** Decoded absmax i of a double-quantized set (the same formula the WGSL kernel uses). */
export function dqAbsmaxAt(dq: DoubleQuantAbsmax, i: number): number {
  const byte = (dq.codes[i >> 2] >>> ((i & 3) * 8)) & 0xff;
  return Math.fround(dq.mean + ((byte - 128) / 127) * dq.scales[Math.floor(i / DQ_BLOCK)]);
}

/** The absmax per 64-block as fp32 (decoded when double-quantized). */
export function blockAbsmax(w: Nf4Weight): Float32Array {
  if (w.absmax) return w.absmax;
  const dq = w.dq!;
  const out = new Float32Array(dq.count);
  for (let i = 0; i < dq.count; i++) out[i] = dqAbsmaxAt(dq, i);
  return out;
}

/** Code of flat element i. */
export function codeAt(codes: Int32Array, i: number): number {
  return (codes[i >> 3] >>> ((i & 7) * 4)) & 0xf;
}

/** Levels of the low and the high code of each byte (two weights per byte, low nibble first). */
const BYTE_LO = new Float32Array(256);
const BYTE_HI = new Float32Array(256);
for (let b = 0; b < 256; b++) {
  BYTE_LO[b] = NF4_LEVELS[b & 15];
  BYTE_HI[b] = NF4_LEVELS[b >> 4];
}

/**
 * Dequantize to a row-major Float32Array [out, in] (padding dropped), or with `transposed` to
 * [in, out] (Wᵀ, what x · Wᵀ multiplies untransposed). Decodes a byte (two weights) per table
 * lookup: about twice as fast as a lookup per weight, and the transposed layout saves a separate
 * transpose of the decoded weight.
 */
export function dequantizeNf4(w: Nf4Weight, opts: { transposed?: boolean } = {}): Float32Array {
  const out = new Float32Array(w.numel);
  dequantizeNf4Into(w, out, opts);
  return out;
}

/** Rows decoded together in the transposed layout: each column's run of them is one contiguous write. */
const T_ROWS = 32;

/**
 * dequantizeNf4 into `out` (numel floats, e.g. a view of the wasm heap, so the weight is decoded
 * where the product reads it, with no JS array allocated and copied). The transposed layout walks
 * bands of T_ROWS rows: the band's codes stay in L1 while each column's T_ROWS outputs are written
 * side by side (3x faster than scattering every weight to its own cache line at [1536, 576]).
 */
export function dequantizeNf4Into(w: Nf4Weight, out: Float32Array, opts: { transposed?: boolean } = {}): void {
  const absmax = blockAbsmax(w);
  const bytes = new Uint8Array(w.codes.buffer, w.codes.byteOffset, w.codes.byteLength); // byte j = weights 2j (low nibble), 2j+1
  const n = w.numel;
  if (out.length < n) throw new RangeError(`dequantizeNf4Into: out holds ${out.length} floats, the weight has ${n}`);
  const [rows, cols] = w.shape;
  if (!opts.transposed) {
    const pairs = n >> 1;
    for (let j = 0, i = 0; j < pairs; j++, i += 2) {
      const byte = bytes[j];
      const s = absmax[i >> 6];
      out[i] = BYTE_LO[byte] * s;
      out[i + 1] = BYTE_HI[byte] * s;
    }
    if (n & 1) out[n - 1] = BYTE_LO[bytes[n >> 1]] * absmax[(n - 1) >> 6];
    return;
  }
  if (cols % 2 === 0) {
    // Element i = r * cols + c is W[r, c]; it goes to out[c * rows + r]. With cols even, c and c + 1 share a byte in every row.
    for (let r0 = 0; r0 < rows; r0 += T_ROWS) {
      const rEnd = Math.min(rows, r0 + T_ROWS);
      for (let c = 0; c < cols; c += 2) {
        const lo = c * rows;
        const hi = lo + rows;
        for (let r = r0, i = r0 * cols + c; r < rEnd; r++, i += cols) {
          const byte = bytes[i >> 1];
          const s = absmax[i >> 6];
          out[lo + r] = BYTE_LO[byte] * s;
          out[hi + r] = BYTE_HI[byte] * s;
        }
      }
    }
    return;
  }
  for (let i = 0, r = 0, c = 0; i < n; i++) {
    const byte = bytes[i >> 1];
    out[c * rows + r] = (i & 1 ? BYTE_HI[byte] : BYTE_LO[byte]) * absmax[i >> 6];
    if (++c === cols) { c = 0; r++; }
  }
}

/**
 * Bytes the quantized weight occupies (codes + absmax constants), as held in backend memory.
 * With double quantization: int8 absmax words, one fp32 scale per 256 absmax, and the mean.
 */
export function nf4Bytes(numel: number, opts: { doubleQuant?: boolean } = {}): number {
  const nb = numBlocks(numel);
  const codeBytes = nb * (NF4_BLOCK / 2);
  if (!opts.doubleQuant) return codeBytes + nb * 4;
  return codeBytes + Math.ceil(nb / 4) * 4 + (Math.ceil(nb / DQ_BLOCK) + 1) * 4;
}

/** Bytes of the same weight in fp32, for the memory comparison in the UI. */
export function fp32Bytes(numel: number): number {
  return numel * 4;
}
