// 16-bit conversions against hand-worked IEEE values (ties to even, subnormals, overflow, NaN) and
// an exhaustive round trip: every binary16 value converts back to itself.
import { describe, it, expect } from 'vitest';
import { floatToBf16, floatToHalf, encodeFloats, storageFromTorchDtype } from './dtype';
import { halfToFloat } from '../model/safetensors';

describe('floatToHalf', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // below the midpoint to the next binade: rounds down
    [65520, 0x7c00], // the midpoint rounds to even = infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: to even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie to even = 0
    [3 * 2 ** -26, 0x0001], // above the tie
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: tie to even = 2
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up out of the subnormals into the smallest normal
    [1e-10, 0x0000],
  ])('%d -> 0x%s', (x, bits) => {
    expect(floatToHalf(x)).toBe(bits);
  });

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });

  it('round-trips every finite binary16 value exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) continue;
      if (floatToHalf(x) !== h) throw new Error(`0x${h.toString(16)} -> ${x} -> 0x${floatToHalf(x).toString(16)}`);
    }
  });
});

describe('floatToBf16', () => {
  const back = (b: number) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!;
  it.each([
    [1, 0x3f80],
    [-1, 0xbf80],
    [1 + 2 ** -8, 0x3f80], // tie: to even
    [1 + 3 * 2 ** -8, 0x3f82], // tie: to even (up)
    [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [3.4e38, 0x7f80], // rounds past the largest bf16 to infinity
    [Infinity, 0x7f80],
  ])('%d -> 0x%s', (x, bits) => {
    expect(floatToBf16(x)).toBe(bits);
  });

  it('keeps NaN a NaN and round-trips every bf16 value', () => {
    expect(Number.isNaN(back(floatToBf16(NaN)))).toBe(true);
    for (let b = 0; b < 0x10000; b++) {
      const x = back(b);
      if (Number.isNaN(x)) continue;
      if (floatToBf16(x) !== b) throw new Error(`0x${b.toString(16)} round trip`);
    }
  });
});

describe('encodeFloats', () => {
  it('writes little-endian bytes per dtype', () => {
    const data = new Float32Array([1, -2]);
    expect([...encodeFloats(data, 'F16')]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    expect([...encodeFloats(data, 'BF16')]).toEqual([0x80, 0x3f, 0x00, 0xc0]);
    expect([...encodeFloats(data, 'F32')]).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
  });

  it('reads config dtype names', () => {
    expect(['float32', 'float16', 'bfloat16', 'int8', undefined].map(storageFromTorchDtype)).toEqual(['F32', 'F16', 'BF16', null, null]);
  });
});
