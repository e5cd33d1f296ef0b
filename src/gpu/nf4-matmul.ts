// WGSL kernels for the NF4 frozen base on the tfjs 'webgpu' backend, registered as tfjs kernels:
//   Nf4MatMul(Dq)  y  = x · dequant(Wq)ᵀ   x [M, K], W [N, K] -> y [M, N]   (forward; Dq: 8-bit absmax)
//   Nf4MatMulGradX dx = dy · dequant(Wq)   dy [M, N]          -> dx [M, K]  (its input gradient)
//   Nf4Dequantize  W  = dequant(Wq)                           -> W [N, K]   (the unfused baseline)
// The matmuls decode 4-bit codes straight into workgroup-memory tiles; the fp32 weight never exists.
// Packing and double-quant layouts are those documented in src/model/nf4.ts.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { DQ_BLOCK, NF4_LEVELS } from '../model/nf4';

export const NF4_MATMUL = 'Nf4MatMul';
export const NF4_MATMUL_DQ = 'Nf4MatMulDq';
export const NF4_MATMUL_GRAD_X = 'Nf4MatMulGradX';
export const NF4_DEQUANTIZE = 'Nf4Dequantize';

/** Attributes every NF4 kernel takes. */
export interface Nf4KernelAttrs {
  outFeatures: number; // N
  inFeatures: number; // K
  /** true: inputs are codes, qabs (int8 x4 per int32), qscale ([mean, scale0, scale1, ...]). */
  doubleQuant: boolean;
}

// Output tile per workgroup T x T, reduction slice 512 / T, 8 x 8 threads each owning T/8 x T/8
// outputs. With K % 8 == 0 every run of 8 weights along K is one whole int32 of codes inside one
// 64-block: each thread then fills its tile slots from one word load and one absmax load (8
// weights) instead of 8 of each. A B tile holds T * (512 / T) / 8 = 64 such words: one per thread,
// whatever T. Which T runs fastest depends on the GPU: variant-choice.ts measures it.
export const NF4_TILES = [16, 32, 64] as const;
export type Nf4Tile = (typeof NF4_TILES)[number];
const WG = 8;

interface TileGeometry {
  /** Output rows and columns per workgroup. */
  tile: number;
  /** Reduction slice per pass. */
  slice: number;
  /** Each thread's outputs per side. */
  perThread: number;
}

function geometry(tile: Nf4Tile): TileGeometry {
  const g = { tile, slice: 512 / tile, perThread: tile / WG };
  if ((g.tile * g.slice) / 8 !== WG * WG) throw new Error('src/gpu/nf4-matmul.ts: one code word per thread per B tile expected');
  return g;
}

let currentTile: Nf4Tile = 32;
/** The output tile the fused kernels dispatch with from now on (the measured choice, or a benchmark's). */
export function setNf4Tile(tile: Nf4Tile): void {
  if (!NF4_TILES.includes(tile)) throw new Error(`setNf4Tile: the tile must be one of ${NF4_TILES.join(', ')}, got ${tile}`);
  currentTile = tile;
}
export function nf4Tile(): Nf4Tile {
  return currentTile;
}

let wordLoads = true;
/** Benchmarks only: false forces the element-wise B-tile decode (the kernel before word loads). */
export function setNf4WordLoads(enabled: boolean): void {
  wordLoads = enabled;
}

/** WGSL shared by all kernels: the level table and the decoder of one weight element. */
function decodeSnippet(doubleQuant: boolean): string {
  const levels = NF4_LEVELS.map((l) => l.toPrecision(17)).join(', ');
  const scale = doubleQuant
    ? `fn blockScale(b : i32) -> f32 {
         let word = bitcast<u32>(qabs[b >> 2u]);
         let byte = (word >> (u32(b & 3) * 8u)) & 0xffu;
         return qscale[0] + (f32(byte) - 128.0) / 127.0 * qscale[1 + b / ${DQ_BLOCK}];
       }`
    : `fn blockScale(b : i32) -> f32 { return absmax[b]; }`;
  return `
    var<private> NF4_LEVEL : array<f32, 16> = array<f32, 16>(${levels});
    ${scale}
    // W[n, k] of the [N, K] weight; flat index n * K + k, element i in word i >> 3, nibble i & 7.
    fn weightAt(n : i32, k : i32, kDim : i32) -> f32 {
      let flat = n * kDim + k;
      let word = bitcast<u32>(codes[flat >> 3u]);
      let q = (word >> (u32(flat & 7) * 4u)) & 0xfu;
      return NF4_LEVEL[q] * blockScale(flat >> 6u);
    }`;
}

/**
 * C [M, P] = A [M, R] · B [R, P] with B decoded from the NF4 weight:
 * forward B(r, p) = W(p, r) (R = K, P = N); input gradient B(r, p) = W(r, p) (R = N, P = K).
 */
class Nf4TiledMatMulProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WG, WG, 1];
  private readonly g: TileGeometry;

  constructor(
    m: number,
    p: number,
    private readonly transposedW: boolean,
    private readonly doubleQuant: boolean,
    /** K % 8 == 0: decode B tiles a code word at a time. */
    private readonly wordAligned: boolean,
    tile: Nf4Tile,
  ) {
    this.g = geometry(tile);
    this.outputShape = [m, p];
    this.variableNames = doubleQuant ? ['a', 'codes', 'qabs', 'qscale'] : ['a', 'codes', 'absmax'];
    this.dispatch = [Math.ceil(p / this.g.tile), Math.ceil(m / this.g.tile), 1];
    // Only tile sizes are baked into the WGSL (M, R, P come from the shape uniforms).
    this.shaderKey = `nf4mm_${transposedW ? 'fwd' : 'dx'}_${doubleQuant ? 'dq' : 'f32'}_${wordAligned ? 'w8' : 'e1'}_${this.g.tile}_${this.g.slice}_${WG}`;
  }

  getUserCode(): string {
    const { tile: TILE, slice: TILE_R, perThread: PER_THREAD } = this.g;
    // forward: B(r, p) = W(p, r) with K = R; gradient: B(r, p) = W(r, p) with K = P.
    const bAt = this.transposedW ? 'weightAt(gp, gr, R)' : 'weightAt(gr, gp, P)';
    const elementwiseB = `
        for (var i = li; i < ${TILE_R * TILE}; i = i + ${WG * WG}) {
          let gr = r0 + i / ${TILE};
          let gp = col0 + i % ${TILE};
          var v = 0.0;
          if (gr < R && gp < P) { v = ${bAt}; }
          tileB[i] = v;
        }`;
    // One word per thread: 8 consecutive k of one weight row n. Forward: n = column p, k = rows
    // r..r+7 of the tile; gradient: n = row r, k = columns p..p+7. K % 8 == 0 makes each run
    // word-aligned and all-in or all-out of bounds.
    const wordB = this.transposedW
      ? `
        {
          let p = li / ${TILE_R / 8};
          let rr = (li % ${TILE_R / 8}) * 8;
          let gp = col0 + p;
          let gr = r0 + rr;
          if (gp < P && gr < R) {
            let flat = gp * R + gr;
            let word = bitcast<u32>(codes[flat >> 3u]);
            let s = blockScale(flat >> 6u);
            for (var j = 0; j < 8; j = j + 1) { tileB[(rr + j) * ${TILE} + p] = NF4_LEVEL[(word >> (u32(j) * 4u)) & 0xfu] * s; }
          } else {
            for (var j = 0; j < 8; j = j + 1) { tileB[(rr + j) * ${TILE} + p] = 0.0; }
          }
        }`
      : `
        {
          let r = li / ${TILE / 8};
          let pp = (li % ${TILE / 8}) * 8;
          let gr = r0 + r;
          let gp = col0 + pp;
          if (gr < R && gp < P) {
            let flat = gr * P + gp;
            let word = bitcast<u32>(codes[flat >> 3u]);
            let s = blockScale(flat >> 6u);
            for (var j = 0; j < 8; j = j + 1) { tileB[r * ${TILE} + pp + j] = NF4_LEVEL[(word >> (u32(j) * 4u)) & 0xfu] * s; }
          } else {
            for (var j = 0; j < 8; j = j + 1) { tileB[r * ${TILE} + pp + j] = 0.0; }
          }
        }`;
    return `
    ${decodeSnippet(this.doubleQuant)}
    var<workgroup> tileA : array<f32, ${TILE * TILE_R}>; // [TILE][TILE_R]
    var<workgroup> tileB : array<f32, ${TILE_R * TILE}>; // [TILE_R][TILE]

    fn main() {
      let M = uniforms.aShape.x;
      let R = uniforms.aShape.y;
      let P = uniforms.outShape.y;
      let row0 = i32(workgroupId.y) * ${TILE};
      let col0 = i32(workgroupId.x) * ${TILE};
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let li = i32(localIndex);
      var acc : array<f32, ${PER_THREAD * PER_THREAD}>;
      for (var r0 = 0; r0 < R; r0 = r0 + ${TILE_R}) {
        for (var i = li; i < ${TILE * TILE_R}; i = i + ${WG * WG}) {
          let gm = row0 + i / ${TILE_R};
          let gr = r0 + i % ${TILE_R};
          var v = 0.0;
          if (gm < M && gr < R) { v = a[gm * R + gr]; }
          tileA[i] = v;
        }
        ${this.wordAligned ? wordB : elementwiseB}
        workgroupBarrier();
        for (var r = 0; r < ${TILE_R}; r = r + 1) {
          var bv : array<f32, ${PER_THREAD}>;
          for (var j = 0; j < ${PER_THREAD}; j = j + 1) { bv[j] = tileB[r * ${TILE} + tx * ${PER_THREAD} + j]; }
          for (var i = 0; i < ${PER_THREAD}; i = i + 1) {
            let av = tileA[(ty * ${PER_THREAD} + i) * ${TILE_R} + r];
            for (var j = 0; j < ${PER_THREAD}; j = j + 1) {
              acc[i * ${PER_THREAD} + j] = fma(av, bv[j], acc[i * ${PER_THREAD} + j]);
            }
          }
        }
        workgroupBarrier();
      }
      for (var i = 0; i < ${PER_THREAD}; i = i + 1) {
        let gm = row0 + ty * ${PER_THREAD} + i;
        for (var j = 0; j < ${PER_THREAD}; j = j + 1) {
          let gp = col0 + tx * ${PER_THREAD} + j;
          if (gm < M && gp < P) { result[gm * P + gp] = acc[i * ${PER_THREAD} + j]; }
        }
      }
    }`;
  }
}

/** W [N, K] = dequant(Wq): one thread per element (the unfused baseline's first half). */
class Nf4DequantizeProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] }; // not flat, so main() takes no index
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];

  constructor(n: number, k: number, private readonly doubleQuant: boolean) {
    this.outputShape = [n, k];
    this.variableNames = doubleQuant ? ['codes', 'qabs', 'qscale'] : ['codes', 'absmax'];
    const groups = Math.ceil((n * k) / 64);
    const x = Math.min(groups, 32768);
    this.dispatch = [x, Math.ceil(groups / x), 1];
    this.shaderKey = `nf4deq_${doubleQuant ? 'dq' : 'f32'}`;
  }

  getUserCode(): string {
    return `
    ${decodeSnippet(this.doubleQuant)}
    fn main() {
      let K = uniforms.outShape.y;
      let total = uniforms.outShape.x * K;
      let i = i32((workgroupId.y * numWorkgroups.x + workgroupId.x) * 64u + localIndex);
      if (i < total) { result[i] = weightAt(i / K, i % K, K); }
    }`;
  }
}

function quantInputs(inputs: tf.NamedTensorInfoMap, doubleQuant: boolean): tf.TensorInfo[] {
  return doubleQuant ? [inputs.codes!, inputs.qabs!, inputs.qscale!] : [inputs.codes!, inputs.absmax!];
}

let registered = false;

/** Register the kernels for 'webgpu' and the gradients of both forward kernels. Idempotent. */
export function registerNf4Kernels(): void {
  if (registered) return;
  registered = true;

  // Two forward kernels (plain and double-quantized absmax): a gradient's inputsToSave is fixed
  // per kernel name, and the two layouts have different inputs.
  for (const [name, doubleQuant] of [[NF4_MATMUL, false], [NF4_MATMUL_DQ, true]] as const) {
    tf.registerKernel({
      kernelName: name,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const x = inputs.x!; // [M, K]
        const { outFeatures, inFeatures } = attrs as unknown as Nf4KernelAttrs;
        const program = new Nf4TiledMatMulProgram(x.shape[0]!, outFeatures, true, doubleQuant, wordLoads && inFeatures % 8 === 0, currentTile);
        return (backend as WebGPUBackend).runWebGPUProgram(program, [x, ...quantInputs(inputs, doubleQuant)], 'float32'); // [M, N]
      },
    });
    const quantNames = doubleQuant ? ['codes', 'qabs', 'qscale'] : ['codes', 'absmax'];
    // Only x gets a gradient: the codes and absmax are frozen constants, never on the tape's path.
    tf.registerGradient({
      kernelName: name,
      inputsToSave: quantNames,
      gradFunc: (dy, saved, attrs) => {
        const quant: tf.NamedTensorMap = {};
        quantNames.forEach((n, i) => (quant[n] = saved[i]!));
        return {
          x: () => tf.engine().runKernel(NF4_MATMUL_GRAD_X, { dy: dy as tf.Tensor, ...quant }, attrs) as tf.Tensor, // [M, K]
        };
      },
    });
  }

  tf.registerKernel({
    kernelName: NF4_MATMUL_GRAD_X,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { doubleQuant, inFeatures } = attrs as unknown as Nf4KernelAttrs;
      const dy = inputs.dy!; // [M, N]
      const program = new Nf4TiledMatMulProgram(dy.shape[0]!, inFeatures, false, doubleQuant, wordLoads && inFeatures % 8 === 0, currentTile);
      return (backend as WebGPUBackend).runWebGPUProgram(program, [dy, ...quantInputs(inputs, doubleQuant)], 'float32'); // [M, K]
    },
  });

  tf.registerKernel({
    kernelName: NF4_DEQUANTIZE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { doubleQuant, outFeatures, inFeatures } = attrs as unknown as Nf4KernelAttrs;
      const program = new Nf4DequantizeProgram(outFeatures, inFeatures, doubleQuant);
      return (backend as WebGPUBackend).runWebGPUProgram(program, quantInputs(inputs, doubleQuant), 'float32'); // [N, K]
    },
  });
}

/** Whether the fused kernels can run on the active backend. */
export function nf4KernelsActive(): boolean {
  return tf.getBackend() === 'webgpu' && tf.getKernel(NF4_MATMUL, 'webgpu') != null;
}
