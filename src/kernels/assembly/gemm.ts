// Blocked, packed fp32 GEMM for training-sized products on tfjs-wasm's heap (exported through
// kernels.ts; called by src/kernels/gemm.ts). C [M, N] = A · B, C row-major and overwritten.
//
// Operands are read through element strides, so transposes cost nothing: A(i, k) lives at
// a + 4·(i·aRow + k·aCol) (row-major A: aRow = K, aCol = 1; Aᵀ of a stored [K, M]: aRow = 1,
// aCol = M), and likewise B(k, j) at b + 4·(k·bRow + j·bCol). B may also be an NF4 weight W
// [Nw, Kw] (src/model/nf4.ts layout, fp32 absmax per 64-block), decoded while it is packed:
// bKind 1 reads B(k, j) = W[j, k] (x · Wᵀ, the forward), bKind 2 reads B(k, j) = W[k, j]
// (dy · W, the input gradient). The fp32 weight never exists outside one packed block.
//
// Blocking after Goto and van de Geijn: for each NC-column block of B and KC-deep slice, B is
// packed into 8-column panels (KC x 8, contiguous), then for each MC-row block of A, A is packed
// into MR-row panels (KC x MR). The register tile is MR x 8: MR splat loads of A and two vector
// loads of B feed 2·MR fused multiply-adds per k, with 2·MR accumulators in registers. Partial
// tiles at the edges are computed whole into `scratch` and copied out.
//
// `work` (WORK_BYTES in src/kernels/gemm.ts, malloc'd once per backend) holds the packed blocks:
// B at work (KC·NC floats), A after it (MC·KC floats), the edge tile after that (MR·8 floats).

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 1024;
const A_PACK: usize = <usize>(KC * NC) << 2;
const TILE: usize = A_PACK + (<usize>(MC * KC) << 2);

// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** B(k0 + kk, j0 + jj) for kk < kc, jj < nc into 8-column panels; columns past nc are zero. */
function packB(b: usize, bRow: i32, bCol: i32, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const panels = (nc + NR - 1) / NR;
  for (let p = 0; p < panels; p++) {
    const jb = j0 + p * NR;
    const cols = min(NR, nc - p * NR);
    let out = dst + ((<usize>(p * kc * NR)) << 2);
    if (cols == NR && bCol == 1) {
      for (let kk = 0; kk < kc; kk++) {
        const src = b + ((<usize>(k0 + kk) * <usize>bRow + <usize>jb) << 2);
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
        out += 32;
      }
    } else {
      for (let kk = 0; kk < kc; kk++) {
        const row = <usize>(k0 + kk) * <usize>bRow;
        for (let jj = 0; jj < NR; jj++) {
          const v: f32 = jj < cols ? load<f32>(b + ((row + <usize>(jb + jj) * <usize>bCol) << 2)) : 0;
          store<f32>(out + (<usize>jj << 2), v);
        }
        out += 32;
      }
    }
  }
}

/** NF4 level of flat element i of W times its block's absmax. */
// @ts-ignore: decorator
@inline function nf4At(codes: usize, absmax: usize, levels: usize, i: usize): f32 {
  const q = (<u32>load<u8>(codes + (i >> 1)) >> (<u32>(i & 1) << 2)) & 15;
  return load<f32>(levels + (<usize>q << 2)) * load<f32>(absmax + ((i >> 6) << 2));
}

/** As packB for an NF4 W [Nw, Kw]: transposed (kind 1) B(k, j) = W[j, k]; else B(k, j) = W[k, j]. */
function packBNf4(codes: usize, absmax: usize, levels: usize, Kw: i32, transposed: bool, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const panels = (nc + NR - 1) / NR;
  for (let p = 0; p < panels; p++) {
    const jb = j0 + p * NR;
    const cols = min(NR, nc - p * NR);
    let out = dst + ((<usize>(p * kc * NR)) << 2);
    if (transposed) {
      // Column jj of the panel is row jb + jj of W: walk each row's kc elements once.
      for (let jj = 0; jj < NR; jj++) {
        const o = out + (<usize>jj << 2);
        if (jj >= cols) {
          for (let kk = 0; kk < kc; kk++) store<f32>(o + (<usize>(kk * NR) << 2), 0);
          continue;
        }
        const base = <usize>(jb + jj) * <usize>Kw + <usize>k0;
        for (let kk = 0; kk < kc; kk++) store<f32>(o + (<usize>(kk * NR) << 2), nf4At(codes, absmax, levels, base + <usize>kk));
      }
    } else {
      for (let kk = 0; kk < kc; kk++) {
        const base = <usize>(k0 + kk) * <usize>Kw + <usize>jb;
        for (let jj = 0; jj < NR; jj++) store<f32>(out + (<usize>jj << 2), jj < cols ? nf4At(codes, absmax, levels, base + <usize>jj) : 0);
        out += 32;
      }
    }
  }
}

/** A(i0 + ii, k0 + kk) for ii < mc, kk < kc into MR-row panels (KC x MR); rows past mc are zero. */
function packA(a: usize, aRow: i32, aCol: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  const panels = (mc + MR - 1) / MR;
  for (let p = 0; p < panels; p++) {
    const ib = i0 + p * MR;
    const rows = min(MR, mc - p * MR);
    let out = dst + ((<usize>(p * kc * MR)) << 2);
    if (rows == MR && aRow == 1) {
      // Aᵀ stored row-major: the MR rows of a panel are adjacent in memory.
      for (let kk = 0; kk < kc; kk++) {
        v128.store(out, v128.load(a + ((<usize>(k0 + kk) * <usize>aCol + <usize>ib) << 2)));
        out += 16;
      }
    } else {
      for (let ii = 0; ii < MR; ii++) {
        const o = out + (<usize>ii << 2);
        if (ii >= rows) {
          for (let kk = 0; kk < kc; kk++) store<f32>(o + (<usize>(kk * MR) << 2), 0);
          continue;
        }
        const row = a + ((<usize>(ib + ii) * <usize>aRow) << 2);
        const step = <usize>aCol << 2;
        let src = row + <usize>k0 * step;
        for (let kk = 0; kk < kc; kk++) {
          store<f32>(o + (<usize>(kk * MR) << 2), load<f32>(src));
          src += step;
        }
      }
    }
  }
}

/**
 * One MR x 8 tile: acc = Σ_k pa[k] ⊗ pb[k] over kc, written to c (row stride ldc bytes), added to
 * what is there when `add`.
 */
function tile(pa: usize, pb: usize, ldb: usize, kc: i32, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = fma(a, b0, c00);
    c01 = fma(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = fma(a, b0, c10);
    c11 = fma(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = fma(a, b0, c20);
    c21 = fma(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = fma(a, b0, c30);
    c31 = fma(a, b1, c31);
    pa += 16;
    pb += ldb;
  }
  if (add) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/** The block [i0, i0 + mc) x [j0, j0 + nc) of C from the packed panels. */
function macro(mc: i32, nc: i32, kc: i32, work: usize, c: usize, N: i32, i0: i32, j0: i32, add: bool): void {
  const ldc = <usize>N << 2;
  const scratch = work + TILE;
  for (let jp = 0; jp < nc; jp += NR) {
    const pb = work + ((<usize>(jp * kc)) << 2);
    const cols = min(NR, nc - jp);
    for (let ip = 0; ip < mc; ip += MR) {
      const pa = work + A_PACK + ((<usize>(ip * kc)) << 2);
      const rows = min(MR, mc - ip);
      const cp = c + ((<usize>(i0 + ip) * <usize>N + <usize>(j0 + jp)) << 2);
      if (rows == MR && cols == NR) {
        tile(pa, pb, 32, kc, cp, ldc, add);
        continue;
      }
      tile(pa, pb, 32, kc, scratch, 32, false);
      edge(scratch, cp, ldc, rows, cols, add);
    }
  }
}

/** Rows x cols of a tile computed whole into `scratch` (8 floats a row), written to c. */
function edge(scratch: usize, c: usize, ldc: usize, rows: i32, cols: i32, add: bool): void {
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const dst = c + <usize>r * ldc + (<usize>q << 2);
      const v = load<f32>(scratch + (<usize>(r * NR + q) << 2));
      store<f32>(dst, add ? load<f32>(dst) + v : v);
    }
  }
}

/**
 * One row by 32 columns of B read in place (row stride ldb bytes): the same sums, in the same
 * order, as `tile` makes for each of its elements, so a row's result does not depend on the path.
 */
function row32(pa: usize, pb: usize, ldb: usize, kc: i32, c: usize, add: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const a = v128.load32_splat(pa);
    c0 = fma(a, v128.load(pb), c0);
    c1 = fma(a, v128.load(pb, 16), c1);
    c2 = fma(a, v128.load(pb, 32), c2);
    c3 = fma(a, v128.load(pb, 48), c3);
    c4 = fma(a, v128.load(pb, 64), c4);
    c5 = fma(a, v128.load(pb, 80), c5);
    c6 = fma(a, v128.load(pb, 96), c6);
    c7 = fma(a, v128.load(pb, 112), c7);
    pa += 16;
    pb += ldb;
  }
  if (add) {
    c0 = f32x4.add(c0, v128.load(c));
    c1 = f32x4.add(c1, v128.load(c, 16));
    c2 = f32x4.add(c2, v128.load(c, 32));
    c3 = f32x4.add(c3, v128.load(c, 48));
    c4 = f32x4.add(c4, v128.load(c, 64));
    c5 = f32x4.add(c5, v128.load(c, 80));
    c6 = f32x4.add(c6, v128.load(c, 96));
    c7 = f32x4.add(c7, v128.load(c, 112));
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
  v128.store(c, c2, 32);
  v128.store(c, c3, 48);
  v128.store(c, c4, 64);
  v128.store(c, c5, 80);
  v128.store(c, c6, 96);
  v128.store(c, c7, 112);
}

/**
 * Few rows (M <= FEW_ROWS) by a row-major fp32 B: B is read where it lies instead of packed (it
 * is read once per four rows either way), A is packed as usual. Groups of four rows take `tile`,
 * the rest `row32` (or `tile` into scratch at the last columns); every element sums as in macro.
 */
function fewRows(M: i32, N: i32, K: i32, a: usize, aRow: i32, aCol: i32, b: usize, bRow: i32, c: usize, work: usize, n0: i32, n1: i32): void {
  const ldc = <usize>N << 2;
  const ldb = <usize>bRow << 2;
  const pa0 = work + A_PACK;
  const scratch = work + TILE;
  const full = M & ~(MR - 1);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const add = k0 > 0;
    packA(a, aRow, aCol, 0, M, k0, kc, pa0);
    const bk = b + <usize>k0 * ldb;
    for (let ip = 0; ip < full; ip += MR) {
      const pa = pa0 + ((<usize>(ip * kc)) << 2);
      for (let jp = n0; jp < n1; jp += NR) {
        const cp = c + <usize>ip * ldc + (<usize>jp << 2);
        if (jp + NR <= n1) tile(pa, bk + (<usize>jp << 2), ldb, kc, cp, ldc, add);
        else {
          packB(b, bRow, 1, k0, kc, jp, n1 - jp, work); // the last columns: padded, in work
          tile(pa, work, 32, kc, scratch, 32, false);
          edge(scratch, cp, ldc, MR, n1 - jp, add);
        }
      }
    }
    for (let i = full; i < M; i++) {
      // Row i is lane i % MR of its zero-padded panel in the packed A.
      const pa = pa0 + ((<usize>(full * kc + (i - full))) << 2);
      let jp = n0;
      for (; jp + 32 <= n1; jp += 32) row32(pa, bk + (<usize>jp << 2), ldb, kc, c + <usize>i * ldc + (<usize>jp << 2), add);
      for (; jp < n1; jp += NR) {
        const cols = min(NR, n1 - jp);
        const pa4 = pa0 + ((<usize>(full * kc)) << 2);
        if (cols == NR) tile(pa4, bk + (<usize>jp << 2), ldb, kc, scratch, 32, false);
        else {
          packB(b, bRow, 1, k0, kc, jp, cols, work);
          tile(pa4, work, 32, kc, scratch, 32, false);
        }
        edge(scratch + ((<usize>((i - full) * NR)) << 2), c + <usize>i * ldc + (<usize>jp << 2), ldc, 1, cols, add);
      }
    }
  }
}

/** Rows up to which a row-major fp32 B is read in place (src/kernels/gemm.ts's FEW_ROWS). */
const FEW_ROWS: i32 = 32;

/**
 * Columns [n0, n1) of C [M, N] = A · B (see the top of this file for the operands). bKind 0: fp32
 * B through (bRow, bCol); 1 / 2: NF4 W with `b` its codes, `absmax` and `levels` (16 fp32
 * levels), Kw its row length. Threads split the columns (n0 a multiple of 8 unless it is 0 or N):
 * every element's sum is the same whatever the split.
 */
export function gemm(
  M: i32, N: i32, K: i32,
  a: usize, aRow: i32, aCol: i32,
  b: usize, bRow: i32, bCol: i32,
  bKind: i32, absmax: usize, levels: usize, Kw: i32,
  c: usize, work: usize, n0: i32, n1: i32,
): void {
  if (K == 0) {
    for (let i = 0; i < M; i++) memory.fill(c + ((<usize>i * <usize>N + <usize>n0) << 2), 0, <usize>(n1 - n0) << 2);
    return;
  }
  if (bKind == 0 && bCol == 1 && M <= FEW_ROWS) {
    fewRows(M, N, K, a, aRow, aCol, b, bRow, c, work, n0, n1);
    return;
  }
  for (let j0 = n0; j0 < n1; j0 += NC) {
    const nc = min(NC, n1 - j0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      if (bKind == 0) packB(b, bRow, bCol, k0, kc, j0, nc, work);
      else packBNf4(b, absmax, levels, Kw, bKind == 1, k0, kc, j0, nc, work);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        packA(a, aRow, aCol, i0, mc, k0, kc, work + A_PACK);
        macro(mc, nc, kc, work, c, N, i0, j0, k0 > 0);
      }
    }
  }
}

/** Bytes of `work` gemm needs. */
export function gemmWorkBytes(): i32 {
  return <i32>(TILE + (<usize>(MR * NR) << 2));
}
