// NF4 quantization: hand-computed blocks, reachability of every code, the rounding error bound,
// the documented packing order, double-quantized absmax bounds, padding and byte counts.
import { describe, expect, it } from 'vitest';
import {
  DQ_BLOCK,
  NF4_BLOCK,
  NF4_LEVELS,
  Nf4ShapeError,
  blockAbsmax,
  codeAt,
  dequantizeNf4,
  dequantizeNf4Into,
  doubleQuantize,
  dqAbsmaxAt,
  nearestNf4Code,
  nf4Bytes,
  quantizeNf4,
} from './nf4';

/** Deterministic pseudo-random numbers (LCG), so failures reproduce. */
function randoms(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Half the largest gap between neighbouring NF4 levels: the worst rounding error per unit absmax. */
const HALF_MAX_GAP = Math.max(...NF4_LEVELS.slice(1).map((l, i) => l - NF4_LEVELS[i])) / 2;

describe('nearestNf4Code', () => {
  it.each([
    [-1, 0],
    [-0.9, 0], // nearer -1 than -0.696
    [-0.8, 1],
    [0, 7],
    [0.03, 7], // below the 0 / 0.0796 midpoint (0.0398)
    [0.05, 8],
    [0.5, 12], // 0.4407 vs 0.5626: midpoint 0.5017
    [0.51, 13],
    [0.9, 15],
    [1, 15],
  ])('maps %f to code %i', (v, code) => {
    expect(nearestNf4Code(v)).toBe(code);
  });

  it('returns the level itself for every exact level', () => {
    NF4_LEVELS.forEach((l, q) => expect(nearestNf4Code(l)).toBe(q));
  });
});

describe('quantizeNf4 / dequantizeNf4', () => {
  it('encodes a hand-computed block of exact levels losslessly with code q at element q', () => {
    // Block 0: level[q % 16] * 2 (absmax 2); block 1: -0.5 * level[15 - q % 16] (absmax 0.5).
    const w = new Float32Array(128);
    for (let i = 0; i < 64; i++) w[i] = NF4_LEVELS[i % 16] * 2;
    for (let i = 0; i < 64; i++) w[64 + i] = NF4_LEVELS[15 - (i % 16)] * 0.5;
    const q = quantizeNf4(w, 2, 64);
    expect(Array.from(q.absmax!)).toEqual([2, 0.5]);
    for (let i = 0; i < 64; i++) expect(codeAt(q.codes, i)).toBe(i % 16);
    for (let i = 0; i < 64; i++) expect(codeAt(q.codes, 64 + i)).toBe(15 - (i % 16));
    const d = dequantizeNf4(q);
    for (let i = 0; i < 128; i++) expect(d[i]).toBeCloseTo(w[i], 6);
  });

  it('rounds a hand-computed block to the nearest level times absmax', () => {
    // absmax 4 from the first element; 1.0 / 4 = 0.25 -> level 0.2461 (code 10) -> 0.98445
    // -1.5 / 4 = -0.375 -> level -0.3949 (code 3) -> -1.57967; 0.1 / 4 = 0.025 -> 0 (code 7).
    const w = new Float32Array(64);
    w[0] = 4;
    w[1] = 1;
    w[2] = -1.5;
    w[3] = 0.1;
    const q = quantizeNf4(w, 1, 64);
    expect([0, 1, 2, 3].map((i) => codeAt(q.codes, i))).toEqual([15, 10, 3, 7]);
    const d = dequantizeNf4(q);
    expect(d[0]).toBeCloseTo(4, 6);
    expect(d[1]).toBeCloseTo(0.24611230194568634 * 4, 6);
    expect(d[2]).toBeCloseTo(-0.39491748809814453 * 4, 6);
    expect(d[3]).toBe(0);
    expect(d[10]).toBe(0); // zeros stay zero
  });

  it('reaches every one of the 16 codes on random data', () => {
    const q = quantizeNf4(randoms(64 * 32, 7), 32, 64);
    const seen = new Set<number>();
    for (let i = 0; i < 64 * 32; i++) seen.add(codeAt(q.codes, i));
    expect([...seen].sort((a, b) => a - b)).toEqual([...Array(16).keys()]);
  });

  it.each([
    [16, 64, 1],
    [7, 13, 100], // 91 elements: not a multiple of 64, padded
    [3, 1000, 0.01],
  ])('bounds the error by half the level gap times absmax for [%i, %i] (scale %f)', (out, inF, scale) => {
    const w = randoms(out * inF, out * 31 + inF, scale);
    const q = quantizeNf4(w, out, inF);
    const d = dequantizeNf4(q);
    expect(d.length).toBe(out * inF);
    for (let i = 0; i < w.length; i++) {
      const bound = HALF_MAX_GAP * q.absmax![Math.floor(i / NF4_BLOCK)] * (1 + 1e-6);
      expect(Math.abs(d[i] - w[i])).toBeLessThanOrEqual(bound);
    }
  });

  it('keeps an all-zero block at zero instead of dividing by a zero absmax', () => {
    const q = quantizeNf4(new Float32Array(64), 1, 64);
    expect(q.absmax![0]).toBe(0);
    expect(Array.from(dequantizeNf4(q)).every((v) => v === 0)).toBe(true);
  });

  it('rejects a weight whose length is not out*in, naming the function', () => {
    expect(() => quantizeNf4(new Float32Array(10), 3, 4)).toThrow(Nf4ShapeError);
    expect(() => quantizeNf4(new Float32Array(10), 3, 4)).toThrow(/quantizeNf4.*10 elements.*12/);
  });
});

describe('packing order', () => {
  it('puts flat element i in word i >> 3 at bits 4*(i & 7), lowest nibble first', () => {
    // Codes 0..15 in order: word 0 = 0x76543210, word 1 = 0xFEDCBA98.
    const w = new Float32Array(64);
    for (let i = 0; i < 16; i++) w[i] = NF4_LEVELS[i];
    const q = quantizeNf4(w, 1, 64);
    expect(q.codes[0]).toBe(0x76543210);
    expect(q.codes[1]).toBe(0xfedcba98 | 0);
    expect(q.codes[2]).toBe(0x77777777); // zeros are code 7
    expect(q.codes.length).toBe(8);
  });

  it('pads the tail with code 7 up to whole blocks', () => {
    const q = quantizeNf4(new Float32Array(70).fill(-1), 7, 10);
    expect(q.codes.length).toBe(16); // two blocks of 64 -> 16 words
    expect(codeAt(q.codes, 69)).toBe(0);
    for (let i = 70; i < 128; i++) expect(codeAt(q.codes, i)).toBe(7);
  });
});

describe('double quantization', () => {
  it('decodes every absmax within half an 8-bit step of its block scale', () => {
    // 600 blocks -> three DQ blocks (256, 256, 88), absmax spread over [0.1, 1.9].
    const w = randoms(600 * 64, 99);
    for (let b = 0; b < 600; b++) for (let i = 0; i < 64; i++) w[b * 64 + i] *= 0.1 + (b % 37) / 20;
    const plain = quantizeNf4(w, 600, 64);
    const dqW = quantizeNf4(w, 600, 64, { doubleQuant: true });
    expect(dqW.absmax).toBeNull();
    const dq = dqW.dq!;
    expect(dq.scales.length).toBe(3);
    expect(Array.from(dqW.codes)).toEqual(Array.from(plain.codes)); // codes use the exact absmax
    for (let i = 0; i < 600; i++) {
      const bound = dq.scales[Math.floor(i / DQ_BLOCK)] / 254 + 1e-6;
      expect(Math.abs(dqAbsmaxAt(dq, i) - plain.absmax![i])).toBeLessThanOrEqual(bound);
    }
    // and the decoded weight stays within the NF4 bound plus the absmax error
    const d = dequantizeNf4(dqW);
    const am = blockAbsmax(dqW);
    for (let i = 0; i < w.length; i++) {
      const b = i >> 6;
      const bound = HALF_MAX_GAP * plain.absmax![b] + Math.abs(am[b] - plain.absmax![b]) + 1e-6;
      expect(Math.abs(d[i] - w[i])).toBeLessThanOrEqual(bound);
    }
  });

  it('stores offset-binary bytes, four per word, lowest first', () => {
    const dq = doubleQuantize(new Float32Array([1, 3, 2, 2, 2]));
    // mean 2, scale 1: bytes 128-127=1, 128+127=255, 128, 128 | 128
    expect(dq.mean).toBe(2);
    expect(dq.codes[0]).toBe((1 | (255 << 8) | (128 << 16) | (128 << 24)) | 0);
    expect(dq.codes[1]).toBe(128);
    expect([0, 1, 2, 3, 4].map((i) => dqAbsmaxAt(dq, i))).toEqual([1, 3, 2, 2, 2]);
  });
});

describe('nf4Bytes', () => {
  it.each([
    // numel, doubleQuant, bytes
    [64, false, 32 + 4],
    [65, false, 64 + 8], // padded to two blocks
    [64 * 256, false, 256 * 32 + 256 * 4],
    [64 * 256, true, 256 * 32 + 256 + 2 * 4],
  ])('sizes %i elements (double quant %s) at %i bytes', (numel, dq, bytes) => {
    expect(nf4Bytes(numel, { doubleQuant: dq })).toBe(bytes);
  });

  it('is under 0.15 of fp32 for a realistic layer', () => {
    expect(nf4Bytes(576 * 576) / (576 * 576 * 4)).toBeLessThan(0.15);
    expect(nf4Bytes(576 * 576, { doubleQuant: true }) / (576 * 576 * 4)).toBeLessThan(0.13);
  });
});

describe('dequantizeNf4 (byte-table decoder)', () => {
  // The reference: one code at a time through codeAt and the level table.
  const reference = (q: ReturnType<typeof quantizeNf4>) => {
    const abs = blockAbsmax(q);
    return Float32Array.from({ length: q.numel }, (_, i) => NF4_LEVELS[codeAt(q.codes, i)] * abs[Math.floor(i / NF4_BLOCK)]);
  };
  it.each([
    [7, 9, false], [7, 9, true], [64, 96, false], [33, 20, true], [1, 1, false], [70, 130, false], [65, 6, true], [3, 65, false],
  ])('[%i, %i] (double quantized %s): equals the per-code decode, and its transposed layout is Wᵀ', (rows, cols, doubleQuant) => {
    const q = quantizeNf4(randoms(rows * cols, rows * 31 + cols), rows, cols, { doubleQuant });
    const want = reference(q);
    expect(Array.from(dequantizeNf4(q))).toEqual(Array.from(want));
    const t = dequantizeNf4(q, { transposed: true });
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(want[r * cols + c]);
  });
  it('decodes into a caller-owned view (as the wasm heap is) and refuses one too short', () => {
    const q = quantizeNf4(randoms(40 * 10, 5), 40, 10, {});
    const heap = new Float32Array(1000).fill(-7);
    const view = heap.subarray(100, 500);
    dequantizeNf4Into(q, view, { transposed: true });
    expect(Array.from(view)).toEqual(Array.from(dequantizeNf4(q, { transposed: true })));
    expect(heap[99]).toBe(-7);
    expect(heap[500]).toBe(-7);
    expect(() => dequantizeNf4Into(q, new Float32Array(399))).toThrow(/holds 399 floats, the weight has 400/);
  });
});
