// Before training: how much memory and time the chosen settings will take on the detected backend.
// A documented back-of-envelope model, not a measurement; the UI shows it next to the settings and
// the live tokens/s replaces the throughput guess once training runs.
//
// Memory (bytes, float32 everywhere):
//   base        = baseWeightBytes (as loaded: fp32 or NF4), or 4 x parameters
//   trainable   = 16 x P   (P LoRA parameters: weights, gradient, AdamW m and v; full fine-tuning:
//                 P = every parameter, and the frozen base stays loaded beside it as the reference)
//   layer unit  = 4 x B x T x (6C + (H + 2Hkv)D + A + 3I + R*targets)
//                 A = H*T for the dense attention core ([G*T, S] scores per kv head while a layer's
//                 attention runs), H*(D+1) for blocked attention (its saved output and log-sum-exp;
//                 its [G*n, m] block tensors do not grow with T), src/model/blocked-attention.ts
//   saved       = SAVED_MARGIN x 4 x B x T x savedPerToken: what a layer keeps for its backward
//                 (each layer frees its intermediates as it returns, and the backward frees each
//                 op's saves and gradients as it passes, train/lean-gradients.ts), per token:
//                   2C (the layer's input and the second norm's) + (H + 2Hkv)D (q, k, v after rope)
//                   + 2I (gate and up, for the activation's gradient)
//                   + C if q, k or v carries LoRA (their input) + C if gate or up does
//                   + HD if o_proj does + I if down_proj does (full fine-tuning: all of them)
//                   + H(D+1) for blocked attention (its output and log-sum-exp)
//                   + (H + Hkv)D with q/k norms + 2C with sandwich norms + R x targets
//   in flight   = ACTIVATION_FACTOR x layer unit   one layer's intermediates while it runs or is
//                 differentiated (a recomputed layer: its forward again under a nested tape)
//   activations = (L - n) x saved + 4 x B x T x n x C + in flight
//                 with the first n of L layers recomputed (they keep only their inputs)
//   logits      = 4 x B x T x V x 3   plain loss (logits, log-softmax, their gradient)
//               = 24 x rows x Vb + 4 x B x T x C   fused loss (six [rows, Vb] tensors of one chunk, plus dH)
// Time:
//   forward FLOPs/token = 2 x L x Nlin + 2 x C x V + 4 x L x T x H*D + 2 x P
//   training FLOPs/token ~ 2 x forward  (the frozen base needs input gradients, not weight gradients)
//   seconds/step = accum x (L x overhead + FLOPs per micro-batch / (GFLOP/s x 1e9)), GFLOP/s from
//   BACKEND_GFLOPS unless a measured rate is given. The per-layer overhead (kernel launches, JS) is
//   what dominates small models: stories260K on wasm measured 1,300-1,900 tokens/s where FLOPs alone say ~9,700.
import { LINEAR_MODULES, linearShape, parameterCount, type LinearModule, type LlamaConfig } from '../model/config';
import { useBlockedAttention } from '../model/blocked-attention';

/** Sustained GFLOP/s assumed per backend (DESIGN.md section 3: wasm SIMD measured 22-31 on 1024^2 matmuls; smaller shapes get less). */
export const BACKEND_GFLOPS = {
  wasm: 12,
  cpu: 0.6,
  /** A real GPU through WebGPU; tfjs reaches a few percent of peak on these shapes. */
  webgpu: 300,
  /** WebGPU on a software fallback adapter (SwiftShader). */
  'webgpu-fallback': 0.4,
} as const;

export type EstimateBackend = keyof typeof BACKEND_GFLOPS;

/** Seconds of fixed cost per transformer layer per micro-batch (forward + backward), fitted on stories260K (wasm: 5 layers, 0.13-0.2 s/step at B=4, T=64); the GPU values are guesses. */
export const BACKEND_LAYER_OVERHEAD_S: Record<EstimateBackend, number> = { wasm: 0.025, cpu: 0.05, webgpu: 0.01, 'webgpu-fallback': 0.3 };

export interface EstimateInput {
  config: LlamaConfig;
  rank: number;
  targets: readonly LinearModule[];
  batchSize: number;
  seqLen: number;
  gradAccum: number;
  /** Training examples (one epoch = ceil(examples / (B x accum)) steps). */
  examples: number;
  /** Optimizer steps of the whole run. */
  steps: number;
  backend: EstimateBackend;
  /** Bytes of the frozen base as loaded (NF4 is smaller); default 4 bytes per parameter. */
  baseWeightBytes?: number;
  /** Measured throughput, replacing BACKEND_GFLOPS. */
  gflops?: number;
  /** Replaces BACKEND_LAYER_OVERHEAD_S. */
  layerOverheadS?: number;
  /** Activation recomputation of every layer (default false: the old, full-memory path). */
  recompute?: boolean;
  /** Layers recomputed (the first n); replaces `recompute` when given. */
  recomputeLayers?: number;
  /** The attention path; default the decoder's own choice for T (model/blocked-attention.ts). */
  attention?: 'dense' | 'blocked';
  /** Loss fused with the head in chunks of this many bytes (src/train/fused-cross-entropy.ts); unset: the plain loss. */
  fusedLossChunkBytes?: number;
  /** Vocabulary rows the fused loss multiplies at once (int8 head: its decode block); default V. */
  lossBlockRows?: number;
  /** Part of the base held in backend memory (NF4 codes and int8 tables stay in JS on wasm); default: all of it. */
  baseBackendBytes?: number;
  /** A weight decoded for one product and freed after it (NF4 on wasm: the largest layer in fp32). */
  linearTransientBytes?: number;
  /** 'full': every weight trainable (rank and targets ignored); default 'lora'. */
  method?: 'lora' | 'full';
}

/**
 * Memory a training step may use on each backend: wasm32's 4 GiB address space (tfjs-wasm aborts
 * past it); a GPU's is unknown to the page, so 4 GiB too (a mid-range laptop GPU); cpu is JS heap.
 */
/**
 * One layer in flight, per byte of the layer unit above: measured on wasm at SmolLM2-135M's shape
 * (4 x 256, dense attention) as the backward's peak over what the forward kept, 175 MB with every
 * layer recomputed (3.8x), 73 MB with none (1.6x); a recomputed 2,048-token layer's backward
 * peaked at ~3.8x as well (blocked attention). Real heap bytes (malloc'd), not tfjs's count, which
 * counts a buffer once per tensor sharing it.
 */
export const ACTIVATION_FACTOR = 3.8;

/**
 * Slack on the saved-per-token sum above. At SmolLM2-135M's shape (LoRA q+v, wasm) the sum says
 * 23.6 MB per layer at 4 x 256 (dense attention) and 52.0 MB at 1 x 2048 (blocked); measured
 * 23.7 and 52.2 MB, as (what the forward kept with no layer recomputed - with all of them) / 30
 * + one layer input (`npx tsx bench/step-memory.ts 4 256 30 0`, and with 30).
 */
export const SAVED_MARGIN = 1.1;

/** Floats per token one decoder layer keeps for its backward (the `saved` sum in the header). */
export function savedFloatsPerToken(c: LlamaConfig, targets: readonly LinearModule[], opts: { rank: number; blocked: boolean; full: boolean }): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = c;
  const has = (...ms: LinearModule[]) => opts.full || ms.some((m) => targets.includes(m));
  return 2 * C + (H + 2 * Hkv) * D + 2 * I
    + (has('q_proj', 'k_proj', 'v_proj') ? C : 0) + (has('gate_proj', 'up_proj') ? C : 0) + (has('o_proj') ? H * D : 0) + (has('down_proj') ? I : 0)
    + (opts.blocked ? H * (D + 1) : 0) + (c.qkNorm ? (H + Hkv) * D : 0) + (c.sandwichNorms ? 2 * C : 0) + (opts.full ? 0 : opts.rank * targets.length);
}

export function memoryBudgetBytes(backend: EstimateBackend): number {
  return backend === 'cpu' ? 2 * 1024 ** 3 : 4 * 1024 ** 3;
}

export interface TrainEstimate {
  loraParameters: number;
  /**
   * total: base + trainable + activations + logits (the whole footprint, JS-held base included);
   * peakBackend: what the backend (wasm heap / GPU) holds at a step's peak.
   */
  memory: {
    base: number; trainable: number; activations: number; logits: number; total: number; peakBackend: number;
    /** The part of the base in backend memory, and the weights decoded for one product at a time (both in peakBackend). */
    baseBackend: number; transient: number;
  };
  /** The attention path the activations assume. */
  attention: 'dense' | 'blocked';
  /** Layers recomputed (the first n). */
  recomputeLayers: number;
  flopsPerToken: number;
  tokensPerStep: number;
  secondsPerStep: number;
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  secondsTotal: number;
  gflops: number;
}

/** Trainable LoRA parameters: R x (in + out) for every targeted linear layer in every block. */
export function loraParameterCount(c: LlamaConfig, rank: number, targets: readonly LinearModule[]): number {
  return c.numLayers * targets.reduce((a, m) => {
    const { out, in: inF } = linearShape(c, m);
    return a + rank * (inF + out);
  }, 0);
}

function linearParams(c: LlamaConfig): number {
  return LINEAR_MODULES.reduce((a, m) => {
    const { out, in: inF } = linearShape(c, m);
    return a + out * inF;
  }, 0);
}

export function estimateTraining(x: EstimateInput): TrainEstimate {
  const c = x.config;
  const { hiddenSize: C, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: Hkv, headDim: D, vocabSize: V } = c;
  const B = x.batchSize;
  const T = x.seqLen;
  const R = x.rank;
  const full = x.method === 'full';
  const nLin = linearParams(c);
  const allParams = parameterCount(c); // with biases and q/k or sandwich norms, which full fine-tuning trains too
  const P = full ? allParams : loraParameterCount(c, R, x.targets);
  const base = x.baseWeightBytes ?? 4 * allParams;
  const trainable = 16 * P;
  const blocked = (x.attention ?? (useBlockedAttention(T, T) ? 'blocked' : 'dense')) === 'blocked';
  const perTokenLayer = 6 * C + (H + 2 * Hkv) * D + (blocked ? H * (D + 1) : H * T) + 3 * I + (full ? 0 : R * x.targets.length);
  const unit = 4 * B * T * perTokenLayer;
  const saved = SAVED_MARGIN * 4 * B * T * savedFloatsPerToken(c, x.targets, { rank: R, blocked, full });
  const n = Math.max(0, Math.min(L, x.recomputeLayers ?? (x.recompute ? L : 0)));
  const activations = (L - n) * saved + 4 * B * T * n * C + ACTIVATION_FACTOR * unit;
  const plainLogits = 4 * B * T * V * 3;
  const N = B * T;
  const blockRows = x.lossBlockRows ?? V;
  const chunkRows = Math.max(1, Math.min(N, Math.floor((x.fusedLossChunkBytes ?? 0) / (16 * blockRows))));
  const logits = x.fusedLossChunkBytes ? 24 * chunkRows * blockRows + 4 * N * C : plainLogits;
  const forward = 2 * L * nLin + 2 * C * V + 4 * L * T * H * D + (full ? 0 : 2 * P);
  // Full fine-tuning also needs every weight's gradient: one more product per weight (~3x forward).
  const flopsPerToken = (full ? 3 : 2) * forward;
  const tokensPerStep = B * T * x.gradAccum;
  const gflops = x.gflops ?? BACKEND_GFLOPS[x.backend];
  const overhead = x.layerOverheadS ?? BACKEND_LAYER_OVERHEAD_S[x.backend];
  const secondsPerStep = x.gradAccum * L * overhead + (flopsPerToken * tokensPerStep) / (gflops * 1e9);
  const stepsPerEpoch = Math.max(1, Math.ceil(x.examples / (B * x.gradAccum)));
  return {
    loraParameters: P,
    memory: {
      base, trainable, activations, logits, total: base + trainable + activations + logits,
      peakBackend: (x.baseBackendBytes ?? base) + trainable + activations + logits + 2 * (x.linearTransientBytes ?? 0),
      baseBackend: x.baseBackendBytes ?? base, transient: 2 * (x.linearTransientBytes ?? 0),
    },
    attention: blocked ? 'blocked' : 'dense',
    recomputeLayers: n,
    flopsPerToken,
    tokensPerStep,
    secondsPerStep,
    stepsPerEpoch,
    secondsPerEpoch: secondsPerStep * stepsPerEpoch,
    secondsTotal: secondsPerStep * x.steps,
    gflops,
  };
}

/**
 * Memory full fine-tuning may use on a device: the WebGPU adapter's largest buffer times 4 (a rough
 * share of a GPU a tab gets), or on wasm the 4 GiB a 32-bit WebAssembly memory can address, within
 * navigator.deviceMemory when the browser reports it.
 */
export function deviceTrainingBudget(d: { backend: EstimateBackend; maxBufferBytes?: number; deviceMemoryGiB?: number }): number {
  const GiB = 1024 ** 3;
  const host = d.deviceMemoryGiB ? d.deviceMemoryGiB * GiB * 0.5 : Infinity;
  if (d.backend === 'webgpu' || d.backend === 'webgpu-fallback') return Math.min(4 * (d.maxBufferBytes ?? 256 * 1024 ** 2), host === Infinity ? 8 * GiB : host * 2);
  return Math.min(4 * GiB, host);
}

/** Whether full fine-tuning is offered with these settings within `budgetBytes`, and if not, why (for the method picker). */
export function fullFineTuneFit(e: TrainEstimate, budgetBytes: number): { ok: true } | { ok: false; reason: string } {
  if (e.memory.total <= budgetBytes) return { ok: true };
  const gb = (b: number) => `${(b / 1024 ** 3).toFixed(b < 1024 ** 3 ? 2 : 1)} GB`;
  return {
    ok: false,
    reason: `needs about ${gb(e.memory.total)} (16 bytes per parameter for weights, gradients and AdamW moments: ${gb(e.memory.trainable)}, plus the base kept as reference and the activations), more than the ${gb(budgetBytes)} this device allows; use LoRA or QLoRA`,
  };
}
