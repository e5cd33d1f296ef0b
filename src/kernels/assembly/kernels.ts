// SIMD kernels for generation on tfjs-backend-wasm, compiled by AssemblyScript (src/kernels/build.mjs)
// into a module that imports tfjs-wasm's own memory: every pointer is a byte offset into that heap
// (a tensor's memoryOffset), so nothing is copied in or out. The module has no data segments, no
// globals in memory and allocates nothing: it must never write outside the outputs it is handed.
//
// Products (x row-major [M, K], y row-major [M, N]):
//  - nf4Matmul:   y = x · dequant(W)ᵀ, W [N, K] as packed NF4 codes (src/model/nf4.ts layout: flat
//                 element i = n*K + k, word i >> 3, low nibble first) and one fp32 absmax per 64-block.
//                 The fp32 weight is never materialised: 16 codes become 16 levels in registers with
//                 four byte-plane swizzles, and each block's sum is scaled by its absmax once.
//  - int8Matmul:  y = x · dequant(W)ᵀ, W [N, K] int8 with per-row scale (frozen-head.ts Int8Rows).
//  - *Matvec2:    two rows at once with one row's arithmetic exactly (bit-identical per row), for
//                 two sequences decoded side by side; the weights are read and decoded once.
//  - int8Rows:    out[i] = dequant(W[ids[i]]) (the int8 embedding table's gather).
// No fp32 product: for one row tfjs's XNNPACK matvec ran 1536 x 576 in 0.17 ms where a kernel
// with 16-column register tiles took 0.33 ms, so DenseLinear keeps tfjs's path.
// Built twice: plain SIMD128 and, where the engine validates it, relaxed SIMD (fused multiply-add,
// swizzle without the out-of-range fix-up); ASC_FEATURE_RELAXED_SIMD picks at compile time.

// `tables` (NF4_TABLES in simd-kernels.ts, 144 bytes in the heap): the 16 fp32 NF4 levels at 0,
// then at 64 + 16b the byte b of each level's fp32 bit pattern (16 bytes, one per code: a swizzle
// table), then at 128 sixteen 0x0f bytes. They are loaded from memory into locals rather than
// written as v128 constants, which V8 rebuilds from immediates inside the loop (3x slower).
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function lookup(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, idx);
  return i8x16.swizzle(table, idx);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// Interleaves of two vectors' low or high halves: by byte (zip8) and by 16-bit pair (zip16). Two
// rounds of them turn four byte planes into the 16 levels' fp32 words, in element order.
// @ts-ignore: decorator
@inline function zip8Lo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

// @ts-ignore: decorator
@inline function zip8Hi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

// @ts-ignore: decorator
@inline function zip16Lo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

// @ts-ignore: decorator
@inline function zip16Hi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

// The 16 codes at flat element f (f % 16 == 0) as 16 indices in element order.
// @ts-ignore: decorator
@inline function codes16(codes: usize, f: usize, lowNibbles: v128): v128 {
  const raw = v128.load64_zero(codes + (f >> 1)); // 8 bytes: element 2j in the low nibble of byte j
  const lo = v128.and(raw, lowNibbles);
  const hi = v128.and(i16x8.shr_u(raw, 4), lowNibbles); // one psrlw + pand; i8x16.shr_u has no x86 instruction
  return zip8Lo(lo, hi);
}

/** NF4 level of flat element i (scalar path for rows that do not start on a 16-element boundary). */
// @ts-ignore: decorator
@inline function levelAt(codes: usize, tables: usize, i: usize): f32 {
  const q = (<u32>load<u8>(codes + (i >> 1)) >> (<u32>(i & 1) << 2)) & 15;
  return load<f32>(tables + (<usize>q << 2));
}

/**
 * One row of x: y[n] = Σ_k x[k] · level(n*K + k) · absmax[(n*K + k) >> 6], for n in [n0, n1).
 */
export function nf4Matvec(x: usize, K: i32, codes: usize, absmax: usize, tables: usize, y: usize, n0: i32, n1: i32): void {
  const PLANE0 = v128.load(tables, 64), PLANE1 = v128.load(tables, 80), PLANE2 = v128.load(tables, 96), PLANE3 = v128.load(tables, 112);
  const MASK = v128.load(tables, 128);
  for (let n = n0; n < n1; n++) {
    const s = <usize>n * <usize>K;
    const e = s + <usize>K;
    let a = (s + 15) & ~(<usize>15);
    let b = e & ~(<usize>15);
    if (a > e) a = e;
    if (b < a) b = a;
    let scalar: f32 = 0;
    for (let i = s; i < a; i++) scalar += load<f32>(x + ((i - s) << 2)) * (levelAt(codes, tables, i) * load<f32>(absmax + ((i >> 6) << 2)));
    for (let i = b; i < e; i++) scalar += load<f32>(x + ((i - s) << 2)) * (levelAt(codes, tables, i) * load<f32>(absmax + ((i >> 6) << 2)));
    let total = f32x4.splat(0);
    let f = a;
    while (f < b) {
      let blockEnd = ((f >> 6) + 1) << 6;
      if (blockEnd > b) blockEnd = b;
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      for (; f < blockEnd; f += 16) {
        const idx = codes16(codes, f, MASK);
        const b0 = lookup(PLANE0, idx);
        const b1 = lookup(PLANE1, idx);
        const b2 = lookup(PLANE2, idx);
        const b3 = lookup(PLANE3, idx);
        const l01 = zip8Lo(b0, b1), h01 = zip8Hi(b0, b1), l23 = zip8Lo(b2, b3), h23 = zip8Hi(b2, b3);
        const xp = x + ((f - s) << 2);
        acc0 = madd(zip16Lo(l01, l23), v128.load(xp), acc0);
        acc1 = madd(zip16Hi(l01, l23), v128.load(xp, 16), acc1);
        acc0 = madd(zip16Lo(h01, h23), v128.load(xp, 32), acc0);
        acc1 = madd(zip16Hi(h01, h23), v128.load(xp, 48), acc1);
      }
      total = madd(f32x4.add(acc0, acc1), v128.load32_splat(absmax + (((blockEnd - 1) >> 6) << 2)), total);
    }
    store<f32>(y + (<usize>n << 2), hsum(total) + scalar);
  }
}

/**
 * Four rows of x at once (x0..x3, each K floats; a caller with fewer rows repeats one): the codes
 * are decoded once for the four, so a prefill pays the decode a quarter as often.
 * y0..y3: the output rows (N floats each).
 */
export function nf4Matmul4(x0: usize, x1: usize, x2: usize, x3: usize, K: i32, codes: usize, absmax: usize, tables: usize, y0: usize, y1: usize, y2: usize, y3: usize, n0: i32, n1: i32): void {
  const PLANE0 = v128.load(tables, 64), PLANE1 = v128.load(tables, 80), PLANE2 = v128.load(tables, 96), PLANE3 = v128.load(tables, 112);
  const MASK = v128.load(tables, 128);
  for (let n = n0; n < n1; n++) {
    const s = <usize>n * <usize>K;
    const e = s + <usize>K;
    let a = (s + 15) & ~(<usize>15);
    let b = e & ~(<usize>15);
    if (a > e) a = e;
    if (b < a) b = a;
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let i = s; i < e; i++) {
      if (i == a) i = b;
      if (i >= e) break;
      const w = levelAt(codes, tables, i) * load<f32>(absmax + ((i >> 6) << 2));
      const o = (i - s) << 2;
      s0 += load<f32>(x0 + o) * w;
      s1 += load<f32>(x1 + o) * w;
      s2 += load<f32>(x2 + o) * w;
      s3 += load<f32>(x3 + o) * w;
    }
    let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
    let f = a;
    while (f < b) {
      let blockEnd = ((f >> 6) + 1) << 6;
      if (blockEnd > b) blockEnd = b;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (; f < blockEnd; f += 16) {
        const idx = codes16(codes, f, MASK);
        const b0 = lookup(PLANE0, idx);
        const b1 = lookup(PLANE1, idx);
        const b2 = lookup(PLANE2, idx);
        const b3 = lookup(PLANE3, idx);
        const l01 = zip8Lo(b0, b1), h01 = zip8Hi(b0, b1), l23 = zip8Lo(b2, b3), h23 = zip8Hi(b2, b3);
        const w0 = zip16Lo(l01, l23), w1 = zip16Hi(l01, l23), w2 = zip16Lo(h01, h23), w3 = zip16Hi(h01, h23);
        const o = (f - s) << 2;
        a0 = madd(w0, v128.load(x0 + o), madd(w1, v128.load(x0 + o, 16), madd(w2, v128.load(x0 + o, 32), madd(w3, v128.load(x0 + o, 48), a0))));
        a1 = madd(w0, v128.load(x1 + o), madd(w1, v128.load(x1 + o, 16), madd(w2, v128.load(x1 + o, 32), madd(w3, v128.load(x1 + o, 48), a1))));
        a2 = madd(w0, v128.load(x2 + o), madd(w1, v128.load(x2 + o, 16), madd(w2, v128.load(x2 + o, 32), madd(w3, v128.load(x2 + o, 48), a2))));
        a3 = madd(w0, v128.load(x3 + o), madd(w1, v128.load(x3 + o, 16), madd(w2, v128.load(x3 + o, 32), madd(w3, v128.load(x3 + o, 48), a3))));
      }
      const scale = v128.load32_splat(absmax + (((blockEnd - 1) >> 6) << 2));
      t0 = madd(a0, scale, t0);
      t1 = madd(a1, scale, t1);
      t2 = madd(a2, scale, t2);
      t3 = madd(a3, scale, t3);
    }
    const o = <usize>n << 2;
    store<f32>(y0 + o, hsum(t0) + s0);
    store<f32>(y1 + o, hsum(t1) + s1);
    store<f32>(y2 + o, hsum(t2) + s2);
    store<f32>(y3 + o, hsum(t3) + s3);
  }
}

/**
 * Two rows of x at once (x0, x1), each with exactly nf4Matvec's arithmetic (the same edge sums,
 * accumulators and order), so y0 and y1 equal two nf4Matvec calls bit for bit while the codes are
 * decoded once: two sequences decoded side by side (base and tuned) get what one alone would.
 */
export function nf4Matvec2(x0: usize, x1: usize, K: i32, codes: usize, absmax: usize, tables: usize, y0: usize, y1: usize, n0: i32, n1: i32): void {
  const PLANE0 = v128.load(tables, 64), PLANE1 = v128.load(tables, 80), PLANE2 = v128.load(tables, 96), PLANE3 = v128.load(tables, 112);
  const MASK = v128.load(tables, 128);
  for (let n = n0; n < n1; n++) {
    const s = <usize>n * <usize>K;
    const e = s + <usize>K;
    let a = (s + 15) & ~(<usize>15);
    let b = e & ~(<usize>15);
    if (a > e) a = e;
    if (b < a) b = a;
    let scalar0: f32 = 0, scalar1: f32 = 0;
    for (let i = s; i < a; i++) {
      const w = levelAt(codes, tables, i) * load<f32>(absmax + ((i >> 6) << 2));
      scalar0 += load<f32>(x0 + ((i - s) << 2)) * w;
      scalar1 += load<f32>(x1 + ((i - s) << 2)) * w;
    }
    for (let i = b; i < e; i++) {
      const w = levelAt(codes, tables, i) * load<f32>(absmax + ((i >> 6) << 2));
      scalar0 += load<f32>(x0 + ((i - s) << 2)) * w;
      scalar1 += load<f32>(x1 + ((i - s) << 2)) * w;
    }
    let total0 = f32x4.splat(0), total1 = f32x4.splat(0);
    let f = a;
    while (f < b) {
      let blockEnd = ((f >> 6) + 1) << 6;
      if (blockEnd > b) blockEnd = b;
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      for (; f < blockEnd; f += 16) {
        const idx = codes16(codes, f, MASK);
        const b0 = lookup(PLANE0, idx);
        const b1 = lookup(PLANE1, idx);
        const b2 = lookup(PLANE2, idx);
        const b3 = lookup(PLANE3, idx);
        const l01 = zip8Lo(b0, b1), h01 = zip8Hi(b0, b1), l23 = zip8Lo(b2, b3), h23 = zip8Hi(b2, b3);
        const w0 = zip16Lo(l01, l23), w1 = zip16Hi(l01, l23), w2 = zip16Lo(h01, h23), w3 = zip16Hi(h01, h23);
        const o = (f - s) << 2;
        a00 = madd(w0, v128.load(x0 + o), a00);
        a01 = madd(w1, v128.load(x0 + o, 16), a01);
        a00 = madd(w2, v128.load(x0 + o, 32), a00);
        a01 = madd(w3, v128.load(x0 + o, 48), a01);
        a10 = madd(w0, v128.load(x1 + o), a10);
        a11 = madd(w1, v128.load(x1 + o, 16), a11);
        a10 = madd(w2, v128.load(x1 + o, 32), a10);
        a11 = madd(w3, v128.load(x1 + o, 48), a11);
      }
      const scale = v128.load32_splat(absmax + (((blockEnd - 1) >> 6) << 2));
      total0 = madd(f32x4.add(a00, a01), scale, total0);
      total1 = madd(f32x4.add(a10, a11), scale, total1);
    }
    store<f32>(y0 + (<usize>n << 2), hsum(total0) + scalar0);
    store<f32>(y1 + (<usize>n << 2), hsum(total1) + scalar1);
  }
}

/** y[n] = (Σ_k x[k] · codes[n*K + k]) · scale[n] / 127 for n in [n0, n1): one row of x against int8 rows. */
export function int8Matvec(x: usize, K: i32, codes: usize, scale: usize, y: usize, n0: i32, n1: i32): void {
  const K16 = <usize>(K & ~15);
  for (let n = n0; n < n1; n++) {
    const row = codes + <usize>n * <usize>K;
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    for (let k: usize = 0; k < K16; k += 16) {
      const c = v128.load(row + k);
      const lo = i16x8.extend_low_i8x16_s(c);
      const hi = i16x8.extend_high_i8x16_s(c);
      const xp = x + (k << 2);
      acc0 = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(xp), acc0);
      acc1 = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(xp, 16), acc1);
      acc0 = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(xp, 32), acc0);
      acc1 = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(xp, 48), acc1);
    }
    let sum = hsum(f32x4.add(acc0, acc1));
    for (let k = K16; k < <usize>K; k++) sum += load<f32>(x + (k << 2)) * <f32>load<i8>(row + k);
    store<f32>(y + (<usize>n << 2), sum * <f32>(<f64>load<f32>(scale + (<usize>n << 2)) / 127));
  }
}

/** Two rows of x against int8 rows, each with exactly int8Matvec's arithmetic (bit-identical to two calls), the codes read once. */
export function int8Matvec2(x0: usize, x1: usize, K: i32, codes: usize, scale: usize, y0: usize, y1: usize, n0: i32, n1: i32): void {
  const K16 = <usize>(K & ~15);
  for (let n = n0; n < n1; n++) {
    const row = codes + <usize>n * <usize>K;
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    for (let k: usize = 0; k < K16; k += 16) {
      const c = v128.load(row + k);
      const lo = i16x8.extend_low_i8x16_s(c);
      const hi = i16x8.extend_high_i8x16_s(c);
      const c0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo));
      const c1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo));
      const c2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi));
      const c3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi));
      const p0 = x0 + (k << 2);
      const p1 = x1 + (k << 2);
      a00 = madd(c0, v128.load(p0), a00);
      a01 = madd(c1, v128.load(p0, 16), a01);
      a00 = madd(c2, v128.load(p0, 32), a00);
      a01 = madd(c3, v128.load(p0, 48), a01);
      a10 = madd(c0, v128.load(p1), a10);
      a11 = madd(c1, v128.load(p1, 16), a11);
      a10 = madd(c2, v128.load(p1, 32), a10);
      a11 = madd(c3, v128.load(p1, 48), a11);
    }
    let sum0 = hsum(f32x4.add(a00, a01));
    let sum1 = hsum(f32x4.add(a10, a11));
    for (let k = K16; k < <usize>K; k++) {
      const c = <f32>load<i8>(row + k);
      sum0 += load<f32>(x0 + (k << 2)) * c;
      sum1 += load<f32>(x1 + (k << 2)) * c;
    }
    const sc = <f32>(<f64>load<f32>(scale + (<usize>n << 2)) / 127);
    store<f32>(y0 + (<usize>n << 2), sum0 * sc);
    store<f32>(y1 + (<usize>n << 2), sum1 * sc);
  }
}

/**
 * Rows ids[0..count) of an int8 table [V, K] decoded to fp32 [count, K], value by value as
 * frozen-head.ts dequantizeInt8RowsInto computes them (code · (scale / 127) in f64, then fp32).
 * Returns the position of the first id outside [0, V), or -1.
 */
export function int8Rows(ids: usize, count: i32, V: i32, K: i32, codes: usize, scale: usize, out: usize): i32 {
  for (let i = 0; i < count; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (id < 0 || id >= V) return i;
    const s = <f64>load<f32>(scale + (<usize>id << 2)) / 127;
    const row = codes + <usize>id * <usize>K;
    const o = out + <usize>i * <usize>K * 4;
    for (let k: usize = 0; k < <usize>K; k++) store<f32>(o + (k << 2), <f32>(<f64>load<i8>(row + k) * s));
  }
  return -1;
}

/**
 * RoPE with the heads-first transpose (fused.ts applyRopeHeadsFirst): x [B, T, H, D] ->
 * out [B, H, T, D], out = x * cos + rotate_half(x) * sin, rotate_half = cat(-x2, x1), with
 * cos/sin [ropeB, T, 1, D] (ropeB 1: shared by the batch). The same fp32 multiplies and adds in
 * the same order as the tf-op composition (no fused multiply-add), so the result is bit-identical.
 */
export function ropeHeadsFirst(x: usize, B: i32, T: i32, H: i32, D: i32, cos: usize, sin: usize, ropeB: i32, out: usize): void {
  const half = D >> 1;
  const simd = (half & 3) == 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const cs = <usize>(((ropeB == 1 ? 0 : b) * T + t) * D) << 2;
      const c = cos + cs;
      const s = sin + cs;
      for (let h = 0; h < H; h++) {
        const src = x + (<usize>(((b * T + t) * H + h) * D) << 2);
        const dst = out + (<usize>(((b * H + h) * T + t) * D) << 2);
        if (simd) {
          for (let d = 0; d < half; d += 4) {
            const lo = <usize>d << 2;
            const hi = <usize>(d + half) << 2;
            const x1 = v128.load(src + lo);
            const x2 = v128.load(src + hi);
            v128.store(dst + lo, f32x4.add(f32x4.mul(x1, v128.load(c + lo)), f32x4.mul(f32x4.neg(x2), v128.load(s + lo))));
            v128.store(dst + hi, f32x4.add(f32x4.mul(x2, v128.load(c + hi)), f32x4.mul(x1, v128.load(s + hi))));
          }
        } else {
          for (let d = 0; d < half; d++) {
            const lo = <usize>d << 2;
            const hi = <usize>(d + half) << 2;
            const x1 = load<f32>(src + lo);
            const x2 = load<f32>(src + hi);
            store<f32>(dst + lo, x1 * load<f32>(c + lo) + -x2 * load<f32>(s + lo));
            store<f32>(dst + hi, x2 * load<f32>(c + hi) + x1 * load<f32>(s + hi));
          }
        }
      }
    }
  }
}

/**
 * RMSNorm over rows of C (fused.ts rmsNorm): out = x * rsqrt(mean(x²) + eps) * (offset + w), with
 * the mean summed left to right in fp32 and divided by C, as tfjs-wasm's Square, Mean, Add, Rsqrt
 * and two Multiplies compute it one op at a time.
 */
export function rmsNorm(x: usize, rows: i32, C: i32, w: usize, eps: f32, offset: f32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * C) << 2);
    const o = out + (<usize>(r * C) << 2);
    let sum: f32 = 0;
    for (let k = 0; k < C; k++) {
      const v = load<f32>(row + (<usize>k << 2));
      sum += v * v;
    }
    const inv: f32 = <f32>1 / Mathf.sqrt(sum / <f32>C + eps);
    for (let k = 0; k < C; k++) {
      const scale = offset == 0 ? load<f32>(w + (<usize>k << 2)) : load<f32>(w + (<usize>k << 2)) + offset;
      store<f32>(o + (<usize>k << 2), load<f32>(row + (<usize>k << 2)) * inv * scale);
    }
  }
}

export { gemm, gemmWorkBytes } from './gemm';
