// WGSL programs that do in one dispatch what tfjs composes from several on the 'webgpu' backend,
// registered as tfjs kernels (with gradients where the tape meets them) like src/gpu/nf4-matmul.ts:
//   FusedRmsNorm        y = x / rms(x) * (offset + w)            rows of the last axis, any rank
//   FusedRmsNormGradX   dx of it (dw, full fine-tuning only, is a few tf ops: the tape asks only then)
//   FusedGate           act(g) * u, act silu or gelu-tanh         (gradient: one dispatch per input)
//   FusedRope           x*cos + rotate_half(x)*sin, optionally written heads-first [B, H, T, D]
//   FusedMaskedSoftmax  softmax(s * scale + mask) per row         (attention-core.ts, its own gradient)
//   FusedSoftmaxGrad    scale * p * (dp - rowsum(p * dp))
// AdamW's update is in fused-adamw.ts, over the same program base.
// Sizes come in as program uniforms, so one compiled shader serves every shape; only the workgroup
// size and the flags below are baked into the WGSL. src/model/fused.ts picks these or tf ops.
// Over 400 lines on purpose: the six programs share one dispatch helper, the WGSL snippets
// (workgroup sums, reduction buffers) and one registration function; split apart, each would repeat them.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export const FUSED_RMS_NORM = 'FusedRmsNorm';
export const FUSED_RMS_NORM_GRAD_X = 'FusedRmsNormGradX';
export const FUSED_GATE = 'FusedGate';
export const FUSED_GATE_GRAD = 'FusedGateGrad';
export const FUSED_ROPE = 'FusedRope';
export const FUSED_MASKED_SOFTMAX = 'FusedMaskedSoftmax';
export const FUSED_SOFTMAX_GRAD = 'FusedSoftmaxGrad';

import type { Activation } from '../model/config';

export type GateActivation = Activation;

/** Where a rope kernel reads and writes: 'same' keeps [B, T, H, D]; 'toHeads' writes [B, H, T, D]; 'fromHeads' reads it. */
export type RopeLayout = 'same' | 'toHeads' | 'fromHeads';

export interface RmsNormAttrs { eps: number; offset: number }
export interface GateAttrs { activation: GateActivation }
export interface GateGradAttrs extends GateAttrs { wrt: 'g' | 'u' }
export interface RopeAttrs { layout: RopeLayout; /** +1 forward, -1 the backward's rotation by -sin. */ sign: number }
export interface SoftmaxAttrs { scale: number }

// One workgroup per row for the row programs; 64 threads each for flat ones.
export const WG = 64;
const MAX_X = 32768; // workgroups along x before a second dimension (WebGPU guarantees 65535)

function dispatchFor(groups: number): [number, number, number] {
  const x = Math.min(Math.max(groups, 1), MAX_X);
  return [x, Math.ceil(groups / x), 1];
}

export type Uniforms = { type: 'int32' | 'float32'; data: number[] }[];
export const i32 = (v: number) => ({ type: 'int32' as const, data: [v] });
export const f32 = (v: number) => ({ type: 'float32' as const, data: [v] });

/**
 * WGSL: the row (or flat block) this workgroup owns, from a possibly 2-D grid. tfjs copies the
 * builtins into private variables, which WGSL's uniformity analysis treats as varying: row programs
 * may not return early on it before their barriers, so a spare workgroup runs with zero width.
 */
const GROUP_INDEX = 'i32(workgroupId.y * numWorkgroups.x + workgroupId.x)';

/** WGSL tree sums of per-thread values `vals` into workgroup arrays; leaves totals in `outs` (same order). */
function workgroupSums(vals: string[], outs: string[]): string {
  const bufs = vals.map((_, i) => `red${i}`);
  return `
      ${vals.map((v, i) => `${bufs[i]}[tid] = ${v};`).join(' ')}
      workgroupBarrier();
      for (var half = ${WG / 2}; half > 0; half = half >> 1) {
        if (tid < half) { ${bufs.map((b) => `${b}[tid] = ${b}[tid] + ${b}[tid + half];`).join(' ')} }
        workgroupBarrier();
      }
      ${outs.map((o, i) => `let ${o} = ${bufs[i]}[0];`).join(' ')}`;
}

function reductionBuffers(n: number): string {
  return Array.from({ length: n }, (_, i) => `var<workgroup> red${i} : array<f32, ${WG}>;`).join('\n');
}

/** Base of every program here: a dispatch layout with y, so not "flat", so main() takes no index. */
export abstract class FusedProgram implements WebGPUProgram {
  abstract variableNames: string[];
  outputShape: number[];
  abstract shaderKey: string;
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WG, 1, 1];
  abstract uniforms: string;

  constructor(outputShape: number[], groups: number) {
    this.outputShape = outputShape;
    this.dispatch = dispatchFor(groups);
  }

  abstract getUserCode(): string;
}

/** y [rows, C] = x * s * (offset + w), s = 1 / sqrt(mean(x²) + eps) per row. */
class RmsNormProgram extends FusedProgram {
  variableNames = ['x', 'w'];
  shaderKey = 'fused_rmsnorm';
  uniforms = 'rows : i32, cols : i32, eps : f32, offset : f32,';

  getUserCode(): string {
    return `
    ${reductionBuffers(1)}
    fn main() {
      let row = ${GROUP_INDEX};
      let C = select(0, uniforms.cols, row < uniforms.rows); // a spare workgroup reads and writes nothing
      let tid = i32(localIndex);
      let base = row * C;
      var acc = 0.0;
      for (var c = tid; c < C; c = c + ${WG}) { let v = x[base + c]; acc = acc + v * v; }
      ${workgroupSums(['acc'], ['sumSq'])}
      let s = 1.0 / sqrt(sumSq / f32(C) + uniforms.eps);
      for (var c = tid; c < C; c = c + ${WG}) { result[base + c] = x[base + c] * s * (w[c] + uniforms.offset); }
    }`;
  }
}

/** dx = s * g - x * s³ * rowsum(g * x) / C with g = dy * (offset + w). */
class RmsNormGradXProgram extends FusedProgram {
  variableNames = ['x', 'w', 'dy'];
  shaderKey = 'fused_rmsnorm_dx';
  uniforms = 'rows : i32, cols : i32, eps : f32, offset : f32,';

  getUserCode(): string {
    return `
    ${reductionBuffers(2)}
    fn main() {
      let row = ${GROUP_INDEX};
      let C = select(0, uniforms.cols, row < uniforms.rows); // a spare workgroup reads and writes nothing
      let tid = i32(localIndex);
      let base = row * C;
      var accSq = 0.0;
      var accDot = 0.0;
      for (var c = tid; c < C; c = c + ${WG}) {
        let v = x[base + c];
        accSq = accSq + v * v;
        accDot = accDot + dy[base + c] * (w[c] + uniforms.offset) * v;
      }
      ${workgroupSums(['accSq', 'accDot'], ['sumSq', 'dotGx'])}
      let s = 1.0 / sqrt(sumSq / f32(C) + uniforms.eps);
      let k = s * s * s * dotGx / f32(C);
      for (var c = tid; c < C; c = c + ${WG}) {
        result[base + c] = s * dy[base + c] * (w[c] + uniforms.offset) - x[base + c] * k;
      }
    }`;
  }
}

/** WGSL of the gate activations, their derivatives, and tanh as tfjs-webgpu computes it (no overflow). */
const ACTIVATION_SNIPPET = `
    fn tanhStable(a : f32) -> f32 { let e = exp(-2.0 * abs(a)); return sign(a) * (1.0 - e) / (1.0 + e); }
    fn sigm(a : f32) -> f32 { return 1.0 / (1.0 + exp(-a)); }
    const GELU_K : f32 = ${Math.sqrt(2 / Math.PI).toPrecision(17)};
    fn act(a : f32, gelu : bool) -> f32 {
      if (gelu) { return a * 0.5 * (tanhStable((a + a * a * a * 0.044715) * GELU_K) + 1.0); }
      return a * sigm(a);
    }
    fn actGrad(a : f32, gelu : bool) -> f32 {
      if (gelu) {
        let t = tanhStable((a + a * a * a * 0.044715) * GELU_K);
        return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * 0.044715 * a * a);
      }
      let s = sigm(a);
      return s * (1.0 + a * (1.0 - s));
    }`;

/** Flat element i of this thread, from a possibly 2-D grid of 64-thread blocks. */
export const FLAT_INDEX = `${GROUP_INDEX} * ${WG} + i32(localIndex)`;

/** y = act(g) * u elementwise; or, for the gradient, dg = dy * u * act'(g) or du = dy * act(g). */
class GateProgram extends FusedProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = 'n : i32,';

  constructor(shape: number[], private readonly activation: GateActivation, private readonly wrt: 'forward' | 'g' | 'u') {
    super(shape, Math.ceil(tf.util.sizeFromShape(shape) / WG));
    // Every declared input must be read: WebGPU's 'auto' layout drops unused bindings.
    this.variableNames = { forward: ['g', 'u'], g: ['g', 'u', 'dy'], u: ['g', 'dy'] }[wrt];
    this.shaderKey = `fused_gate_${activation}_${wrt}`;
  }

  getUserCode(): string {
    const gelu = this.activation === 'gelu_tanh' ? 'true' : 'false';
    const value = { forward: `act(g[i], ${gelu}) * u[i]`, g: `dy[i] * u[i] * actGrad(g[i], ${gelu})`, u: `dy[i] * act(g[i], ${gelu})` }[this.wrt];
    return `
    ${ACTIVATION_SNIPPET}
    fn main() {
      let i = ${FLAT_INDEX};
      if (i < uniforms.n) { result[i] = ${value}; }
    }`;
  }
}

/**
 * Rotate-half RoPE of x over D with tables cos/sin [Bc, T, 1, D] (Bc = 1 or B):
 * y[d] = x[d]*cos[d] + r(d)*x[d']*sin[d], d' = d ± D/2, r = -1 on the first half, +1 on the second.
 * sign -1 gives the backward: dx[d] = dy[d]*cos[d] - r(d)*dy[d']*sin[d'] (the rotation by -sin).
 */
class RopeProgram extends FusedProgram {
  variableNames = ['x', 'cos', 'sin'];
  shaderKey: string;
  uniforms = 'n : i32, T : i32, H : i32, D : i32, tableBatch : i32,';

  constructor(outShape: number[], private readonly layout: RopeLayout, private readonly backward: boolean) {
    super(outShape, Math.ceil(tf.util.sizeFromShape(outShape) / WG));
    this.shaderKey = `fused_rope_${layout}_${backward ? 'bwd' : 'fwd'}`;
  }

  getUserCode(): string {
    // Coordinates (b, t, h, d) of output element i, and the flat index of (b, t, h, d) in the input.
    const outHeads = this.layout === 'toHeads';
    const inHeads = this.layout === 'fromHeads';
    const decode = outHeads
      ? 'let d = i % D; let t = (i / D) % T; let h = (i / (D * T)) % H; let b = i / (D * T * H);'
      : 'let d = i % D; let h = (i / D) % H; let t = (i / (D * H)) % T; let b = i / (D * H * T);';
    const inBase = inHeads ? '((b * H + h) * T + t) * D' : '((b * T + t) * H + h) * D';
    const sinAt = this.backward ? 'sin[tb + dp]' : 'sin[tb + d]';
    const rot = this.backward ? '-r' : 'r';
    return `
    fn main() {
      let i = ${FLAT_INDEX};
      if (i >= uniforms.n) { return; }
      let T = uniforms.T; let H = uniforms.H; let D = uniforms.D;
      let half = D / 2;
      ${decode}
      let dp = select(d - half, d + half, d < half);
      let r = select(1.0, -1.0, d < half);
      let tb = (select(b, 0, uniforms.tableBatch == 1) * T + t) * D;
      let base = ${inBase};
      result[i] = x[base + d] * cos[tb + d] + ${rot} * x[base + dp] * ${sinAt};
    }`;
  }
}

/**
 * p [BK, M, S] = softmax over S of s * scale + mask, mask [Bm, M, S] (Bm = 1 or B; row batch b = bk / K).
 * The row maximum and sum follow tfjs's softmax: exp(v - max) / sum.
 */
class MaskedSoftmaxProgram extends FusedProgram {
  variableNames = ['s', 'mask'];
  shaderKey = 'fused_masked_softmax';
  uniforms = 'rows : i32, M : i32, S : i32, K : i32, maskBatch : i32, scale : f32,';

  getUserCode(): string {
    return `
    ${reductionBuffers(1)}
    var<workgroup> rowMax : array<f32, ${WG}>;
    fn main() {
      let row = ${GROUP_INDEX};
      let S = select(0, uniforms.S, row < uniforms.rows); // a spare workgroup reads and writes nothing
      let tid = i32(localIndex);
      let m = row % uniforms.M;
      let b = (row / uniforms.M) / uniforms.K;
      let base = row * S;
      let maskBase = (select(b, 0, uniforms.maskBatch == 1) * uniforms.M + m) * S;
      var mx = -3.402823e+38;
      for (var c = tid; c < S; c = c + ${WG}) { mx = max(mx, s[base + c] * uniforms.scale + mask[maskBase + c]); }
      rowMax[tid] = mx;
      workgroupBarrier();
      for (var half = ${WG / 2}; half > 0; half = half >> 1) {
        if (tid < half) { rowMax[tid] = max(rowMax[tid], rowMax[tid + half]); }
        workgroupBarrier();
      }
      let top = rowMax[0];
      var acc = 0.0;
      for (var c = tid; c < S; c = c + ${WG}) { acc = acc + exp(s[base + c] * uniforms.scale + mask[maskBase + c] - top); }
      ${workgroupSums(['acc'], ['total'])}
      for (var c = tid; c < S; c = c + ${WG}) { result[base + c] = exp(s[base + c] * uniforms.scale + mask[maskBase + c] - top) / total; }
    }`;
  }
}

/** dS [rows, S] = p * (dp - rowsum(p * dp)) * scale: the softmax backward with the score scale folded in. */
class SoftmaxGradProgram extends FusedProgram {
  variableNames = ['p', 'dp'];
  shaderKey = 'fused_softmax_grad';
  uniforms = 'rows : i32, S : i32, scale : f32,';

  getUserCode(): string {
    return `
    ${reductionBuffers(1)}
    fn main() {
      let row = ${GROUP_INDEX};
      let S = select(0, uniforms.S, row < uniforms.rows); // a spare workgroup reads and writes nothing
      let tid = i32(localIndex);
      let base = row * S;
      var acc = 0.0;
      for (var c = tid; c < S; c = c + ${WG}) { acc = acc + dp[base + c] * p[base + c]; }
      ${workgroupSums(['acc'], ['dot'])}
      for (var c = tid; c < S; c = c + ${WG}) { result[base + c] = p[base + c] * (dp[base + c] - dot) * uniforms.scale; }
    }`;
  }
}

/** Rows and width of x viewed as [rows, last axis]. */
function rowsOf(shape: number[]): [number, number] {
  const C = shape[shape.length - 1]!;
  return [tf.util.sizeFromShape(shape) / C, C];
}

export function run(backend: unknown, program: FusedProgram, inputs: tf.TensorInfo[], uniforms: Uniforms): tf.TensorInfo {
  return (backend as WebGPUBackend).runWebGPUProgram(program, inputs, 'float32', uniforms);
}

/** The rope tables' uniforms for x in layout `inLayout` ([B, T, H, D] or [B, H, T, D]). */
function ropeUniforms(xShape: number[], cosShape: number[], inHeads: boolean): Uniforms {
  const [B, a, c, D] = xShape as [number, number, number, number];
  const [T, H] = inHeads ? [c, a] : [a, c];
  return [i32(B * T * H * D), i32(T), i32(H), i32(D), i32(cosShape[0]!)];
}

let registered = false;

/** Register the fused kernels for 'webgpu' and the gradients of the forward ones. Idempotent. */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;

  tf.registerKernel({
    kernelName: FUSED_RMS_NORM,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { eps, offset } = attrs as unknown as RmsNormAttrs;
      const x = inputs.x!; // [..., C]
      const [rows, C] = rowsOf(x.shape);
      return run(backend, new RmsNormProgram(x.shape, rows), [x, inputs.w!], [i32(rows), i32(C), f32(eps), f32(offset)]); // [..., C]
    },
  });
  tf.registerKernel({
    kernelName: FUSED_RMS_NORM_GRAD_X,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { eps, offset } = attrs as unknown as RmsNormAttrs;
      const x = inputs.x!;
      const [rows, C] = rowsOf(x.shape);
      return run(backend, new RmsNormGradXProgram(x.shape, rows), [x, inputs.w!, inputs.dy!], [i32(rows), i32(C), f32(eps), f32(offset)]);
    },
  });
  // The tape asks for a gradient only of inputs on the path to what is differentiated: dw is
  // computed in full fine-tuning (norm weights are variables) and never in a LoRA step.
  tf.registerGradient({
    kernelName: FUSED_RMS_NORM,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy, saved, attrs) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor1D];
      const { eps } = attrs as unknown as RmsNormAttrs;
      return {
        x: () => tf.engine().runKernel(FUSED_RMS_NORM_GRAD_X, { x, w, dy: dy as tf.Tensor }, attrs) as tf.Tensor,
        w: () => {
          const [rows, C] = rowsOf(x.shape);
          const x2 = x.reshape([rows, C]);
          const s = tf.rsqrt(tf.add(tf.mean(tf.square(x2), -1, true), eps)); // [rows, 1]
          return tf.sum(tf.mul(tf.mul((dy as tf.Tensor).reshape([rows, C]), x2), s), 0); // [C]
        },
      };
    },
  });

  tf.registerKernel({
    kernelName: FUSED_GATE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { activation } = attrs as unknown as GateAttrs;
      const g = inputs.g!; // [N, I]
      return run(backend, new GateProgram(g.shape, activation, 'forward'), [g, inputs.u!], [i32(tf.util.sizeFromShape(g.shape))]); // [N, I]
    },
  });
  tf.registerKernel({
    kernelName: FUSED_GATE_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { activation, wrt } = attrs as unknown as GateGradAttrs;
      const g = inputs.g!;
      const program = new GateProgram(g.shape, activation, wrt);
      const ins = program.variableNames.map((n) => inputs[n]!);
      return run(backend, program, ins, [i32(tf.util.sizeFromShape(g.shape))]);
    },
  });
  tf.registerGradient({
    kernelName: FUSED_GATE,
    inputsToSave: ['g', 'u'],
    gradFunc: (dy, saved, attrs) => {
      const [g, u] = saved as tf.Tensor[];
      const grad = (wrt: 'g' | 'u') => () => tf.engine().runKernel(FUSED_GATE_GRAD, { g, u, dy: dy as tf.Tensor }, { ...attrs, wrt }) as tf.Tensor;
      return { g: grad('g'), u: grad('u') };
    },
  });

  tf.registerKernel({
    kernelName: FUSED_ROPE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { layout, sign } = attrs as unknown as RopeAttrs;
      const x = inputs.x!; // [B, T, H, D] ('fromHeads': [B, H, T, D])
      const [B, a, c, D] = x.shape as [number, number, number, number];
      const outShape = layout === 'same' ? x.shape : [B, c, a, D]; // the other layout
      const program = new RopeProgram(outShape, layout, sign < 0);
      return run(backend, program, [x, inputs.cos!, inputs.sin!], ropeUniforms(x.shape, inputs.cos!.shape, layout === 'fromHeads'));
    },
  });
  tf.registerGradient({
    kernelName: FUSED_ROPE,
    inputsToSave: ['cos', 'sin'],
    gradFunc: (dy, saved, attrs) => {
      const [cos, sin] = saved as tf.Tensor[];
      const { layout } = attrs as unknown as RopeAttrs;
      const back: RopeLayout = layout === 'toHeads' ? 'fromHeads' : layout === 'fromHeads' ? 'toHeads' : 'same';
      return {
        x: () => tf.engine().runKernel(FUSED_ROPE, { x: dy as tf.Tensor, cos, sin }, { layout: back, sign: -1 }) as tf.Tensor,
        // The tables are constants of the positions, never trained; a zero gradient keeps the tape whole.
        cos: () => tf.zerosLike(cos),
        sin: () => tf.zerosLike(sin),
      };
    },
  });

  tf.registerKernel({
    kernelName: FUSED_MASKED_SOFTMAX,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { scale } = attrs as unknown as SoftmaxAttrs;
      const s = inputs.s!; // [B, K, M, S]
      const mask = inputs.mask!; // [M, S] or [Bm, 1, M, S]
      const [, K, M, S] = s.shape as [number, number, number, number];
      const rows = tf.util.sizeFromShape(s.shape) / S;
      const maskBatch = mask.shape.length === 4 ? mask.shape[0]! : 1;
      return run(backend, new MaskedSoftmaxProgram(s.shape, rows), [s, mask], [i32(rows), i32(M), i32(S), i32(K), i32(maskBatch), f32(scale)]); // [B, K, M, S]
    },
  });
  tf.registerKernel({
    kernelName: FUSED_SOFTMAX_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { scale } = attrs as unknown as SoftmaxAttrs;
      const p = inputs.p!; // [..., S]
      const [rows, S] = rowsOf(p.shape);
      return run(backend, new SoftmaxGradProgram(p.shape, rows), [p, inputs.dp!], [i32(rows), i32(S), f32(scale)]);
    },
  });
}
