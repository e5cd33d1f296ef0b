// The k-quant super-blocks llama-quantize writes without an importance matrix, as ggml-quants.c's
// reference quantizers compute them (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref), with the same
// searches: make_qkx2_quants (scale + min per 32 weights, weighted least squares over a sweep of
// candidate scales) for Q4_K / Q5_K and make_qx_quants (symmetric scale per 16 weights, weighted
// by x², sweep of 19 scales) for Q6_K. Every float operation is rounded to float32 in C's order
// (no fused multiply-add), so the bytes are those of a reference build without FMA contraction.
//   Q4_K [144 B]: d f16 | dmin f16 | scales[12] | qs[128]           x = d*sc*q - dmin*m, q 0..15
//   Q5_K [176 B]: d f16 | dmin f16 | scales[12] | qh[32] | qs[128]  x = d*sc*q - dmin*m, q 0..31
//   Q6_K [210 B]: ql[128] | qh[64] | scales[16] i8 | d f16          x = d*sc*(q - 32),   q 0..63
// scales[12] packs eight 6-bit scales sc and mins m: bytes 0-3 hold sc0-3 (low 6 bits) and the top
// 2 bits of sc4-7; bytes 4-7 m0-3 and the top bits of m4-7; bytes 8-11 the low nibbles of sc4-7 | m4-7.
import { halfToFloat } from '../../model/safetensors';
import { floatToHalf } from '../dtype';
import { GgufExportError } from './constants';

const f = Math.fround;
export const QK_K = 256;
/** GROUP_MAX_EPS: a group whose largest magnitude is below this is all zeros. */
const GROUP_MAX_EPS = f(1e-15);
/** Scratch for makeQkx2 (n <= 32): x - min as float32. */
const XM = new Float32Array(32);

/** nearest_int: round half to even through the float32 magic-number sum, as the reference does. */
export function nearestInt(v: number): number {
  return f(v + 12582912) - 12582912;
}

function superBlocks(x: Float32Array, name: string): number {
  if (x.length % QK_K !== 0) throw new GgufExportError(`${name} needs a multiple of ${QK_K} values, got ${x.length}`);
  return x.length / QK_K;
}

/**
 * make_qkx2_quants over x[o .. o + n): codes L in 0..nmax with x ≈ scale * L - theMin. Starts from the
 * min/max grid, then tries nstep + 1 grids of (rmin + rdelta * is + nmax) levels over the range, each
 * refit by weighted least squares for scale and min; keeps the lowest weighted squared error. As in
 * the reference, a better fit's min moves the range the later grids are laid over.
 */
function makeQkx2(n: number, nmax: number, x: Float32Array, o: number, w: Float32Array, L: Uint8Array, lo: number, aux: Uint8Array, rmin: number, rdelta: number, nstep: number): { scale: number; theMin: number } {
  let min = x[o]!;
  let max = x[o]!;
  let sumW = w[0]!;
  let sumX = f(sumW * x[o]!);
  for (let i = 1; i < n; i++) {
    const v = x[o + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f(sumW + w[i]!);
    sumX = f(sumX + f(w[i]! * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return { scale: 0, theMin: -min };
  }
  // xm = x - min (float32), recomputed when a better fit moves min; codes are inlined nearest_int
  // (the float32 magic-number sum) clamped to 0..nmax. This loop is most of a Q4_K export's time.
  const xm = XM;
  const setXm = () => { for (let i = 0; i < n; i++) xm[i] = x[o + i]! - min; };
  setXm();
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    let l = f(f(iscale * xm[i]!) + 12582912) - 12582912;
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[lo + i] = l;
    const diff = f(f(f(scale * l) + min) - x[o + i]!);
    bestError = f(bestError + f(w[i]! * f(diff * diff)));
  }
  const delta = f(rdelta); // a C float (0.1f)
  for (let is = 0; is <= nstep; is++) {
    // min is the best fit's so far, as in the reference.
    iscale = f(f(f(rmin + f(delta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = f(f(iscale * xm[i]!) + 12582912) - 12582912;
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      aux[i] = l;
      const wl = f(w[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[o + i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * aux[i]!) + thisMin) - x[o + i]!);
        curError = f(curError + f(w[i]! * f(diff * diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = aux[i]!;
        bestError = curError;
        scale = thisScale;
        if (thisMin !== min) {
          min = thisMin;
          setXm();
        }
      }
    }
  }
  return { scale, theMin: -min };
}

/** Q4_K and Q5_K share everything but the code width, the search grid and the packing of codes. */
function quantizeScaleMin(x: Float32Array, bits: 4 | 5): Uint8Array {
  const nb = superBlocks(x, bits === 4 ? 'Q4_K' : 'Q5_K');
  const size = bits === 4 ? 144 : 176;
  const nmax = bits === 4 ? 15 : 31;
  const out = new Uint8Array(nb * size);
  const view = new DataView(out.buffer);
  const L = new Uint8Array(QK_K);
  const aux = new Uint8Array(32);
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const at = i * size;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const o = xo + 32 * j;
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[o + l]! * x[o + l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) w[l] = f(avX + Math.abs(x[o + l]!));
      const r = bits === 4 ? makeQkx2(32, nmax, x, o, w, L, 32 * j, aux, -1, 0.1, 20) : makeQkx2(32, nmax, x, o, w, L, 32 * j, aux, -0.5, 0.1, 15);
      scales[j] = r.scale;
      mins[j] = r.theMin;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const sc = at + 4; // scales[12]
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        out[sc + j] = ls;
        out[sc + j + 4] = lm;
      } else {
        out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[sc + j - 4] |= (ls >> 4) << 6;
        out[sc + j] |= (lm >> 4) << 6;
      }
    }
    const dh = floatToHalf(f(maxScale / 63));
    const mh = floatToHalf(f(maxMin / 63));
    view.setUint16(at, dh, true);
    view.setUint16(at + 2, mh, true);
    // Codes again against the scales as stored (6-bit, times the f16 super-scales).
    const D = halfToFloat(dh);
    const M = halfToFloat(mh);
    for (let j = 0; j < 8; j++) {
      const [s, m] = scaleMin(out, sc, j);
      const d = f(D * s);
      if (!d) continue;
      const dm = f(M * m);
      for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt(f(f(x[xo + 32 * j + ii]! + dm) / d))));
    }
    if (bits === 4) {
      // 64 weights per 32 bytes: low nibble weight k, high nibble weight k + 32.
      for (let j = 0, q = at + 16; j < QK_K; j += 64, q += 32) {
        for (let l = 0; l < 32; l++) out[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
      }
    } else {
      const qh = at + 16;
      for (let n = 0, q = at + 48, m1 = 1, m2 = 2; n < QK_K; n += 64, q += 32, m1 <<= 2, m2 <<= 2) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j]!;
          let l2 = L[n + j + 32]!;
          if (l1 > 15) { l1 -= 16; out[qh + j] |= m1; }
          if (l2 > 15) { l2 -= 16; out[qh + j] |= m2; }
          out[q + j] = l1 | (l2 << 4);
        }
      }
    }
  }
  return out;
}

/** The 6-bit scale and min of sub-block j from the packed scales[12] at byte sc (get_scale_min_k4). */
function scaleMin(b: Uint8Array, sc: number, j: number): [number, number] {
  if (j < 4) return [b[sc + j]! & 63, b[sc + j + 4]! & 63];
  return [(b[sc + j + 4]! & 0xf) | ((b[sc + j - 4]! >> 6) << 4), (b[sc + j + 4]! >> 4) | ((b[sc + j]! >> 6) << 4)];
}

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  return quantizeScaleMin(x, 4);
}

export function quantizeQ5_K(x: Float32Array): Uint8Array {
  return quantizeScaleMin(x, 5);
}

/**
 * make_qx_quants(16, 32, x, L, rmse_type 1, no weights): symmetric codes l in -32..31 (stored l + 32)
 * with x ≈ scale * l, scale chosen by least squares weighted by x² over 19 candidate grids.
 */
function makeQx(x: Float32Array, o: number, L: Int8Array, lo: number): number {
  const n = 16, nmax = 32;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) { amax = ax; max = x[o + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const code = (iscale: number, v: number) => Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * v))));
  let iscale = f(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[o + i]!;
    const l = code(iscale, v);
    L[lo + i] = l + nmax;
    const w = f(v * v);
    sumlx = f(sumlx + f(f(w * v) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumlx = suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[o + i]!;
      const l = code(iscale, v);
      const w = f(v * v);
      sumlx = f(sumlx + f(f(w * v) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + code(iscale, x[o + i]!);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nb = superBlocks(x, 'Q6_K');
  const out = new Uint8Array(nb * 210);
  const view = new DataView(out.buffer);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const at = i * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQx(x, xo + 16 * ib, L, 16 * ib);
      scales[ib] = s;
      if (Math.abs(s) > maxAbsScale) { maxAbsScale = Math.abs(s); maxScale = s; }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // an all-zero block: every byte 0 (d = +0)
    const iscale = f(-128 / maxScale);
    const dh = floatToHalf(f(1 / iscale));
    view.setUint16(at + 208, dh, true);
    const sc = new Int8Array(out.buffer, at + 192, 16);
    for (let ib = 0; ib < 16; ib++) sc[ib] = Math.min(127, nearestInt(f(iscale * scales[ib]!)));
    const D = halfToFloat(dh);
    for (let j = 0; j < 16; j++) {
      const d = f(D * sc[j]!);
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f(x[xo + 16 * j + ii]! / d)))) + 32;
    }
    // Per 128 weights: ql[l] = q[l] | q[l+64] << 4, ql[l+32] = q[l+32] | q[l+96] << 4, and qh[l]
    // holds the top 2 bits of q[l], q[l+32], q[l+64], q[l+96] in bit pairs 0, 2, 4, 6.
    for (let j = 0, ql = at, qh = at + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l]!, q2 = L[j + l + 32]!, q3 = L[j + l + 64]!, q4 = L[j + l + 96]!;
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}
