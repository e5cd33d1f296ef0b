// Browser-side checks of the fused WebGPU ops (src/gpu/fused-ops.ts through src/model/fused.ts),
// exposed on window.fusedChecks for e2e/fused-ops.spec.ts: each case runs the op and its gradients
// (tf.grads of sum(op · dy)) on 'webgpu' with the fused kernels, and the tf-op composition on 'cpu',
// from the same inputs, and reports the relative errors and which kernels WebGPU ran.
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate, applyRope, applyRopeHeadsFirst, gatedActivation, rmsNorm, setFusedOps } from '../../src/model/fused';
import { attentionCore } from '../../src/model/attention-core';
import { attentionMask } from '../../src/model/attention-mask';
import { uniformValues } from '../../src/util/random';
import { maxRelativeError } from '../../src/util/compare';
import type { Activation } from '../../src/model/config';

/** One op at one shape (a discriminated union, so the spec's table is plain JSON). */
export type FusedCase =
  | { op: 'rmsNorm'; shape: number[]; offset: number }
  | { op: 'gate'; rows: number; width: number; activation: Activation }
  | { op: 'rope'; shape: [number, number, number, number]; tableBatch: number; headsFirst: boolean }
  | { op: 'attention'; B: number; K: number; G: number; T: number; D: number; packed: boolean }
  | { op: 'adamw'; size: number; weightDecay: number };

export interface FusedResult {
  forwardRelErr: number;
  /** One per differentiated input, in the case's input order (none for the optimizer step). */
  gradRelErrs: number[];
  /** Kernel names WebGPU ran for the forward (to prove the fused kernel, not tf ops, was measured). */
  gpuKernels: string[];
}

interface Built {
  /** Differentiated inputs (values, shapes); everything else is captured by `f`. */
  inputs: { values: Float32Array; shape: number[] }[];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** false: compare the forward only (an optimizer step has no gradient). */
  differentiable?: boolean;
}

/** Inputs in [-scale, scale], seeded by position so both backends see the same numbers. */
function rand(shape: number[], seed: number, scale = 1): { values: Float32Array; shape: number[] } {
  const v = uniformValues(tf.util.sizeFromShape(shape), seed);
  return { values: v.map((x) => x * scale), shape };
}

/** The case's op over tensors made on the active backend. */
function build(c: FusedCase): Built {
  switch (c.op) {
    case 'rmsNorm':
      return { inputs: [rand(c.shape, 1, 2), rand([c.shape[c.shape.length - 1]!], 2)], f: (x, w) => rmsNorm(x!, w as tf.Tensor1D, 1e-6, c.offset) };
    case 'gate':
      // Gates up to ±6: both the saturated and the curved part of silu / gelu.
      return { inputs: [rand([c.rows, c.width], 3, 6), rand([c.rows, c.width], 4)], f: (g, u) => gatedActivation(g as tf.Tensor2D, u as tf.Tensor2D, c.activation) };
    case 'rope': {
      const [B, T, , D] = c.shape;
      // Random tables, not a real rope table: its two halves are equal, which would hide a wrong half.
      const cos = tf.tensor4d(rand([c.tableBatch, T, 1, D], 5).values, [c.tableBatch, T, 1, D]);
      const sin = tf.tensor4d(rand([c.tableBatch, T, 1, D], 6).values, [c.tableBatch, T, 1, D]);
      if (c.tableBatch !== 1 && c.tableBatch !== B) throw new Error('rope case: tableBatch must be 1 or B');
      const rope = { cos, sin };
      return { inputs: [rand(c.shape, 7)], f: (q) => (c.headsFirst ? applyRopeHeadsFirst(q as tf.Tensor4D, rope) : applyRope(q as tf.Tensor4D, rope)) };
    }
    case 'attention': {
      const { B, K, G, T, D } = c;
      const segments = new Int32Array(B * T).map((_, i) => (i % T < Math.ceil(T / 2) ? 0 : 1)); // two examples per row
      const mask = c.packed ? attentionMask({ B, T, G, past: 0, window: null, packing: { segments } }) : attentionMask({ B, T, G, past: 0, window: null });
      const o = { scale: 1 / Math.sqrt(D), softcap: null };
      return {
        inputs: [rand([B, K, G * T, D], 8, 2), rand([B, K, T, D], 9, 2), rand([B, K, T, D], 10)],
        f: (q, k, v) => attentionCore(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, mask, o),
      };
    }
    case 'adamw': {
      // Step 3 of AdamW at lr 1e-3 with moments already built up: new p, m, v side by side.
      const lr = 1e-3;
      const step = { beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: c.weightDecay > 0 ? 1 - lr * c.weightDecay : 1, lrOverBc1: lr / (1 - 0.9 ** 3), bc2: 1 - 0.999 ** 3 };
      const v0 = rand([c.size], 12, 1e-3).values.map(Math.abs);
      return {
        inputs: [rand([c.size], 13), rand([c.size], 14, 1e-2), rand([c.size], 15, 1e-2), { values: v0, shape: [c.size] }],
        f: (p, g, m, v) => {
          const next = adamwUpdate(p!, g!, m!, v!, step);
          return tf.concat([next.p, next.m, next.v]);
        },
        differentiable: false,
      };
    }
  }
}

/** Forward values and input gradients of the case on `backend`. */
async function evaluate(c: FusedCase, backend: 'webgpu' | 'cpu'): Promise<{ y: Float32Array; grads: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const { inputs, f, differentiable = true } = build(c);
    const xs = inputs.map((i) => tf.tensor(i.values, i.shape));
    const y = f(...xs);
    if (!differentiable) return { y, grads: [] as tf.Tensor[] };
    const dy = tf.tensor(uniformValues(y.size, 11), y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(xs);
    return { y, grads };
  });
  // A second forward under the profiler, only to name the kernels that ran.
  const prof = await tf.profile(() => {
    tf.tidy(() => {
      const { inputs, f } = build(c);
      f(...inputs.map((i) => tf.tensor(i.values, i.shape)));
    });
  });
  const result = { y: (await out.y.data()) as Float32Array, grads: (await Promise.all(out.grads.map((g) => g.data()))) as Float32Array[], kernels: [...new Set(prof.kernels.map((k) => k.name))] };
  tf.dispose([out.y, ...out.grads]);
  if (tf.memory().numTensors !== before) throw new Error(`fused check (${backend}): ${tf.memory().numTensors - before} tensors left behind`);
  return result;
}

async function runCase(c: FusedCase): Promise<FusedResult> {
  setFusedOps(true);
  const gpu = await evaluate(c, 'webgpu');
  const cpu = await evaluate(c, 'cpu');
  await tf.setBackend('webgpu');
  return {
    forwardRelErr: maxRelativeError(gpu.y, cpu.y),
    gradRelErrs: cpu.grads.map((g, i) => maxRelativeError(gpu.grads[i]!, g)),
    gpuKernels: gpu.kernels,
  };
}

declare global {
  interface Window {
    fusedChecks: { runCase: typeof runCase };
  }
}

window.fusedChecks = { runCase };
