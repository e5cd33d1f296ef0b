// Flash attention on the tfjs 'webgpu' backend as four WGSL programs, registered as tfjs kernels
// (src/model/flash-attention.ts wraps them in a tf.customGrad). Shapes as attention-core.ts:
// q [B, K, M, D] with M = G*T (row g*T + t: query head g of kv head k at time t), k, v [B, K, S, D],
// S = past + T; segments [B*T] int32 (packed rows; a [1] placeholder otherwise).
//   FlashAttentionForward  fwd [B, K, M, D+1]: softmax(capped(q·kᵀ·scale) + mask)·v in columns 0..D-1,
//                          the row's log-sum-exp in column D (one output, so one dispatch writes both)
//   FlashAttentionRowDot   di [B, K, M] = rowsum(dO * out), the softmax backward's Σ_s p·dP
//   FlashAttentionGradKV   [B, K, S, 2D]: dK in columns 0..D-1, dV in D..2D-1 (sliced apart after)
//   FlashAttentionGradQ    dQ [B, K, M, D]
// Forward and dQ: a workgroup owns queryTile times of one (b, k, g), one thread per query row (its
// q, dO and accumulators in registers), and walks the key tiles the causal line and the window leave
// the tile, keyTile keys at a time through workgroup memory. dK/dV (FlashAttention-2, no atomics): a
// workgroup owns keyTile keys, one thread per key, and walks every (g, query tile) that can see them.
// Probabilities are rebuilt from the saved log-sum-exp; the mask is computed from (t, s, past,
// window, segments), never read from a dense tensor. Sizes are uniforms; only D (register arrays),
// the two tiles and the D chunk of the workgroup tiles are baked into the WGSL.
// Grid: forward and dQ B*K*G*ceil(T/queryTile) workgroups (query tile fastest, then g, then b*K+k);
// dK/dV B*K*ceil(S/keyTile). Workgroup memory: two tiles of <= 1024 floats (rows x a chunk of D
// that divides D), 8 KB of WebGPU's guaranteed 16 KB. Per thread: up to four [D] arrays and two
// [tile] score arrays, 4.5 KB at D = 256, under WGSL's 8 KB per function.
// Over 400 lines on purpose: the four programs share the mask and soft-cap WGSL, the tile loader,
// the query-tile prologue and one registration; split apart, each would repeat them.
import * as tf from '@tensorflow/tfjs';
import { f32, FLAT_INDEX, FusedProgram, i32, run, WG, type Uniforms } from './fused-ops';

export const FLASH_ATTENTION_FORWARD = 'FlashAttentionForward';
export const FLASH_ATTENTION_ROW_DOT = 'FlashAttentionRowDot';
export const FLASH_ATTENTION_GRAD_KV = 'FlashAttentionGradKV';
export const FLASH_ATTENTION_GRAD_Q = 'FlashAttentionGradQ';

/** Tile sizes, to be chosen by measurement; every program's shader key carries them. */
export interface FlashTiles {
  /** Query rows per workgroup of the forward and dQ (threads there); query rows per step of dK/dV. */
  queryTile: 16 | 32 | 64;
  /** Keys per step of the forward and dQ; keys per workgroup of dK/dV (threads there). */
  keyTile: 16 | 32 | 64;
}

/** 32 x 32: 32 threads per workgroup and 32-entry score arrays per thread, small enough for registers at D = 64. */
export const DEFAULT_FLASH_TILES: FlashTiles = { queryTile: 32, keyTile: 32 };

/** Largest head dim: four [D] register arrays per dK/dV thread stay under WGSL's 8 KB per function. */
export const FLASH_MAX_HEAD_DIM = 256;

/** What every flash kernel takes besides its tensors. */
export interface FlashAttrs extends FlashTiles {
  G: number;
  T: number;
  past: number;
  /** Sliding window, or null for full attention. */
  window: number | null;
  scale: number;
  /** 0 or null for none. */
  softcap: number | null;
  packed: boolean;
}

// Floats per workgroup tile buffer (two per program: 8 KB of the 16 KB WebGPU guarantees).
const TILE_FLOATS = 1024;
const NO_WINDOW = 1 << 30;

/** D columns per workgroup-tile chunk: the largest divisor of D with rows * chunk <= TILE_FLOATS. */
function chunkOf(D: number, rows: number): number {
  for (let c = Math.min(D, Math.floor(TILE_FLOATS / rows)); c > 1; c--) if (D % c === 0) return c;
  return 1;
}

/** The workgroup's index in a possibly 2-D grid (fused-ops.ts: varying to the uniformity analysis). */
const GROUP_INDEX = 'i32(workgroupId.y * numWorkgroups.x + workgroupId.x)';
const UNIFORMS = 'BK : i32, K : i32, G : i32, T : i32, S : i32, past : i32, win : i32, isPacked : i32, scale : f32, cap : f32,';
// Hidden scores are set to NEG; anything below HIDDEN is one (real scores are nowhere near).
const COMMON = `
    const NEG : f32 = -3.0e38;
    const HIDDEN : f32 = -1.0e38;
    fn tanhStable(a : f32) -> f32 { let e = exp(-2.0 * abs(a)); return sign(a) * (1.0 - e) / (1.0 + e); }
    // Whether query time t of batch row b (absolute position past + t) sees key position s.
    fn visible(b : i32, t : i32, s : i32) -> bool {
      let qp = uniforms.past + t;
      if (s > qp || qp - s >= uniforms.win) { return false; }
      if (uniforms.isPacked == 0) { return true; }
      return seg[b * uniforms.T + s] == seg[b * uniforms.T + t];
    }
    // The score the softmax sees: scale, then cap * tanh(x / cap) when capped.
    fn capped(x : f32) -> f32 {
      if (uniforms.cap > 0.0) { return uniforms.cap * tanhStable(x / uniforms.cap); }
      return x;
    }
    // d capped / d x over the scale: 1 - tanh², or 1.
    fn capGrad(x : f32) -> f32 {
      if (uniforms.cap > 0.0) { let th = tanhStable(x / uniforms.cap); return 1.0 - th * th; }
      return 1.0;
    }`;

/**
 * WGSL filling workgroup buffers `bufs` [rows, C] (C = chunk) with columns d0..d0+C of rows
 * base..base+n of the [.., D] inputs `srcs`, zeros past n; `threads` threads share the copy.
 */
function loadTile(bufs: string[], srcs: string[], rows: number, C: number, D: number, threads: number, base: string, d0: string): string {
  const at = C === D ? `r0 * ${D} + i` : `(r0 + i / ${C}) * ${D} + ${d0} + i % ${C}`;
  return `
        for (var i = tid; i < ${rows * C}; i = i + ${threads}) {
          let r0 = ${base};
          ${bufs.map((b) => `var ${b}x = 0.0;`).join(' ')}
          if (i / ${C} < n) { ${srcs.map((s, j) => `${bufs[j]}x = ${s}[${at}];`).join(' ')} }
          ${bufs.map((b) => `${b}[i] = ${b}x;`).join(' ')}
        }`;
}

/** Shared skeleton of the forward and dQ: one thread per query row, key tiles in workgroup memory. */
abstract class QueryTileProgram extends FusedProgram {
  uniforms = UNIFORMS;
  protected readonly chunk: number;

  constructor(outShape: number[], groups: number, protected readonly D: number, protected readonly tiles: FlashTiles) {
    super(outShape, groups);
    this.workgroupSize = [tiles.queryTile, 1, 1];
    this.chunk = chunkOf(D, tiles.keyTile);
  }

  /** Decodes the workgroup into (bk, g, tile), and takes the key range [lo, hi) every row of it may see. */
  protected prologue(): string {
    const Br = this.tiles.queryTile;
    return `
    var<workgroup> kt : array<f32, ${this.tiles.keyTile * this.chunk}>;
    var<workgroup> vt : array<f32, ${this.tiles.keyTile * this.chunk}>;
    var<workgroup> keyLo : i32;
    var<workgroup> keyHi : i32;
    fn main() {
      let wg = ${GROUP_INDEX};
      let tid = i32(localIndex);
      let T = uniforms.T; let S = uniforms.S; let G = uniforms.G;
      let nT = (T + ${Br - 1}) / ${Br};
      let tile = wg % nT;
      let g = (wg / nT) % G;
      let live = wg / (nT * G) < uniforms.BK; // a spare workgroup of the 2-D grid sees no keys
      let bk = min(wg / (nT * G), uniforms.BK - 1);
      let b = bk / uniforms.K;
      let t0 = tile * ${Br};
      let t = t0 + tid;
      let rowOk = live && t < T;
      let row = (bk * G + g) * T + min(t, T - 1); // rows past T read row T-1 and write nothing
      if (tid == 0) {
        keyLo = select(0, max(0, uniforms.past + t0 - uniforms.win + 1), live);
        keyHi = select(0, min(S, uniforms.past + min(t0 + ${Br}, T)), live);
      }
      // Uniform loop bounds for the barriers inside: keys after the tile's last query or before
      // its first query's window are never loaded nor multiplied.
      let lo = workgroupUniformLoad(&keyLo);
      let hi = workgroupUniformLoad(&keyHi);`;
  }
}

/** fwd [B, K, M, D+1]: out and the row's log-sum-exp, by the online softmax over key tiles. */
class ForwardProgram extends QueryTileProgram {
  variableNames = ['q', 'k', 'v', 'seg'];
  shaderKey: string;

  constructor(outShape: number[], groups: number, D: number, tiles: FlashTiles) {
    super(outShape, groups, D, tiles);
    this.shaderKey = `flash_fwd_d${D}_q${tiles.queryTile}_k${tiles.keyTile}_c${this.chunk}`;
  }

  getUserCode(): string {
    const { D, chunk: C } = this;
    const Bc = this.tiles.keyTile;
    const Br = this.tiles.queryTile;
    const keys = '(bk * S + s0)';
    const scores =
      C === D
        ? `${loadTile(['kt', 'vt'], ['k', 'v'], Bc, C, D, Br, keys, '0')}
        workgroupBarrier();
        for (var j = 0; j < ${Bc}; j++) { var a = 0.0; for (var d = 0; d < ${D}; d++) { a = fma(qr[d], kt[j * ${D} + d], a); } sc[j] = a; }`
        : `
        for (var j = 0; j < ${Bc}; j++) { sc[j] = 0.0; }
        for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
          ${loadTile(['kt'], ['k'], Bc, C, D, Br, keys, 'd0')}
          workgroupBarrier();
          for (var j = 0; j < ${Bc}; j++) { var a = sc[j]; for (var d = 0; d < ${C}; d++) { a = fma(qr[d0 + d], kt[j * ${C} + d], a); } sc[j] = a; }
          workgroupBarrier();
        }`;
    const pv =
      C === D
        ? `
        for (var d = 0; d < ${D}; d++) { var a = 0.0; for (var j = 0; j < ${Bc}; j++) { a = fma(sc[j], vt[j * ${D} + d], a); } acc[d] = acc[d] + a; }
        workgroupBarrier();`
        : `
        for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
          ${loadTile(['vt'], ['v'], Bc, C, D, Br, keys, 'd0')}
          workgroupBarrier();
          for (var d = 0; d < ${C}; d++) { var a = 0.0; for (var j = 0; j < ${Bc}; j++) { a = fma(sc[j], vt[j * ${C} + d], a); } acc[d0 + d] = acc[d0 + d] + a; }
          workgroupBarrier();
        }`;
    return `
    ${COMMON}
    ${this.prologue()}
      var qr : array<f32, ${D}>;
      var acc : array<f32, ${D}>;
      for (var d = 0; d < ${D}; d++) { qr[d] = q[row * ${D} + d]; acc[d] = 0.0; }
      var sc : array<f32, ${Bc}>;
      var m = NEG; // running row max
      var l = 0.0; // running Σ exp(s - m)
      for (var s0 = lo; s0 < hi; s0 = s0 + ${Bc}) {
        let n = min(${Bc}, hi - s0);
        ${scores}
        var mx = m;
        for (var j = 0; j < ${Bc}; j++) {
          let x = capped(sc[j] * uniforms.scale);
          sc[j] = select(NEG, x, rowOk && j < n && visible(b, t, s0 + j));
          mx = max(mx, sc[j]);
        }
        let corr = exp(m - mx); // 1 while the row has seen nothing (m = mx = NEG)
        l = l * corr;
        for (var d = 0; d < ${D}; d++) { acc[d] = acc[d] * corr; }
        for (var j = 0; j < ${Bc}; j++) { let p = select(0.0, exp(sc[j] - mx), sc[j] > HIDDEN); sc[j] = p; l = l + p; }
        m = mx;
        ${pv}
      }
      if (rowOk) {
        // Every query sees its own key, so l > 0.
        let o = row * ${D + 1};
        for (var d = 0; d < ${D}; d++) { result[o + d] = acc[d] / l; }
        result[o + ${D}] = m + log(l);
      }
    }`;
  }
}

/** dQ [B, K, M, D] = scale · Σ_s dS·k, dS = p (dP - di) capGrad, p = exp(s - lse), dP = dO·v. */
class GradQProgram extends QueryTileProgram {
  variableNames = ['q', 'k', 'v', 'seg', 'fwd', 'dy', 'rowDot'];
  shaderKey: string;

  constructor(outShape: number[], groups: number, D: number, tiles: FlashTiles) {
    super(outShape, groups, D, tiles);
    this.shaderKey = `flash_dq_d${D}_q${tiles.queryTile}_k${tiles.keyTile}_c${this.chunk}`;
  }

  getUserCode(): string {
    const { D, chunk: C } = this;
    const Bc = this.tiles.keyTile;
    const Br = this.tiles.queryTile;
    const keys = '(bk * S + s0)';
    const scores =
      C === D
        ? `${loadTile(['kt', 'vt'], ['k', 'v'], Bc, C, D, Br, keys, '0')}
        workgroupBarrier();
        for (var j = 0; j < ${Bc}; j++) {
          var a = 0.0; var e = 0.0;
          for (var d = 0; d < ${D}; d++) { a = fma(qr[d], kt[j * ${D} + d], a); e = fma(dor[d], vt[j * ${D} + d], e); }
          sc[j] = a; dp[j] = e;
        }`
        : `
        for (var j = 0; j < ${Bc}; j++) { sc[j] = 0.0; dp[j] = 0.0; }
        for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
          ${loadTile(['kt', 'vt'], ['k', 'v'], Bc, C, D, Br, keys, 'd0')}
          workgroupBarrier();
          for (var j = 0; j < ${Bc}; j++) {
            var a = sc[j]; var e = dp[j];
            for (var d = 0; d < ${C}; d++) { a = fma(qr[d0 + d], kt[j * ${C} + d], a); e = fma(dor[d0 + d], vt[j * ${C} + d], e); }
            sc[j] = a; dp[j] = e;
          }
          workgroupBarrier();
        }`;
    const dq =
      C === D
        ? `
        for (var d = 0; d < ${D}; d++) { var a = 0.0; for (var j = 0; j < ${Bc}; j++) { a = fma(sc[j], kt[j * ${D} + d], a); } dq[d] = dq[d] + a; }
        workgroupBarrier();`
        : `
        for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
          ${loadTile(['kt'], ['k'], Bc, C, D, Br, keys, 'd0')}
          workgroupBarrier();
          for (var d = 0; d < ${C}; d++) { var a = 0.0; for (var j = 0; j < ${Bc}; j++) { a = fma(sc[j], kt[j * ${C} + d], a); } dq[d0 + d] = dq[d0 + d] + a; }
          workgroupBarrier();
        }`;
    return `
    ${COMMON}
    ${this.prologue()}
      var qr : array<f32, ${D}>;
      var dor : array<f32, ${D}>;
      var dq : array<f32, ${D}>;
      for (var d = 0; d < ${D}; d++) { qr[d] = q[row * ${D} + d]; dor[d] = dy[row * ${D} + d]; dq[d] = 0.0; }
      let lse = fwd[row * ${D + 1} + ${D}];
      let di = rowDot[row];
      var sc : array<f32, ${Bc}>;
      var dp : array<f32, ${Bc}>;
      for (var s0 = lo; s0 < hi; s0 = s0 + ${Bc}) {
        let n = min(${Bc}, hi - s0);
        ${scores}
        for (var j = 0; j < ${Bc}; j++) {
          let x = sc[j] * uniforms.scale;
          let ds = exp(capped(x) - lse) * (dp[j] - di) * capGrad(x);
          sc[j] = select(0.0, ds, rowOk && j < n && visible(b, t, s0 + j));
        }
        ${dq}
      }
      if (rowOk) { for (var d = 0; d < ${D}; d++) { result[row * ${D} + d] = dq[d] * uniforms.scale; } }
    }`;
  }
}

/** [B, K, S, 2D]: dK = scale · Σ_rows dSᵀ·q in columns 0..D-1, dV = Σ_rows pᵀ·dO in D..2D-1. */
class GradKVProgram extends FusedProgram {
  variableNames = ['q', 'k', 'v', 'seg', 'fwd', 'dy', 'rowDot'];
  shaderKey: string;
  uniforms = UNIFORMS;
  private readonly chunk: number;

  constructor(outShape: number[], groups: number, private readonly D: number, private readonly tiles: FlashTiles) {
    super(outShape, groups);
    this.workgroupSize = [tiles.keyTile, 1, 1];
    this.chunk = chunkOf(D, tiles.queryTile);
    this.shaderKey = `flash_dkv_d${D}_q${tiles.queryTile}_k${tiles.keyTile}_c${this.chunk}`;
  }

  getUserCode(): string {
    const { D, chunk: C } = this;
    const Bc = this.tiles.keyTile;
    const Br = this.tiles.queryTile;
    const rows = 'rowBase';
    const scores =
      C === D
        ? `${loadTile(['qt', 'ot'], ['q', 'dy'], Br, C, D, Bc, rows, '0')}
          workgroupBarrier();
          for (var r = 0; r < ${Br}; r++) {
            var a = 0.0; var e = 0.0;
            for (var d = 0; d < ${D}; d++) { a = fma(qt[r * ${D} + d], kr[d], a); e = fma(ot[r * ${D} + d], vr[d], e); }
            sc[r] = a; dp[r] = e;
          }`
        : `
          for (var r = 0; r < ${Br}; r++) { sc[r] = 0.0; dp[r] = 0.0; }
          for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
            ${loadTile(['qt', 'ot'], ['q', 'dy'], Br, C, D, Bc, rows, 'd0')}
            workgroupBarrier();
            for (var r = 0; r < ${Br}; r++) {
              var a = sc[r]; var e = dp[r];
              for (var d = 0; d < ${C}; d++) { a = fma(qt[r * ${C} + d], kr[d0 + d], a); e = fma(ot[r * ${C} + d], vr[d0 + d], e); }
              sc[r] = a; dp[r] = e;
            }
            workgroupBarrier();
          }`;
    const grads =
      C === D
        ? `
          for (var d = 0; d < ${D}; d++) {
            var a = 0.0; var e = 0.0;
            for (var r = 0; r < ${Br}; r++) { a = fma(dp[r], qt[r * ${D} + d], a); e = fma(sc[r], ot[r * ${D} + d], e); }
            dk[d] = dk[d] + a; dv[d] = dv[d] + e;
          }
          workgroupBarrier();`
        : `
          for (var d0 = 0; d0 < ${D}; d0 = d0 + ${C}) {
            ${loadTile(['qt', 'ot'], ['q', 'dy'], Br, C, D, Bc, rows, 'd0')}
            workgroupBarrier();
            for (var d = 0; d < ${C}; d++) {
              var a = 0.0; var e = 0.0;
              for (var r = 0; r < ${Br}; r++) { a = fma(dp[r], qt[r * ${C} + d], a); e = fma(sc[r], ot[r * ${C} + d], e); }
              dk[d0 + d] = dk[d0 + d] + a; dv[d0 + d] = dv[d0 + d] + e;
            }
            workgroupBarrier();
          }`;
    return `
    ${COMMON}
    var<workgroup> qt : array<f32, ${Br * C}>;
    var<workgroup> ot : array<f32, ${Br * C}>;
    var<workgroup> lseT : array<f32, ${Br}>;
    var<workgroup> diT : array<f32, ${Br}>;
    var<workgroup> timeLo : i32;
    var<workgroup> timeHi : i32;
    fn main() {
      let wg = ${GROUP_INDEX};
      let tid = i32(localIndex);
      let T = uniforms.T; let S = uniforms.S; let G = uniforms.G;
      let nS = (S + ${Bc - 1}) / ${Bc};
      let live = wg / nS < uniforms.BK; // a spare workgroup of the 2-D grid sees no queries
      let bk = min(wg / nS, uniforms.BK - 1);
      let b = bk / uniforms.K;
      let s0 = (wg % nS) * ${Bc};
      let s = s0 + tid;
      let keyOk = live && s < S;
      let key = bk * S + min(s, S - 1);
      if (tid == 0) {
        // Query times that may see a key of the tile: past + t >= s0 and past + t - (s1 - 1) < window.
        let s1 = min(S, s0 + ${Bc});
        timeLo = select(0, max(0, s0 - uniforms.past), live);
        timeHi = select(0, min(T, s1 - 1 - uniforms.past + uniforms.win), live);
      }
      let lo = workgroupUniformLoad(&timeLo);
      let hi = workgroupUniformLoad(&timeHi);
      var kr : array<f32, ${D}>;
      var vr : array<f32, ${D}>;
      var dk : array<f32, ${D}>;
      var dv : array<f32, ${D}>;
      for (var d = 0; d < ${D}; d++) { kr[d] = k[key * ${D} + d]; vr[d] = v[key * ${D} + d]; dk[d] = 0.0; dv[d] = 0.0; }
      var sc : array<f32, ${Br}>;
      var dp : array<f32, ${Br}>;
      for (var g = 0; g < G; g++) {
        for (var t0 = lo; t0 < hi; t0 = t0 + ${Br}) {
          let n = min(${Br}, hi - t0);
          let rowBase = (bk * G + g) * T + t0;
          for (var i = tid; i < ${Br}; i = i + ${Bc}) {
            var x = 0.0; var y = 0.0;
            if (i < n) { x = fwd[(rowBase + i) * ${D + 1} + ${D}]; y = rowDot[rowBase + i]; }
            lseT[i] = x; diT[i] = y;
          }
          ${scores}
          for (var r = 0; r < ${Br}; r++) {
            let x = sc[r] * uniforms.scale;
            let p = exp(capped(x) - lseT[r]);
            let vis = keyOk && r < n && visible(b, t0 + r, s);
            sc[r] = select(0.0, p, vis);
            dp[r] = select(0.0, p * (dp[r] - diT[r]) * capGrad(x), vis);
          }
          ${grads}
        }
      }
      if (keyOk) {
        let o = key * ${2 * D};
        for (var d = 0; d < ${D}; d++) { result[o + d] = dk[d] * uniforms.scale; result[o + ${D} + d] = dv[d]; }
      }
    }`;
  }
}

/** di [B, K, M] = Σ_d dO·out, out read from fwd's first D columns. */
class RowDotProgram extends FusedProgram {
  variableNames = ['dy', 'fwd'];
  shaderKey = 'flash_rowdot';
  uniforms = 'rows : i32, D : i32,';

  getUserCode(): string {
    return `
    fn main() {
      let r = ${FLAT_INDEX};
      if (r >= uniforms.rows) { return; }
      let D = uniforms.D;
      var a = 0.0;
      for (var d = 0; d < D; d++) { a = fma(dy[r * D + d], fwd[r * (D + 1) + d], a); }
      result[r] = a;
    }`;
  }
}

function uniformsOf(a: FlashAttrs, B: number, K: number, S: number): Uniforms {
  return [i32(B * K), i32(K), i32(a.G), i32(a.T), i32(S), i32(a.past), i32(a.window ?? NO_WINDOW), i32(a.packed ? 1 : 0), f32(a.scale), f32(a.softcap || 0)];
}

function checkShapes(q: tf.TensorInfo, k: tf.TensorInfo, a: FlashAttrs): [number, number, number, number, number] {
  const [B, K, M, D] = q.shape as [number, number, number, number];
  const S = k.shape[2]!;
  if (M !== a.G * a.T || S !== a.past + a.T) throw new Error(`flash attention: q rows ${M} and keys ${S} do not match G ${a.G}, T ${a.T}, past ${a.past}`);
  if (D > FLASH_MAX_HEAD_DIM) throw new Error(`flash attention: head dim ${D} is over ${FLASH_MAX_HEAD_DIM}`);
  return [B, K, M, D, S];
}

let registered = false;

/** Register the four kernels for 'webgpu' (no tape gradients: src/model/flash-attention.ts's customGrad calls them). Idempotent. */
export function registerFlashKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: FLASH_ATTENTION_FORWARD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as FlashAttrs;
      const [B, K, M, D, S] = checkShapes(inputs.q!, inputs.k!, a);
      const groups = B * K * a.G * Math.ceil(a.T / a.queryTile);
      const program = new ForwardProgram([B, K, M, D + 1], groups, D, a);
      return run(backend, program, [inputs.q!, inputs.k!, inputs.v!, inputs.seg!], uniformsOf(a, B, K, S)); // [B, K, M, D+1]
    },
  });
  tf.registerKernel({
    kernelName: FLASH_ATTENTION_ROW_DOT,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const dy = inputs.dy!; // [B, K, M, D]
      const [B, K, M, D] = dy.shape as [number, number, number, number];
      return run(backend, new RowDotProgram([B, K, M], Math.ceil((B * K * M) / WG)), [dy, inputs.fwd!], [i32(B * K * M), i32(D)]); // [B, K, M]
    },
  });
  for (const [name, dkv] of [[FLASH_ATTENTION_GRAD_KV, true], [FLASH_ATTENTION_GRAD_Q, false]] as const) {
    tf.registerKernel({
      kernelName: name,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const a = attrs as unknown as FlashAttrs;
        const [B, K, M, D, S] = checkShapes(inputs.q!, inputs.k!, a);
        const program = dkv
          ? new GradKVProgram([B, K, S, 2 * D], B * K * Math.ceil(S / a.keyTile), D, a) // [B, K, S, 2D]
          : new GradQProgram([B, K, M, D], B * K * a.G * Math.ceil(a.T / a.queryTile), D, a); // [B, K, M, D]
        const ins = program.variableNames.map((n) => inputs[n]!);
        return run(backend, program, ins, uniformsOf(a, B, K, S));
      },
    });
  }
}
