// The 4/5/6-bit block quantizers against blocks worked out by hand from the block layouts (values
// chosen on each type's grid, so the right answer is known exactly and the expected bytes are
// packed here, field by field, from ggml-common.h's structs), then against their error bounds on
// random data, always read back through dequant.ts (written from gguf-py, not from the quantizers).
import { describe, it, expect } from 'vitest';
import { GgmlType } from './constants';
import { encodeGgml } from './quant';
import { quantizeQ4_0, quantizeQ5_0, quantizeQ5_1 } from './quant-32';
import { nearestInt, quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quant-k';
import { dequantizeBlocks, unpackScaleMin } from './dequant';
import { floatToHalf } from '../dtype';
import { halfToFloat } from '../../model/safetensors';
import { uniformValues } from '../../util/random';
import { createHash } from 'node:crypto';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u16 = (v: number) => [v & 0xff, v >> 8];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe('nearest_int', () => {
  it.each([[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, 0], [-1.5, -2], [3.49, 3], [-7.51, -8]])('%f -> %i (half to even)', (v, r) => {
    expect(nearestInt(v)).toBe(r);
  });
});

describe('Q4_0 / Q5_0 / Q5_1 blocks', () => {
  // x = -16 .. 15: the value of largest magnitude is -16, so d = -16 / -8 = 2 (Q4_0) or 1 (Q5_0).
  const ramp = Float32Array.from({ length: 32 }, (_, j) => j - 16);

  it('Q4_0: d = max / -8, code = min(15, trunc(x / d + 8.5)), codes j and j + 16 share byte j', () => {
    // x / d = (j - 16) / 2 -> trunc((j - 16) / 2 + 8.5) = trunc(j / 2 + 0.5) capped at 15.
    const code = (j: number) => Math.min(15, Math.trunc(j / 2 + 0.5));
    const qs = Array.from({ length: 16 }, (_, j) => code(j) | (code(j + 16) << 4));
    expect(hex(quantizeQ4_0(ramp))).toBe(hex(Uint8Array.from([...u16(0x4000) /* f16 2.0 */, ...qs])));
    // Read back: d * (q - 8); the positive end is capped (15 -> 14 instead of 15).
    const y = dequantizeBlocks(GgmlType.Q4_0, quantizeQ4_0(ramp), 32);
    expect(y[0]).toBe(-16);
    expect(y[31]).toBe(14);
  });

  it('Q5_0: d = max / -16, 5-bit codes with the high bits in a u32 (bit j = code j)', () => {
    // d = -16 / -16 = 1, code = min(31, trunc(x + 16.5)) = j: the ramp is stored exactly.
    const qh = 0xffff0000; // codes 16..31 have the 5th bit
    const qs = Array.from({ length: 16 }, (_, j) => j | ((j + 16) & 15) << 4);
    expect(hex(quantizeQ5_0(ramp))).toBe(hex(Uint8Array.from([...u16(0x3c00) /* f16 1.0 */, ...u32(qh), ...qs])));
    expect(dequantizeBlocks(GgmlType.Q5_0, quantizeQ5_0(ramp), 32)).toEqual(ramp);
  });

  it('Q5_1: d = (max - min) / 31, m = min; values on the grid come back exactly', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => 0.25 * ((j * 7) % 32) - 3); // codes (7j mod 32), all 32 of them
    const codes = Array.from({ length: 32 }, (_, j) => (j * 7) % 32);
    const qh = codes.reduce((h, c, j) => (h | (((c >> 4) & 1) << j)) >>> 0, 0);
    const qs = Array.from({ length: 16 }, (_, j) => (codes[j]! & 15) | ((codes[j + 16]! & 15) << 4));
    const d = 0.25 * 31 / 31;
    expect(hex(quantizeQ5_1(x))).toBe(hex(Uint8Array.from([...u16(floatToHalf(d)), ...u16(floatToHalf(-3)), ...u32(qh), ...qs])));
    expect(dequantizeBlocks(GgmlType.Q5_1, quantizeQ5_1(x), 32)).toEqual(x);
  });

  it('an all-zero block stores d = 0 and the code of zero', () => {
    // d = 0 / -8 = -0 (f16 0x8000, as C's division gives) and codes of zero: 8 for Q4_0 (nibbles
    // 0x88), 16 for Q5_0 (every high bit set, nibbles 0).
    expect(hex(quantizeQ4_0(new Float32Array(32)))).toBe('0080' + '88'.repeat(16));
    expect(hex(quantizeQ5_0(new Float32Array(32)))).toBe('0080' + 'ffffffff' + '00'.repeat(16));
  });
});

/**
 * A Q4_K / Q5_K super-block whose values lie exactly on a grid the format can store: sub-block s
 * has scale ks[s] * D and min km[s] * M (6-bit integers, one of each at 63), and codes q(s, k)
 * that reach both 0 and nmax, so the quantizer's first guess is exact and nothing beats it.
 */
function gridBlock(nmax: number) {
  const D = 2 ** -10, M = 2 ** -8; // exact f16 values
  const ks = [63, 40, 17, 55, 9, 31, 48, 22];
  const km = [5, 63, 12, 0, 33, 20, 47, 8];
  const q = (s: number, k: number) => (k === 0 ? 0 : k === 1 ? nmax : (k * 11 + s * 5) % (nmax + 1));
  const x = new Float32Array(256);
  for (let s = 0; s < 8; s++) for (let k = 0; k < 32; k++) x[32 * s + k] = ks[s]! * D * q(s, k) - km[s]! * M;
  // scales[12]: bytes 0-3 = sc0-3 | top 2 bits of sc4-7 << 6; bytes 4-7 = m0-3 | top bits of m4-7 << 6;
  // bytes 8-11 = low nibble of sc4-7 | low nibble of m4-7 << 4.
  const scales = [
    ...[0, 1, 2, 3].map((s) => ks[s]! | ((ks[s + 4]! >> 4) << 6)),
    ...[0, 1, 2, 3].map((s) => km[s]! | ((km[s + 4]! >> 4) << 6)),
    ...[4, 5, 6, 7].map((s) => (ks[s]! & 15) | ((km[s]! & 15) << 4)),
  ];
  return { x, D, M, ks, km, q, scales };
}

describe('Q4_K / Q5_K super-blocks', () => {
  it('Q4_K: d, dmin, six-bit scales and mins, and 4-bit codes laid out as block_q4_K', () => {
    const { x, D, M, ks, km, q, scales } = gridBlock(15);
    // qs: 4 runs of 32 bytes; run r holds sub-block 2r in the low nibbles and 2r + 1 in the high ones.
    const qs = Array.from({ length: 128 }, (_, i) => q(2 * (i >> 5), i & 31) | (q(2 * (i >> 5) + 1, i & 31) << 4));
    const bytes = quantizeQ4_K(x);
    expect(bytes.byteLength).toBe(144);
    expect(hex(bytes)).toBe(hex(Uint8Array.from([...u16(floatToHalf(D)), ...u16(floatToHalf(M)), ...scales, ...qs])));
    expect(unpackScaleMin(bytes.subarray(4, 16))).toEqual({ sc: ks, min: km });
    expect(dequantizeBlocks(GgmlType.Q4_K, bytes, 256)).toEqual(x);
  });

  it('Q5_K: as Q4_K plus qh[32], where bit s of qh[k] is the 5th bit of weight k of sub-block s', () => {
    const { x, D, M, scales, q } = gridBlock(31);
    const qh = Array.from({ length: 32 }, (_, k) => [0, 1, 2, 3, 4, 5, 6, 7].reduce((h, s) => h | (((q(s, k) >> 4) & 1) << s), 0));
    const qs = Array.from({ length: 128 }, (_, i) => (q(2 * (i >> 5), i & 31) & 15) | ((q(2 * (i >> 5) + 1, i & 31) & 15) << 4));
    const bytes = quantizeQ5_K(x);
    expect(bytes.byteLength).toBe(176);
    expect(hex(bytes)).toBe(hex(Uint8Array.from([...u16(floatToHalf(D)), ...u16(floatToHalf(M)), ...scales, ...qh, ...qs])));
    expect(dequantizeBlocks(GgmlType.Q5_K, bytes, 256)).toEqual(x);
  });

  it('a constant negative block gets scale 0 and its value as the min (to f16 precision of dmin)', () => {
    const x = new Float32Array(256).fill(-0.5);
    const bytes = quantizeQ4_K(x);
    expect(halfToFloat(bytes[0]! | (bytes[1]! << 8))).toBe(0); // d
    expect(unpackScaleMin(bytes.subarray(4, 16)).min).toEqual(new Array(8).fill(63));
    const dmin = halfToFloat(floatToHalf(0.5 / 63));
    expect([...dequantizeBlocks(GgmlType.Q4_K, bytes, 256)]).toEqual(new Array(256).fill(Math.fround(-Math.fround(dmin * 63))));
    expect(Math.abs(dmin * 63 - 0.5)).toBeLessThan(5e-4);
  });
});

describe('Q6_K super-blocks', () => {
  it('ql, qh, int8 scales and d laid out as block_q6_K; d is negative as the reference makes it', () => {
    // Sub-block j: x = s_j * l with s_j = (128 - 8j) * u and l in -32..31 reaching -32, so each
    // group's scale is exactly s_j; then iscale = -128 / s_0, d = -u and scale_j = -(128 - 8j).
    const u = 2 ** -14;
    const l = (j: number, k: number) => (k === 0 ? -32 : ((k * 13 + j * 3) % 64) - 32);
    const x = new Float32Array(256);
    for (let j = 0; j < 16; j++) for (let k = 0; k < 16; k++) x[16 * j + k] = (128 - 8 * j) * u * l(j, k);
    const code = (i: number) => l(i >> 4, i & 15) + 32; // 0..63 for weight i
    const ql = new Array(128).fill(0);
    const qh = new Array(64).fill(0);
    for (let h = 0; h < 2; h++) {
      for (let k = 0; k < 32; k++) {
        const [a, b, c, d] = [0, 32, 64, 96].map((o) => code(128 * h + o + k));
        ql[64 * h + k] = (a! & 15) | ((c! & 15) << 4);
        ql[64 * h + 32 + k] = (b! & 15) | ((d! & 15) << 4);
        qh[32 * h + k] = (a! >> 4) | ((b! >> 4) << 2) | ((c! >> 4) << 4) | ((d! >> 4) << 6);
      }
    }
    const scales = Array.from({ length: 16 }, (_, j) => (-(128 - 8 * j)) & 0xff);
    const bytes = quantizeQ6_K(x);
    expect(bytes.byteLength).toBe(210);
    expect(hex(bytes)).toBe(hex(Uint8Array.from([...ql, ...qh, ...scales, ...u16(floatToHalf(-u))])));
    expect(dequantizeBlocks(GgmlType.Q6_K, bytes, 256)).toEqual(x);
  });

  it('an all-zero super-block is 210 zero bytes', () => {
    expect([...quantizeQ6_K(new Float32Array(256))].every((b) => b === 0)).toBe(true);
  });
});

describe('round-trip error on weight-like data', () => {
  // 64 super-blocks of uniform ±0.05.
  const n = 256 * 64;
  const x = uniformValues(n, 5).map((v) => v * 0.05);
  const relRmse = (t: GgmlType) => {
    const y = dequantizeBlocks(t, encodeGgml(x, t), n);
    let se = 0, sx = 0;
    for (let i = 0; i < n; i++) { se += (y[i]! - x[i]!) ** 2; sx += x[i]! ** 2; }
    return Math.sqrt(se / sx);
  };
  const err = Object.fromEntries(([['q4_0', GgmlType.Q4_0], ['q5_0', GgmlType.Q5_0], ['q5_1', GgmlType.Q5_1], ['q4_k', GgmlType.Q4_K], ['q5_k', GgmlType.Q5_K], ['q6_k', GgmlType.Q6_K]] as const).map(([k, t]) => [k, relRmse(t)]));

  it('stays within each type\'s bound (relative RMSE)', () => {
    // Uniform data in ±a on a grid of N levels: step 2a / N, RMSE step / sqrt(12), relative to the
    // data's RMS a / sqrt(3): 1 / N. Q4_0 has 16 levels, Q5_0 / Q5_1 32, Q4_K 16 (15 steps), Q5_K
    // 32, Q6_K 64; allow 12% over (block maxima fall short of a; f16 scales).
    expect(err.q4_0).toBeLessThan(1.12 / 16);
    expect(err.q5_0).toBeLessThan(1.12 / 32);
    expect(err.q5_1).toBeLessThan(1.12 / 32);
    expect(err.q4_k).toBeLessThan(1.12 / 15);
    expect(err.q5_k).toBeLessThan(1.12 / 31);
    expect(err.q6_k).toBeLessThan(1.12 / 64);
  });

  it('more bits give less error, and the k-quant search beats the plain grid at the same width', () => {
    expect(err.q6_k).toBeLessThan(err.q5_k!);
    expect(err.q5_k).toBeLessThan(err.q4_k!);
    expect(err.q4_k).toBeLessThan(err.q4_0!);
    expect(err.q5_k).toBeLessThan(err.q5_0!);
  });

  it('Q6_K: no value is further than one step (|d · scale|) of its 16-weight group', () => {
    // Rounding alone would give half a step; the scale search trades a little, so allow one.
    const q = encodeGgml(x, GgmlType.Q6_K);
    const y = dequantizeBlocks(GgmlType.Q6_K, q, n);
    for (let b = 0; b < n / 256; b++) {
      const d = halfToFloat(new DataView(q.buffer).getUint16(b * 210 + 208, true));
      const sc = new Int8Array(q.buffer, b * 210 + 192, 16);
      for (let i = 0; i < 256; i++) {
        const at = 256 * b + i;
        expect(Math.abs(y[at]! - x[at]!)).toBeLessThanOrEqual(Math.abs(d * sc[i >> 4]!) + 1e-9);
      }
    }
  });
});

describe('bytes of llama.cpp\'s reference quantizers', () => {
  // SHA-256 of what ggml-quants.c (quantize_q4_0 ... quantize_q6_K without an importance matrix, the
  // llama.cpp bundled with node-llama-cpp 3.22.1, compiled without FMA contraction) writes for these
  // 2,048 values: uniform, some outliers, and one nearly constant sub-block per super-block, so the
  // scale searches take their non-trivial paths. Builds that fuse multiply-adds differ in a few bytes.
  const x = uniformValues(2048, 42).map((v, i) => (i % 97 === 0 ? v * 12 : i % 256 < 32 ? v * 0.001 + 0.02 : v) * 0.05);
  it.each([
    ['Q4_0', GgmlType.Q4_0, '95828474239021230ed89e0e853e6e81b446c0db9ffc221260c09dd11e38e2dc'],
    ['Q5_0', GgmlType.Q5_0, '61d3a9130725e5499659521028c52d6a762d0f2d8eed40cbb0c347ea0023df32'],
    ['Q5_1', GgmlType.Q5_1, '477751ae470c8376f6c86cd64575aef58130da58656a713abde4786b76264ac7'],
    ['Q4_K', GgmlType.Q4_K, 'ce4cd49e64a01275dd6121f6849f665f09422f9099c6a6582734bae398ada399'],
    ['Q5_K', GgmlType.Q5_K, '3de8249fc179d26ba378b670dbc6e0214f1caa1ce6ab5a7d6317244c16e8438f'],
    ['Q6_K', GgmlType.Q6_K, '5b5cc8f078e9f102f3713c6c9f24adaec5bdb94c2ad404bf8ea05a2bff8c3cb2'],
  ] as const)('%s', (_name, type, sha256) => {
    expect(createHash('sha256').update(encodeGgml(x, type)).digest('hex')).toBe(sha256);
  });
});
