// AdamW's update on the 'webgpu' backend in three dispatches per variable (tfjs composes it from 13):
//   FusedAdamMoment  m * beta + g * (1 - beta), or with g²    (the first and the second moment)
//   FusedAdamParam   p * decay - (m * lrOverBc1) / (sqrt(v / bc2) + eps)
// The same arithmetic in the same order as src/train/adamw.ts's tf ops; src/model/fused.ts picks it.
import * as tf from '@tensorflow/tfjs';
import { f32, FLAT_INDEX, FusedProgram, i32, run, WG } from './fused-ops';

export const FUSED_ADAM_MOMENT = 'FusedAdamMoment';
export const FUSED_ADAM_PARAM = 'FusedAdamParam';

export interface AdamMomentAttrs { beta: number; /** the second moment: g² instead of g */ squared: boolean }
export interface AdamParamAttrs { decay: number; lrOverBc1: number; bc2: number; eps: number }

/** AdamW's moment m * beta + g * (1 - beta), or with square(g): the order of src/train/adamw.ts's tf ops. */
class AdamMomentProgram extends FusedProgram {
  variableNames = ['m', 'g'];
  shaderKey: string;
  uniforms = 'n : i32, beta : f32, rest : f32,';

  constructor(shape: number[], private readonly squared: boolean) {
    super(shape, Math.ceil(tf.util.sizeFromShape(shape) / WG));
    this.shaderKey = `fused_adam_moment_${squared ? 'v' : 'm'}`;
  }

  getUserCode(): string {
    const g = this.squared ? 'g[i] * g[i]' : 'g[i]';
    return `
    fn main() {
      let i = ${FLAT_INDEX};
      if (i < uniforms.n) { result[i] = m[i] * uniforms.beta + ${g} * uniforms.rest; }
    }`;
  }
}

/** The AdamW step from the new moments: p * decay - (m * lrOverBc1) / (sqrt(v / bc2) + eps). */
class AdamParamProgram extends FusedProgram {
  variableNames = ['p', 'm', 'v'];
  shaderKey = 'fused_adam_param';
  uniforms = 'n : i32, decay : f32, lrOverBc1 : f32, bc2 : f32, eps : f32,';

  constructor(shape: number[]) {
    super(shape, Math.ceil(tf.util.sizeFromShape(shape) / WG));
  }

  getUserCode(): string {
    return `
    fn main() {
      let i = ${FLAT_INDEX};
      if (i < uniforms.n) { result[i] = p[i] * uniforms.decay - (m[i] * uniforms.lrOverBc1) / (sqrt(v[i] / uniforms.bc2) + uniforms.eps); }
    }`;
  }
}

let registered = false;

/** Register both kernels for 'webgpu' (no gradients: an optimizer step is off the tape). Idempotent. */
export function registerFusedAdamW(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: FUSED_ADAM_MOMENT,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { beta, squared } = attrs as unknown as AdamMomentAttrs;
      const m = inputs.m!;
      return run(backend, new AdamMomentProgram(m.shape, squared), [m, inputs.g!], [i32(tf.util.sizeFromShape(m.shape)), f32(beta), f32(1 - beta)]);
    },
  });
  tf.registerKernel({
    kernelName: FUSED_ADAM_PARAM,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { decay, lrOverBc1, bc2, eps } = attrs as unknown as AdamParamAttrs;
      const p = inputs.p!;
      const u = [i32(tf.util.sizeFromShape(p.shape)), f32(decay), f32(lrOverBc1), f32(bc2), f32(eps)];
      return run(backend, new AdamParamProgram(p.shape), [p, inputs.m!, inputs.v!], u);
    },
  });
}
