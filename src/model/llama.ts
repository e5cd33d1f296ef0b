// The one decoder every family runs (Llama, Mistral, SmolLM2, Qwen2/2.5, Qwen3, Gemma 3 text) in
// tfjs: weights, forward pass (training and KV-cached decoding) and the LoRA hook. How a family
// differs (norm offset, biases, q/k norms, sandwich norms, activation, embedding and query scales,
// rope and window per layer, soft-capping) comes from its FamilyTraits in the config (families.ts).
// Dimension letters: B batch, T time (new tokens), S keys attended (prefix + cached + new), C hidden,
// H query heads, K kv heads, G = H / K, D head dim, V vocab, I MLP width, P prefix length.
// The forward is embed -> layerForward(i) for each layer -> final norm -> head, each step public so
// training code can fuse the head into the loss or recompute layers (tf.customGrad).
import * as tf from '@tensorflow/tfjs';
import { type ModelConfig, type LinearModule, type LayerType, LINEAR_MODULES } from './config';
import { allLogits, type FrozenHead } from './frozen-head';
import { attentionCore, fusedAttention } from './attention-core';
import { blockedAttention, useBlockedAttention } from './blocked-attention';
import { flashAttention, flashAttentionActive, flashPreferred } from './flash-attention';
import { matMulBT } from './matmul';
import { attentionMask, type MaskRequest } from './attention-mask';
import { ropeTable } from './rope';
import { applyRopeHeadsFirst, gatedActivation, rmsNorm as fusedRmsNorm } from './fused';
import { addBias, addSame, reshapeLean } from './lean-ops';

export * from './decoder-types';
import type { LayerWeights, LlamaWeights, LoraHook, ForwardOptions, Rope, LayerContext, NewCache } from './decoder-types';

export class LlamaModel {
  private ropeCache = new Map<string, Rope>();

  constructor(
    readonly config: ModelConfig,
    readonly weights: LlamaWeights,
    /**
     * trainable: the weights are tf.Variables being trained (full fine-tuning, train/full-finetune.ts):
     * the token tables are TrainableTables and the head product passes gradients to its weight.
     */
    readonly options: { trainable?: boolean } = {},
  ) {}

  /** The output head (for losses fused with it; frozen heads only). */
  get head(): FrozenHead {
    return this.weights.lmHead;
  }

  /** Bytes held by the frozen base in backend memory (linear layers as stored, plus fp32 rest). */
  baseWeightBytes(): { linear: number; other: number } {
    const w = this.weights;
    let linear = 0;
    let other = w.embed.bytes + w.finalNorm.size * 4 + (w.lmHead === w.embed ? 0 : w.lmHead.bytes);
    for (const l of w.layers) {
      for (const t of layerSmallTensors(l)) other += t.size * 4;
      for (const m of LINEAR_MODULES) linear += l.linear[m].weightBytes;
    }
    return { linear, other };
  }

  /** Logits for every position: ids [B, T] int32 -> [B*T, V]. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return this.run(ids.shape[1], opts, (nc) => this.logitsFrom(this.hidden(this.embed(ids), opts, nc)));
  }

  /** The final normed hidden states [B*T, C] (apply `logitsFrom` to any rows of it). */
  forwardHidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return this.run(ids.shape[1], opts, (nc) => this.hidden(this.embed(ids), opts, nc));
  }

  /**
   * Like forwardHidden from input embeddings x [B, T, C] (already scaled, see `embed`), so prompt
   * tuning can put trained vectors before the embedded tokens.
   */
  forwardHiddenFromEmbeddings(x: tf.Tensor3D, opts: ForwardOptions = {}): tf.Tensor2D {
    return this.run(x.shape[1], opts, (nc) => this.hidden(x, opts, nc));
  }

  /** ids [B, T] -> embeddings [B, T, C], times the family's embedding scale. */
  embed(ids: tf.Tensor2D): tf.Tensor3D {
    const [B, T] = ids.shape;
    return tf.tidy(() => {
      const x = this.weights.embed.embed(ids.reshape([B * T])); // [B*T, C]
      const scaled = this.config.embedScale === 1 ? x : tf.mul(x, this.config.embedScale);
      return scaled.reshape([B, T, this.config.hiddenSize]) as tf.Tensor3D;
    });
  }

  /** Hidden rows h [N, C] -> logits [N, V], soft-capped when the family says so. */
  logitsFrom(h: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      // A trained head is one resident block; its product carries the weight's gradient (allLogits' does not).
      const out = this.options.trainable ? matMulBT(h, this.weights.lmHead.block(0).w) : allLogits(h, this.weights.lmHead); // [N, V]
      const cap = this.config.finalSoftcap;
      return cap ? (tf.mul(tf.tanh(tf.div(out, cap)), cap) as tf.Tensor2D) : out;
    });
  }

  /** Runs `body` in a tidy, then moves the layers' new keys/values (T more positions) into the cache. */
  private run(T: number, opts: ForwardOptions, body: (newCache: NewCache) => tf.Tensor2D): tf.Tensor2D {
    const { cache } = opts;
    const newCache: NewCache = [];
    const out = tf.tidy(() => {
      const y = body(newCache);
      for (const c of newCache) { tf.keep(c.k); tf.keep(c.v); }
      return y;
    });
    if (cache) {
      for (let i = 0; i < this.config.numLayers; i++) {
        cache.k[i]?.dispose();
        cache.v[i]?.dispose();
        cache.k[i] = newCache[i].k;
        cache.v[i] = newCache[i].v;
      }
      cache.length += T;
    }
    return out;
  }

  /** Embeddings x [B, T, C] -> final normed hidden states [B*T, C]. */
  private hidden(x3: tf.Tensor3D, opts: ForwardOptions, newCache: NewCache): tf.Tensor2D {
    const [B, T, C] = x3.shape;
    const ctx = this.layerContext(B, T, opts, newCache);
    let x = x3.reshape([B * T, C]) as tf.Tensor2D; // [B*T, C]
    for (let i = 0; i < this.config.numLayers; i++) x = this.layerForward(i, x, ctx);
    return this.finalNorm(x); // [B*T, C]
  }

  /** The final norm: residual stream x [N, C] -> h [N, C] (what the head multiplies). */
  finalNorm(x: tf.Tensor2D): tf.Tensor2D {
    return this.norm(x, this.weights.finalNorm);
  }

  /** The rope tables and masks one forward call shares across its layers (tensors belong to the caller's tidy, except cached ropes). */
  layerContext(B: number, T: number, opts: ForwardOptions, newCache: NewCache = []): LayerContext {
    const cfg = this.config;
    const { cache, packing, prefix } = opts;
    if (packing && cache) throw new Error('forward: packed rows cannot use a KV cache');
    if (packing && prefix) throw new Error('forward: packed rows cannot take a key/value prefix');
    const P = prefix?.length ?? 0;
    const past = P + (cache?.length ?? 0); // absolute position of the first new token
    const G = cfg.numHeads / cfg.numKvHeads;
    const kinds = [...new Set(cfg.layerTypes)];
    const rope = {} as Record<LayerType, Rope>;
    const mask: Partial<Record<LayerType, tf.Tensor>> = {};
    const maskSpec = {} as Record<LayerType, MaskRequest>;
    // Long sequences: blocked attention, O(T) memory and no dense [G*T, S] mask (~50 MB per layer kind at T = 2048).
    // On WebGPU flash attention also serves shorter rows where it was measured faster (gpu/attention-choice.ts).
    const blocked = fusedAttention() && (useBlockedAttention(T, past + T) || flashPreferred(T));
    // Training uses one fixed T; decoding walks positions, so bound what is cached (before this
    // call takes its tables, so none it holds is freed under it).
    if (this.ropeCache.size > 64) this.clearRopeCache();
    for (const kind of kinds) {
      rope[kind] = packing ? this.ropeAt(kind, packing.positions, B, T) : this.rope(kind, past, T);
      const window = kind === 'sliding' ? cfg.slidingWindow : null;
      maskSpec[kind] = packing ? { B, T, G, past: 0, window, packing } : { B, T, G, past, window };
      if (!blocked) mask[kind] = attentionMask(maskSpec[kind]);
    }
    return { B, T, rope, mask, maskSpec, lora: opts.lora ?? null, cache, newCache, prefix };
  }

  /**
   * One decoder layer: x [B*T, C] -> x [B*T, C]. Reads only its weights, `ctx` and (when cached)
   * layer i's cache entry, so it can be wrapped for recomputation. Its intermediates are freed as it
   * returns: under a tape the backward reads only what the ops saved, and a forward's tidy would
   * otherwise hold every layer's intermediates until the last layer is done (~3x what they save).
   */
  layerForward(i: number, x: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
    return tf.tidy(() => {
      const y = this.layerBody(i, x, ctx);
      const c = ctx.newCache[i];
      if (c) { tf.keep(c.k); tf.keep(c.v); } // the cache entry outlives the layer (run() moves it into the cache)
      return y;
    });
  }

  private layerBody(i: number, x: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
    const layer = this.weights.layers[i];
    if (this.config.sandwichNorms) {
      const attn = this.norm(this.attention(i, this.norm(x, layer.inputNorm), ctx), layer.postAttnNorm); // [B*T, C]
      x = addSame(x, attn);
      const m = this.mlp(i, this.norm(x, layer.preFfnNorm!), ctx.lora); // [B*T, C]
      return addSame(x, this.norm(m, layer.postFfnNorm!));
    }
    const { x1, a } = this.beforeDownProj(i, x, ctx);
    return addSame(x1, this.linear(i, 'down_proj', a, ctx.lora));
  }

  /** A layer without sandwich norms up to down_proj: x1 = x + attn(norm(x)) [B*T, C], a = the MLP activations of norm(x1) [B*T, I]. */
  private beforeDownProj(i: number, x: tf.Tensor2D, ctx: LayerContext): { x1: tf.Tensor2D; a: tf.Tensor2D } {
    const layer = this.weights.layers[i];
    const x1 = addSame(x, this.attention(i, this.norm(x, layer.inputNorm), ctx));
    return { x1, a: this.mlpActivations(i, this.norm(x1, layer.postAttnNorm), ctx.lora) };
  }

  /**
   * For a recomputed layer's backward (train/recompute.ts): a scalar whose gradient with respect to
   * x and the LoRA variables is layer i's vector-Jacobian product with dy [B*T, C], computed
   * without the layer's last product. y = x1 + down(a) with x1 = x + attn and a the MLP's
   * activations; down is linear in a, so Σ y⊙dy has the gradients of
   *   Σ x1⊙dy + Σ a⊙(dy·W_down) + Σ delta_down(a)⊙dy,
   * where dy·W_down is a constant (down's input gradient, one product instead of the forward's
   * product and then the same gradient). Only where `hasLayerVjp(i)`.
   */
  layerVjp(i: number, x: tf.Tensor2D, ctx: LayerContext, dy: tf.Tensor2D): tf.Scalar {
    if (!this.hasLayerVjp(i)) throw new Error(`layerVjp: layer ${i} has no vjp without its last product`);
    const { x1, a } = this.beforeDownProj(i, x, ctx);
    const da = this.weights.layers[i].linear.down_proj.inputGrad!(dy); // [B*T, I], constant: no path from the tape's sources
    let s = tf.add(dotWithConstant(x1, dy), dotWithConstant(a, da));
    const d = ctx.lora?.delta(i, 'down_proj', a); // [B*T, C]
    if (d) s = tf.add(s, dotWithConstant(d, dy));
    return s as tf.Scalar;
  }

  /** Whether layerVjp applies: sandwich norms normalise down's output; a trainable down_proj needs its own weight gradient. */
  hasLayerVjp(i: number): boolean {
    return !this.config.sandwichNorms && this.weights.layers[i].linear.down_proj.inputGrad != null;
  }

  /** RMSNorm over the last axis with this family's scale (w, or 1 + w). */
  private norm<T extends tf.Tensor>(x: T, w: tf.Tensor1D): T {
    return rmsNorm(x, w, this.config.rmsNormEps, this.config.normOffset);
  }

  private linear(layer: number, m: LinearModule, x: tf.Tensor2D, lora: LoraHook | null): tf.Tensor2D {
    const l = this.weights.layers[layer];
    let y = l.linear[m].apply(x); // [N, out]
    const b = l.bias[m];
    if (b) y = addBias(y, b);
    const d = lora?.delta(layer, m, x);
    return d ? addSame(y, d) : y;
  }

  private attention(i: number, h: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
    const cfg = this.config;
    const { numHeads: H, numKvHeads: K, headDim: D } = cfg;
    const { B, T, lora, cache } = ctx;
    const kind = cfg.layerTypes[i];
    const rope = ctx.rope[kind];
    const G = H / K;
    const layer = this.weights.layers[i];
    // The lean reshapes keep no projection alive: rope and the transpose copy what the backward needs.
    let q = reshapeLean<tf.Tensor4D>(this.linear(i, 'q_proj', h, lora), [B, T, H, D]); // [B, T, H, D]
    let k = reshapeLean<tf.Tensor4D>(this.linear(i, 'k_proj', h, lora), [B, T, K, D]); // [B, T, K, D]
    const v = reshapeLean<tf.Tensor4D>(this.linear(i, 'v_proj', h, lora), [B, T, K, D]);
    if (cfg.qkNorm) {
      q = this.norm(q, layer.qNorm!); // per head, over D
      k = this.norm(k, layer.kNorm!);
    }
    const qr = applyRopeHeadsFirst(q, rope); // [B, H, T, D]
    let kr = applyRopeHeadsFirst(k, rope); // [B, K, T, D]
    let vr = v.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, K, T, D]
    if (cache) {
      const pk = cache.k[i];
      const pv = cache.v[i];
      if (pk && pv) {
        kr = tf.concat([pk, kr], 2) as tf.Tensor4D; // [B, K, S, D]
        vr = tf.concat([pv, vr], 2) as tf.Tensor4D;
      }
      ctx.newCache[i] = { k: kr, v: vr };
    }
    if (ctx.prefix) {
      const p = ctx.prefix.kv(i); // [1 | B, K, P, D]
      const [pb] = p.k.shape;
      const pk = pb === B ? p.k : tf.tile(p.k, [B, 1, 1, 1]);
      const pv = pb === B ? p.v : tf.tile(p.v, [B, 1, 1, 1]);
      kr = tf.concat([pk, kr], 2) as tf.Tensor4D; // [B, K, P+S, D]
      vr = tf.concat([pv, vr], 2) as tf.Tensor4D;
    }
    // GQA without copying K/V: the G query heads sharing kv head k (heads k*G .. k*G+G-1) are
    // stacked along time, so one batched matmul per kv head serves them all.
    const qg = qr.reshape([B, K, G * T, D]); // [B, K, G*T, D]
    // softmax(q·kᵀ·scale (soft-capped) + mask)·v, keeping only q, k, v for the backward (attention-core.ts),
    // or for long sequences in blocks of keys with an online softmax (blocked-attention.ts; on WebGPU
    // the same scheme as WGSL kernels, flash-attention.ts).
    const dense = ctx.mask[kind];
    const opts = { scale: cfg.queryScale, softcap: cfg.attnSoftcap };
    const blocked = flashAttentionActive() ? flashAttention : blockedAttention;
    const core = dense ? attentionCore(qg as tf.Tensor4D, kr, vr, dense, opts) : blocked(qg as tf.Tensor4D, kr, vr, ctx.maskSpec[kind], opts); // [B, K, G*T, D]
    const heads = reshapeLean(core, [B, H, T, D]).transpose([0, 2, 1, 3]); // [B, T, H, D]
    const o = reshapeLean<tf.Tensor2D>(heads, [B * T, H * D]); // [B*T, H*D]
    return this.linear(i, 'o_proj', o, lora); // [B*T, C]
  }

  private mlp(i: number, h: tf.Tensor2D, lora: LoraHook | null): tf.Tensor2D {
    return this.linear(i, 'down_proj', this.mlpActivations(i, h, lora), lora); // [N, C]
  }

  /** What down_proj multiplies: act(gate(h)) * up(h), h [N, C] -> [N, I]. */
  private mlpActivations(i: number, h: tf.Tensor2D, lora: LoraHook | null): tf.Tensor2D {
    const gate = this.linear(i, 'gate_proj', h, lora); // [N, I]
    const up = this.linear(i, 'up_proj', h, lora); // [N, I]
    return gatedActivation(gate, up, this.config.activation); // [N, I]
  }

  /** cos/sin [1, T, 1, D] for positions past..past+T-1 of one layer kind. */
  private rope(kind: LayerType, past: number, T: number): Rope {
    const key = `${kind}:${past}:${T}`;
    let r = this.ropeCache.get(key);
    if (!r || r.cos.isDisposed || r.sin.isDisposed) { // a step that threw frees what it kept (train/free-on-throw.ts)
      const D = this.config.headDim;
      const { cos, sin } = ropeTable(Array.from({ length: T }, (_, t) => past + t), this.config.rope[kind], D);
      r = { cos: tf.keep(tf.tensor4d(cos, [1, T, 1, D])), sin: tf.keep(tf.tensor4d(sin, [1, T, 1, D])) };
      this.ropeCache.set(key, r);
    }
    return r;
  }

  /** cos/sin [B, T, 1, D] for explicit per-token positions (packed rows restart at 0 per example). */
  private ropeAt(kind: LayerType, positions: Int32Array, B: number, T: number): Rope {
    const D = this.config.headDim;
    const { cos, sin } = ropeTable(positions, this.config.rope[kind], D);
    return { cos: tf.tensor4d(cos, [B, T, 1, D]), sin: tf.tensor4d(sin, [B, T, 1, D]) };
  }

  /** Tensors the model keeps between calls in its rope-table cache (for leak checks: the cache is bounded, not a leak). */
  cachedTensorCount(): number {
    let n = 0;
    for (const r of this.ropeCache.values()) n += (r.cos.isDisposed ? 0 : 1) + (r.sin.isDisposed ? 0 : 1);
    return n;
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
      for (const t of layerSmallTensors(l)) t.dispose();
      for (const m of LINEAR_MODULES) l.linear[m].dispose();
    }
  }
}

/** Another name for the same decoder, for code that is not about Llama. */
export { LlamaModel as DecoderModel };

/** A layer's norms and biases (everything but the linear weights). */
export function layerSmallTensors(l: LayerWeights): tf.Tensor1D[] {
  const out = [l.inputNorm, l.postAttnNorm, l.preFfnNorm, l.postFfnNorm, l.qNorm, l.kNorm, ...Object.values(l.bias)];
  return out.filter((t): t is tf.Tensor1D => t != null);
}

/** x [..., C] -> x / rms(x) * (offset + w), over the last axis (one WebGPU dispatch each way, fused.ts). */
export function rmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor1D, eps: number, offset = 0): T {
  return fusedRmsNorm(x, w, eps, offset);
}

/**
 * Σ x⊙c for a constant c (no gradient), whose gradient x̄ = ḡ·c keeps only c: tf.mul would also
 * save x (an [N, I] activation per recomputed layer that nothing else keeps).
 */
function dotWithConstant(x: tf.Tensor, c: tf.Tensor): tf.Scalar {
  const f = tf.customGrad((xi, save) => {
    (save as tf.GradSaveFunc)([c]);
    return {
      value: tf.sum(tf.mul(xi as tf.Tensor, c)),
      gradFunc: (g, saved) => tf.mul(saved[0], g as tf.Tensor),
    };
  }) as (x: tf.Tensor) => tf.Scalar;
  return f(x);
}
