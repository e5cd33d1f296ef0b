// The Llama-family decoder in tfjs: weights, forward pass (training and KV-cached decoding) and the
// LoRA hook. Dimension letters: B batch, T time (new tokens), S cached+new keys, C hidden,
// H query heads, K kv heads, G = H / K, D head dim, V vocab, R LoRA rank.
// The same code runs in the Web Worker, in Node tests and in benchmarks.
import * as tf from '@tensorflow/tfjs';
import { type LlamaConfig, type LinearModule, LINEAR_MODULES } from './config';
import { type FrozenLinear } from './linear';
import { allLogits, type FrozenHead } from './frozen-head';

export interface LayerWeights {
  inputNorm: tf.Tensor1D; // [C]
  postNorm: tf.Tensor1D; // [C]
  linear: Record<LinearModule, FrozenLinear>;
}

export interface LlamaWeights {
  /** Token table [V, C] (fp32 or int8 rows, src/model/frozen-head.ts). */
  embed: FrozenHead;
  /** Output head [V, C]; the same object as embed when tied (one copy, one layout). */
  lmHead: FrozenHead;
  finalNorm: tf.Tensor1D; // [C]
  layers: LayerWeights[];
}

/** A LoRA adapter as the forward pass sees it: the delta for (layer, module), or nothing. */
export interface LoraHook {
  /** x [N, in] -> scale * (dropout(x) · Aᵀ) · Bᵀ  [N, out], or null when the module is not adapted. */
  delta(layer: number, module: LinearModule, x: tf.Tensor2D): tf.Tensor2D | null;
}

/** Per-layer key/value cache for decoding; tensors are kept outside tidy and owned by the cache. */
export interface KvCache {
  k: (tf.Tensor4D | null)[]; // [B, K, S, D]
  v: (tf.Tensor4D | null)[]; // [B, K, S, D]
  length: number;
}

export function newKvCache(cfg: LlamaConfig): KvCache {
  return { k: Array(cfg.numLayers).fill(null), v: Array(cfg.numLayers).fill(null), length: 0 };
}

export function disposeKvCache(cache: KvCache): void {
  for (const t of [...cache.k, ...cache.v]) t?.dispose();
  cache.k.fill(null);
  cache.v.fill(null);
  cache.length = 0;
}

/** Per-token positions and example ids for packed rows, both [B*T]. */
export interface Packing {
  positions: Int32Array;
  segments: Int32Array;
}

export interface ForwardOptions {
  lora?: LoraHook | null;
  /** With a cache, positions continue from cache.length and the cache is extended. */
  cache?: KvCache;
  packing?: Packing;
}

/** Each layer's keys/values after a cached forward, [B, K, S, D] each, indexed by layer. */
export type NewCache = { k: tf.Tensor4D; v: tf.Tensor4D }[];

/** What every layer of one forward call shares. */
export interface LayerContext {
  B: number;
  T: number;
  rope: Rope;
  mask: tf.Tensor;
  lora: LoraHook | null;
  cache?: KvCache;
  newCache: NewCache;
}

/** RoPE tables broadcastable against [B, T, H, D]. */
export interface Rope {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

export class LlamaModel {
  private ropeCache = new Map<string, Rope>();

  constructor(
    readonly config: LlamaConfig,
    readonly weights: LlamaWeights,
  ) {}

  /** The output head (for losses fused with it). */
  get head(): FrozenHead {
    return this.weights.lmHead;
  }

  /** Bytes held by the frozen base in backend memory (linear layers as stored, plus fp32 rest). */
  baseWeightBytes(): { linear: number; other: number } {
    const w = this.weights;
    let linear = 0;
    let other = w.embed.bytes + w.finalNorm.size * 4 + (w.lmHead === w.embed ? 0 : w.lmHead.bytes);
    for (const l of w.layers) {
      other += (l.inputNorm.size + l.postNorm.size) * 4;
      for (const m of LINEAR_MODULES) linear += l.linear[m].weightBytes;
    }
    return { linear, other };
  }

  /**
   * Logits for every position.
   * ids: [B, T] int32. With a cache, positions continue from cache.length and the cache is extended.
   * Packed rows (several examples in one sequence): `packing` gives each token's position within
   * its example and its example's segment id; attention never crosses segments. Returns [B*T, V].
   */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return this.run(opts, (nc) => this.logitsFrom(this.hidden(ids, opts, nc)));
  }

  /** The final normed hidden states [B*T, C] (apply `logitsFrom` to any rows of it). */
  forwardHidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return this.run(opts, (nc) => this.hidden(ids, opts, nc));
  }

  /** ids [B, T] -> embeddings [B, T, C]. */
  embed(ids: tf.Tensor2D): tf.Tensor3D {
    const [B, T] = ids.shape;
    return tf.tidy(() => this.weights.embed.embed(ids.reshape([B * T])).reshape([B, T, this.config.hiddenSize]) as tf.Tensor3D);
  }

  /** Hidden rows h [N, C] -> logits [N, V]. */
  logitsFrom(h: tf.Tensor2D): tf.Tensor2D {
    return allLogits(h, this.weights.lmHead); // [N, V]
  }

  /** The final RMSNorm: residual stream x [N, C] -> h [N, C]. */
  finalNorm(x: tf.Tensor2D): tf.Tensor2D {
    return rmsNorm(x, this.weights.finalNorm, this.config.rmsNormEps);
  }

  private run(opts: ForwardOptions, body: (newCache: NewCache) => tf.Tensor2D): tf.Tensor2D {
    const { cache } = opts;
    const cfg = this.config;
    const newCache: NewCache = [];
    const out = tf.tidy(() => {
      const y = body(newCache);
      for (const c of newCache) { tf.keep(c.k); tf.keep(c.v); }
      return y;
    });
    if (cache) {
      for (let i = 0; i < cfg.numLayers; i++) {
        cache.k[i]?.dispose();
        cache.v[i]?.dispose();
        cache.k[i] = newCache[i].k;
        cache.v[i] = newCache[i].v;
      }
      cache.length = newCache[0].k.shape[2]; // S = past + T
    }
    return out;
  }

  private hidden(ids: tf.Tensor2D, opts: ForwardOptions, newCache: NewCache): tf.Tensor2D {
    const [B, T] = ids.shape;
    const ctx = this.layerContext(B, T, opts, newCache);
    let x = this.embed(ids).reshape([B * T, this.config.hiddenSize]) as tf.Tensor2D; // [B*T, C]
    for (let i = 0; i < this.config.numLayers; i++) x = this.layerForward(i, x, ctx);
    return this.finalNorm(x); // [B*T, C]
  }

  /** The rope tables and masks one forward call shares across its layers. */
  layerContext(B: number, T: number, opts: ForwardOptions, newCache: NewCache = []): LayerContext {
    const cfg = this.config;
    const { cache, packing } = opts;
    if (packing && cache) throw new Error('forward: packed rows cannot use a KV cache');
    const past = cache?.length ?? 0;
    const G = cfg.numHeads / cfg.numKvHeads;
    const rope = packing ? this.ropeAt(packing.positions, B, T) : this.rope(past, T); // cos, sin: [B|1, T, 1, D]
    const mask = packing ? segmentMask(packing.segments, B, T, G) : causalMask(T, past + T, G); // [B, 1, G*T, T] | [G*T, S]
    return { B, T, rope, mask, lora: opts.lora ?? null, cache, newCache };
  }

  /** One decoder layer: x [B*T, C] -> x [B*T, C]; reads only its weights and `ctx`, so it can be recomputed. */
  layerForward(i: number, x: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
    const cfg = this.config;
    const layer = this.weights.layers[i];
    const h = rmsNorm(x, layer.inputNorm, cfg.rmsNormEps); // [B*T, C]
    const attn = this.attention(i, h, ctx.B, ctx.T, ctx.rope, ctx.mask, ctx.lora, ctx.cache, ctx.newCache);
    const x2 = tf.add(x, attn) as tf.Tensor2D;
    const h2 = rmsNorm(x2, layer.postNorm, cfg.rmsNormEps);
    return tf.add(x2, this.mlp(i, h2, ctx.lora));
  }

  private linear(layer: number, m: LinearModule, x: tf.Tensor2D, lora: LoraHook | null): tf.Tensor2D {
    const y = this.weights.layers[layer].linear[m].apply(x); // [N, out]
    const d = lora?.delta(layer, m, x);
    return d ? tf.add(y, d) : y;
  }

  private attention(
    i: number,
    h: tf.Tensor2D,
    B: number,
    T: number,
    rope: Rope,
    mask: tf.Tensor,
    lora: LoraHook | null,
    cache: KvCache | undefined,
    newCache: { k: tf.Tensor4D; v: tf.Tensor4D }[],
  ): tf.Tensor2D {
    const { numHeads: H, numKvHeads: K, headDim: D } = this.config;
    const G = H / K;
    const q = this.linear(i, 'q_proj', h, lora).reshape<tf.Tensor4D>([B, T, H, D]); // [B, T, H, D]
    const k = this.linear(i, 'k_proj', h, lora).reshape<tf.Tensor4D>([B, T, K, D]); // [B, T, K, D]
    const v = this.linear(i, 'v_proj', h, lora).reshape<tf.Tensor4D>([B, T, K, D]);
    const qr = applyRope(q, rope).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, D]
    let kr = applyRope(k, rope).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, K, T, D]
    let vr = v.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, K, T, D]
    if (cache) {
      const pk = cache.k[i];
      const pv = cache.v[i];
      if (pk && pv) {
        kr = tf.concat([pk, kr], 2) as tf.Tensor4D; // [B, K, S, D]
        vr = tf.concat([pv, vr], 2) as tf.Tensor4D;
      }
      newCache[i] = { k: kr, v: vr };
    }
    // GQA without copying K/V: the G query heads sharing kv head k (heads k*G .. k*G+G-1) are
    // stacked along time, so one batched matmul per kv head serves them all.
    const qg = qr.reshape([B, K, G * T, D]); // [B, K, G*T, D]
    const scores = tf.matMul(qg, kr, false, true).mul(1 / Math.sqrt(D)).add(mask); // [B, K, G*T, S]
    const probs = tf.softmax(scores); // [B, K, G*T, S]
    const o = tf.matMul(probs, vr) // [B, K, G*T, D]
      .reshape([B, H, T, D])
      .transpose([0, 2, 1, 3]) // [B, T, H, D]
      .reshape([B * T, H * D]) as tf.Tensor2D;
    return this.linear(i, 'o_proj', o, lora); // [B*T, C]
  }

  private mlp(i: number, h: tf.Tensor2D, lora: LoraHook | null): tf.Tensor2D {
    const gate = this.linear(i, 'gate_proj', h, lora); // [N, I]
    const up = this.linear(i, 'up_proj', h, lora); // [N, I]
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // SiLU(gate) * up
    return this.linear(i, 'down_proj', act as tf.Tensor2D, lora); // [N, C]
  }

  /** cos/sin [1, T, 1, D] for positions past..past+T-1, rotate-half layout (halves duplicated). */
  private rope(past: number, T: number): Rope {
    const key = `${past}:${T}`;
    let r = this.ropeCache.get(key);
    if (!r) {
      const { cos, sin } = ropeTable(Array.from({ length: T }, (_, t) => past + t), this.config);
      r = { cos: tf.keep(tf.tensor4d(cos, [1, T, 1, this.config.headDim])), sin: tf.keep(tf.tensor4d(sin, [1, T, 1, this.config.headDim])) };
      // Training uses one fixed T; decoding walks positions, so bound what is cached.
      if (this.ropeCache.size > 64) this.clearRopeCache();
      this.ropeCache.set(key, r);
    }
    return r;
  }

  /** cos/sin [B, T, 1, D] for explicit per-token positions (packed rows restart at 0 per example). */
  private ropeAt(positions: Int32Array, B: number, T: number): Rope {
    const D = this.config.headDim;
    const { cos, sin } = ropeTable(Array.from(positions), this.config);
    return { cos: tf.tensor4d(cos, [B, T, 1, D]), sin: tf.tensor4d(sin, [B, T, 1, D]) };
  }

  private clearRopeCache(): void {
    for (const r of this.ropeCache.values()) { r.cos.dispose(); r.sin.dispose(); }
    this.ropeCache.clear();
  }

  dispose(): void {
    this.clearRopeCache();
    const w = this.weights;
    w.embed.dispose();
    if (w.lmHead !== w.embed) w.lmHead.dispose();
    w.finalNorm.dispose();
    for (const l of w.layers) {
      l.inputNorm.dispose();
      l.postNorm.dispose();
      for (const m of LINEAR_MODULES) l.linear[m].dispose();
    }
  }
}

/** x [N, C] -> x / rms(x) * w */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** q [B, T, H, D] rotated by position: q*cos + rotate_half(q)*sin, rotate_half = cat(-q2, q1). */
function applyRope(q: tf.Tensor4D, rope: Rope): tf.Tensor4D {
  const half = q.shape[3] / 2;
  const [q1, q2] = tf.split(q, [half, half], 3); // [B, T, H, D/2] each
  const rotated = tf.concat([tf.neg(q2), q1], 3); // [B, T, H, D]
  return tf.add(tf.mul(q, rope.cos), tf.mul(rotated, rope.sin));
}

/** cos/sin values [positions.length * D], angles computed in float64 like the references, rounded once. */
function ropeTable(positions: number[], cfg: LlamaConfig): { cos: Float32Array; sin: Float32Array } {
  const D = cfg.headDim;
  const half = D / 2;
  const cos = new Float32Array(positions.length * D);
  const sin = new Float32Array(positions.length * D);
  positions.forEach((p, t) => {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(cfg.ropeTheta, (-2 * j) / D);
      cos[t * D + j] = cos[t * D + j + half] = Math.cos(angle);
      sin[t * D + j] = sin[t * D + j + half] = Math.sin(angle);
    }
  });
  return { cos, sin };
}

/**
 * Additive mask [B, 1, G*T, T] for packed rows: query t sees key s iff s <= t and both belong to the
 * same segment (example). Rows repeat per query head of a group, as in causalMask.
 */
function segmentMask(segments: Int32Array, B: number, T: number, G: number): tf.Tensor4D {
  const m = new Float32Array(B * G * T * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const seg = segments[b * T + t];
      for (let s = 0; s < T; s++) {
        if (s <= t && segments[b * T + s] === seg) continue;
        for (let g = 0; g < G; g++) m[((b * G + g) * T + t) * T + s] = -1e9;
      }
    }
  }
  return tf.tensor4d(m, [B, 1, G * T, T]);
}

/** Additive mask [G*T, S]: query t (absolute position S-T+t) sees keys 0..S-T+t; rows repeat per query head of a group. */
function causalMask(T: number, S: number, G: number): tf.Tensor2D {
  const m = new Float32Array(G * T * S);
  const past = S - T;
  for (let g = 0; g < G; g++) for (let t = 0; t < T; t++) for (let s = past + t + 1; s < S; s++) m[(g * T + t) * S + s] = -1e9;
  return tf.tensor2d(m, [G * T, S]);
}
