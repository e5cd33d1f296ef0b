// Browser-side checks of the flash attention kernels (src/gpu/flash-attention.ts through
// src/model/flash-attention.ts), exposed on window.flashChecks for e2e/flash-attention.spec.ts:
// each case runs flashAttention and tf.grads of sum(out · dy) for q, k, v on 'webgpu', and the
// dense reference (attentionReference with attentionMask) on 'cpu', from the same inputs; a
// whole-model check runs a tiny model's forward and LoRA gradients with the kernels on and off;
// timeAttention times the kernels against the tf-op paths (a benchmark, not a test).
import * as tf from '@tensorflow/tfjs';
import { attentionCore, attentionReference } from '../../src/model/attention-core';
import { attentionMask, type MaskRequest } from '../../src/model/attention-mask';
import { blockedAttention, setBlockedAttention } from '../../src/model/blocked-attention';
import { flashAttention, setFlashAttention } from '../../src/model/flash-attention';
import { FLASH_ATTENTION_FORWARD, FLASH_ATTENTION_GRAD_KV, FLASH_ATTENTION_GRAD_Q, FLASH_ATTENTION_ROW_DOT, type FlashTiles } from '../../src/gpu/flash-attention';
import { loadModelWithReport } from '../../src/model/load';
import { fetchModelFiles } from './served-model';
import { LoraAdapter } from '../../src/train/lora';
import { uniformValues } from '../../src/util/random';
import { maxRelativeError } from '../../src/util/compare';

export const FLASH_KERNELS = [FLASH_ATTENTION_FORWARD, FLASH_ATTENTION_ROW_DOT, FLASH_ATTENTION_GRAD_KV, FLASH_ATTENTION_GRAD_Q];

/** One attention shape and mask (plain JSON, so the spec's table crosses into the page). */
export interface FlashCase {
  B: number;
  /** kv heads */
  K: number;
  /** query heads per kv head */
  G: number;
  T: number;
  D: number;
  past: number;
  window: number | null;
  softcap: number | null;
  /** Packed rows: segment lengths per batch row (each row sums to T); past must be 0. */
  segments?: number[][];
  tiles?: FlashTiles;
}

export interface FlashResult {
  forwardRelErr: number;
  /** dq, dk, dv */
  gradRelErrs: number[];
  /** Kernel names WebGPU ran for the forward and the gradients. */
  gpuKernels: string[];
}

function requestOf(c: FlashCase): MaskRequest {
  const r: MaskRequest = { B: c.B, T: c.T, G: c.G, past: c.past, window: c.window };
  if (c.segments) {
    const seg = new Int32Array(c.B * c.T);
    c.segments.forEach((lens, b) => {
      if (lens.reduce((a, x) => a + x, 0) !== c.T) throw new Error(`flash case: row ${b}'s segments do not sum to T ${c.T}`);
      let t = 0;
      lens.forEach((len, i) => seg.fill(i, b * c.T + t, b * c.T + (t += len)));
    });
    r.packing = { segments: seg };
  }
  return r;
}

/** q, k, v and dy of the case, seeded so both backends see the same numbers. */
function inputsOf(c: FlashCase): { shape: number[]; values: Float32Array }[] {
  const S = c.past + c.T;
  const shapes = [[c.B, c.K, c.G * c.T, c.D], [c.B, c.K, S, c.D], [c.B, c.K, S, c.D], [c.B, c.K, c.G * c.T, c.D]];
  // q and k in [-2, 2]: scores spread enough that the softmax is far from uniform (and softcap bites).
  return shapes.map((shape, i) => ({ shape, values: uniformValues(tf.util.sizeFromShape(shape), 21 + i).map((x) => (i < 2 ? 2 * x : x)) }));
}

type Variant = 'flash' | 'blocked' | 'dense';

/** The case's attention with `variant`: flash (webgpu only), blockedAttention's tf ops, or the dense core (reference: plain ops). */
function attend(variant: Variant | 'reference', c: FlashCase, r: MaskRequest, mask: tf.Tensor | null): (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor {
  const o = { scale: 1 / Math.sqrt(c.D), softcap: c.softcap };
  const q4 = (x: tf.Tensor) => x as tf.Tensor4D;
  switch (variant) {
    case 'flash':
      return (q, k, v) => flashAttention(q4(q), q4(k), q4(v), r, { ...o, tiles: c.tiles });
    case 'blocked':
      return (q, k, v) => blockedAttention(q4(q), q4(k), q4(v), r, o);
    case 'dense':
      return (q, k, v) => attentionCore(q4(q), q4(k), q4(v), mask!, o);
    case 'reference':
      return (q, k, v) => attentionReference(q4(q), q4(k), q4(v), mask!, o);
  }
}

/** Forward values and q, k, v gradients of the case on `backend` (flash on webgpu, the reference on cpu). */
async function evaluate(c: FlashCase, backend: 'webgpu' | 'cpu'): Promise<{ y: Float32Array; grads: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const r = requestOf(c);
  const mask = backend === 'cpu' ? attentionMask(r) : null;
  const f = attend(backend === 'webgpu' ? 'flash' : 'reference', c, r, mask);
  const run = () =>
    tf.tidy(() => {
      const [q, k, v, dy] = inputsOf(c).map((i) => tf.tensor(i.values, i.shape));
      const y = f(q!, k!, v!);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, b, d), dy!)))([q!, k!, v!]);
      return { y, grads };
    });
  let out: { y: tf.Tensor; grads: tf.Tensor[] } | null = null;
  // The profiler names the kernels of the forward and of the backward.
  const prof = await tf.profile(() => {
    out = run();
    return [out.y, ...out.grads];
  });
  const { y, grads } = out!;
  const result = { y: (await y.data()) as Float32Array, grads: (await Promise.all(grads.map((g) => g.data()))) as Float32Array[], kernels: [...new Set(prof.kernels.map((k) => k.name))] };
  tf.dispose([y, ...grads]);
  mask?.dispose();
  if (tf.memory().numTensors !== before) throw new Error(`flash check (${backend}): ${tf.memory().numTensors - before} tensors left behind`);
  return result;
}

async function runCase(c: FlashCase): Promise<FlashResult> {
  const gpu = await evaluate(c, 'webgpu');
  const cpu = await evaluate(c, 'cpu');
  await tf.setBackend('webgpu');
  return {
    forwardRelErr: maxRelativeError(gpu.y, cpu.y),
    gradRelErrs: cpu.grads.map((g, i) => maxRelativeError(gpu.grads[i]!, g)),
    gpuKernels: gpu.kernels,
  };
}


export interface ModelCheckResult {
  logitsRelErr: number;
  /** max over LoRA variables of the gradient's relative error */
  gradRelErr: number;
  gradCount: number;
  /** Flash kernels in the forward with the switch on / off (on: all of FLASH_ATTENTION_FORWARD, off: none). */
  kernelsOn: string[];
  kernelsOff: string[];
}

/**
 * A tiny model on WebGPU, blocked attention forced (small blocks), one forward of a [B, T] batch
 * (packed into segments when `segments` is given) and the LoRA gradients of sum(logits · dy):
 * flash kernels on against blockedAttention's tf ops.
 */
async function modelCheck(modelUrl: string, B: number, T: number, segments?: number[][]): Promise<ModelCheckResult> {
  await tf.setBackend('webgpu');
  const files = await fetchModelFiles(modelUrl);
  const { model } = await loadModelWithReport(files, { precision: 'fp32' });
  const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], useRslora: false, baseModel: 'x' }, 3);
  tf.tidy(() => {
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomUniform(v.shape, -0.05, 0.05, 'float32', 11));
  });
  const V = model.config.vocabSize;
  const ids = Int32Array.from(uniformValues(B * T, 5), (x) => Math.floor(((x + 1) / 2) * (V - 1)) + 1);
  let packing: { segments: Int32Array; positions: Int32Array } | undefined;
  if (segments) {
    const seg = requestOf({ B, K: 1, G: 1, T, D: 1, past: 0, window: null, softcap: null, segments }).packing!.segments;
    const positions = new Int32Array(B * T); // from 0 at each example's start
    for (let i = 0; i < B * T; i++) positions[i] = i % T === 0 || seg[i] !== seg[i - 1] ? 0 : positions[i - 1]! + 1;
    packing = { segments: seg, positions };
  }
  const dy = uniformValues(B * T * V, 6);
  setBlockedAttention(true, { query: 16, key: 32 });
  // The model caches its rope tables on the first forward: count tensors after one.
  tf.tidy(() => void model.forward(tf.tensor2d(ids, [B, T], 'int32'), { packing }));
  const before = tf.memory().numTensors;
  const pass = async (on: boolean) => {
    setFlashAttention(on);
    let res: { logits: tf.Tensor; grads: tf.Tensor[] } | null = null;
    const prof = await tf.profile(() => {
      res = tf.tidy(() => {
        const x = tf.tensor2d(ids, [B, T], 'int32');
        const w = tf.tensor2d(dy, [B * T, V]);
        const logits = model.forward(x, { lora: adapter, packing }); // [B*T, V]
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(x, { lora: adapter, packing }), w)) as tf.Scalar, adapter.variables());
        return { logits, grads: adapter.variables().map((v) => grads[v.name]!) };
      });
      return [res.logits, ...res.grads];
    });
    const { logits, grads } = res!;
    const out = { logits: (await logits.data()) as Float32Array, grads: (await Promise.all(grads.map((g) => g.data()))) as Float32Array[], kernels: [...new Set(prof.kernels.map((k) => k.name))].filter((k) => FLASH_KERNELS.includes(k)) };
    tf.dispose([logits, ...grads]);
    return out;
  };
  try {
    const on = await pass(true);
    const off = await pass(false);
    if (tf.memory().numTensors !== before) throw new Error(`flash model check: ${tf.memory().numTensors - before} tensors left behind`);
    return {
      logitsRelErr: maxRelativeError(on.logits, off.logits),
      gradRelErr: Math.max(...off.grads.map((g, i) => maxRelativeError(on.grads[i]!, g))),
      gradCount: off.grads.length,
      kernelsOn: on.kernels,
      kernelsOff: off.kernels,
    };
  } finally {
    setBlockedAttention(null);
    setFlashAttention(null);
    adapter.dispose();
    model.dispose();
  }
}

/**
 * Median milliseconds of one forward + backward (q, k, v gradients) read back, on webgpu, for the
 * flash kernels, blockedAttention's tf ops or the dense attention core. A benchmark, not a test:
 * under SwiftShader the figures say nothing about a GPU.
 */
async function timeAttention(c: FlashCase, variant: Variant, runs = 5): Promise<number> {
  await tf.setBackend('webgpu');
  const r = requestOf(c);
  const mask = variant === 'dense' ? attentionMask(r) : null;
  const f = attend(variant, c, r, mask);
  const xs = inputsOf(c).map((i) => tf.tensor(i.values, i.shape));
  const [q, k, v, dy] = xs;
  const once = async () => {
    const outs = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, b, d), dy!)))([q!, k!, v!]);
      return [value, ...grads];
    });
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
  };
  await once(); // compiles the shaders
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  tf.dispose([...xs, ...(mask ? [mask] : [])]);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

declare global {
  interface Window {
    flashChecks: { runCase: typeof runCase; modelCheck: typeof modelCheck; timeAttention: typeof timeAttention };
  }
}

window.flashChecks = { runCase, modelCheck, timeAttention };
