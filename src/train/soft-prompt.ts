// Trainable soft prompts: one tfjs variable, PEFT's prompt_embeddings [N, W]. Prompt tuning puts its
// N rows before the embedded tokens (positions 0..N-1, the tokens follow at N..); prefix tuning
// reshapes its row of each virtual token into per-layer keys and values that every layer attends to
// first, like a KV cache already holding N tokens (keys used as stored, as a cache holds post-RoPE
// keys; the tokens' positions start at N). Both leave every base weight untouched.
import * as tf from '@tensorflow/tfjs';
import { variableFrom } from './variables';
import type { KvPrefix, LlamaModel, Packing } from '../model/llama';
import type { ModelConfig } from '../model/config';
import { seededRandom } from '../util/random';
import { softPromptWidth, type SoftPromptSpec, type SoftPromptWeights } from '../adapters/soft-prompt-types';
import type { SoftPromptHook } from '../model/generate';

let instances = 0;

/** N(0, 1) values (nn.Embedding's default init, which PEFT's RANDOM keeps), by Box-Muller from a seeded uniform. */
function normalValues(n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(random(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * random();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

export class SoftPromptAdapter {
  readonly weight: tf.Variable<tf.Rank.R2>; // [N, W]
  /** No dropout on soft prompts; kept so the trainer treats every adapter alike. */
  training = false;
  readonly dropoutSeed = 0;

  private constructor(
    readonly config: ModelConfig,
    readonly spec: SoftPromptSpec,
    values: Float32Array,
  ) {
    const W = softPromptWidth(config, spec.kind);
    if (values.length !== spec.numVirtualTokens * W) throw new Error(`soft prompt: expected ${spec.numVirtualTokens} x ${W} values, got ${values.length}`);
    this.weight = variableFrom(tf.tensor2d(values, [spec.numVirtualTokens, W]), `softprompt${instances++}`);
  }

  /**
   * A fresh soft prompt. 'random': N(0, 1) from `seed`. 'text' (prompt tuning): the base's embeddings of
   * `initIds` (the tokenized initText), repeated and cut to N rows, as PEFT's TEXT init does.
   */
  static create(model: LlamaModel, spec: SoftPromptSpec, seed: number, initIds?: number[]): SoftPromptAdapter {
    const N = spec.numVirtualTokens;
    if (!Number.isInteger(N) || N < 1) throw new Error(`soft prompt: the number of virtual tokens must be a positive integer, got ${N}`);
    if (spec.init === 'text') {
      if (spec.kind !== 'prompt-tuning') throw new Error('soft prompt: text initialisation applies to prompt tuning only (as in PEFT)');
      if (!initIds || initIds.length === 0) throw new Error('soft prompt: text initialisation needs the tokens of a non-empty text');
      const ids = Array.from({ length: N }, (_, i) => initIds[i % initIds.length]);
      const rows = tf.tidy(() => model.embed(tf.tensor2d(ids, [1, N], 'int32')).reshape([N, model.config.hiddenSize]));
      const values = rows.dataSync() as Float32Array;
      rows.dispose();
      return new SoftPromptAdapter(model.config, spec, values);
    }
    return new SoftPromptAdapter(model.config, spec, normalValues(N * softPromptWidth(model.config, spec.kind), seed));
  }

  static fromWeights(config: ModelConfig, spec: SoftPromptSpec, w: SoftPromptWeights): SoftPromptAdapter {
    return new SoftPromptAdapter(config, spec, w.values);
  }

  /** Prefix tuning: layer i's keys and values [1, K, N, D] cut from the one matrix. */
  kvPrefix(): KvPrefix | undefined {
    if (this.spec.kind !== 'prefix-tuning') return undefined;
    const { numLayers: L, numKvHeads: K, headDim: D } = this.config;
    const N = this.spec.numVirtualTokens;
    return {
      length: N,
      kv: (i) => {
        const layer = this.weight.reshape([N, L * 2, K, D]).slice([0, 2 * i, 0, 0], [N, 2, K, D]); // [N, 2, K, D]
        const kv = layer.transpose([1, 2, 0, 3]); // [2, K, N, D]
        const [k, v] = tf.split(kv, 2, 0); // [1, K, N, D] each
        return { k: k as tf.Tensor4D, v: v as tf.Tensor4D };
      },
    };
  }

  /** What generation needs to apply this soft prompt. */
  hook(): SoftPromptHook {
    return this.spec.kind === 'prompt-tuning' ? { length: this.spec.numVirtualTokens, embeddings: () => this.weight } : { length: this.spec.numVirtualTokens, prefix: this.kvPrefix() };
  }

  /** ids [B, T] -> logits [B*T, V] of the tuned model, one row per input token (virtual tokens left out). */
  logits(model: LlamaModel, ids: tf.Tensor2D, packing?: Packing): tf.Tensor2D {
    if (packing) throw new Error('Soft prompts go before one example: turn packing off for prompt or prefix tuning.');
    if (this.spec.kind === 'prefix-tuning') return model.forward(ids, { prefix: this.kvPrefix() });
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const N = this.spec.numVirtualTokens;
      const C = model.config.hiddenSize;
      const virtual = tf.tile(this.weight.expandDims(0), [B, 1, 1]); // [B, N, C]
      const x = tf.concat([virtual, model.embed(ids)], 1) as tf.Tensor3D; // [B, N+T, C]
      const h = model.forwardHiddenFromEmbeddings(x).reshape([B, N + T, C]).slice([0, N, 0], [B, T, C]).reshape([B * T, C]) as tf.Tensor2D; // [B*T, C]
      return model.logitsFrom(h); // [B*T, V]
    });
  }

  setDropoutSeed(_seed: number): void {}

  variables(): tf.Variable[] {
    return [this.weight];
  }

  parameterCount(): number {
    return this.weight.size;
  }

  async toWeights(): Promise<SoftPromptWeights> {
    return { values: (await this.weight.data()) as Float32Array };
  }

  assignWeights(w: SoftPromptWeights): void {
    if (w.values.length !== this.weight.size) throw new Error(`assignWeights: expected ${this.weight.shape.join('x')} soft-prompt values, got ${w.values.length}`);
    tf.tidy(() => this.weight.assign(tf.tensor2d(w.values, this.weight.shape)));
  }

  dispose(): void {
    this.weight.dispose();
  }
}
