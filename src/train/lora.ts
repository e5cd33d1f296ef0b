// Trainable LoRA adapters as tfjs variables: for every targeted (layer, module) an A [R, in] and a
// B [out, R], with PEFT's initialisation (A Kaiming-uniform with a = sqrt(5), B zeros), so the
// adapted model starts exactly equal to the base. Implements the forward pass's LoraHook.
import * as tf from '@tensorflow/tfjs';
import { variableFrom } from './variables';
import { matMulBT } from '../model/matmul';
import { type LlamaConfig, type LinearModule, linearShape } from '../model/config';
import { type LoraHook } from '../model/llama';
import { seededRandom } from '../util/random';
import { type LoraSpec, type LoraWeights, loraScale } from '../adapters/lora-types';

interface Pair {
  layer: number;
  module: LinearModule;
  A: tf.Variable<tf.Rank.R2>; // [R, in]
  B: tf.Variable<tf.Rank.R2>; // [out, R]
}

/** tfjs variable names are global: each adapter gets its own prefix. */
let instances = 0;

export class LoraAdapter implements LoraHook {
  private readonly pairs = new Map<string, Pair>();
  readonly scale: number;
  /** When true, dropout is applied on the LoRA input (training); false for evaluation and generation. */
  training = false;
  /**
   * Adapter strength: a multiplier on the update (0 = the base model exactly, 1 = the adapter as
   * trained, above 1 = exaggerated), for the Evaluate view's slider. Never saved: exports use scale.
   */
  strength = 1;
  private dropoutCounter = 0;
  private readonly prefix = `lora${instances++}`;

  private constructor(
    readonly config: LlamaConfig,
    readonly spec: LoraSpec,
  ) {
    this.scale = loraScale(spec);
  }

  /** Fresh adapter with PEFT's initialisation; `seed` fixes A. */
  static create(config: LlamaConfig, spec: LoraSpec, seed: number): LoraAdapter {
    const a = new LoraAdapter(config, spec);
    const random = seededRandom(seed);
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const module of spec.targetModules) {
        const { out, in: inF } = linearShape(config, module);
        // kaiming_uniform_(a=sqrt(5)) on [R, in]: bound = sqrt(6 / ((1 + 5) * in)) = 1 / sqrt(in).
        const bound = 1 / Math.sqrt(inF);
        const A = new Float32Array(spec.r * inF);
        for (let i = 0; i < A.length; i++) A[i] = (2 * random() - 1) * bound;
        a.add(layer, module, A, new Float32Array(out * spec.r));
      }
    }
    return a;
  }

  static fromWeights(config: LlamaConfig, spec: LoraSpec, weights: LoraWeights): LoraAdapter {
    const a = new LoraAdapter(config, spec);
    for (const w of weights.layers) a.add(w.layer, w.module, w.A, w.B);
    return a;
  }

  private add(layer: number, module: LinearModule, A: Float32Array, B: Float32Array): void {
    const { out, in: inF } = linearShape(this.config, module);
    const name = `${this.prefix}.${layer}.${module}`;
    this.pairs.set(`${layer}.${module}`, {
      layer,
      module,
      A: variableFrom(tf.tensor2d(A, [this.spec.r, inF]), `${name}.A`),
      B: variableFrom(tf.tensor2d(B, [out, this.spec.r]), `${name}.B`),
    });
  }

  delta(layer: number, module: LinearModule, x: tf.Tensor2D): tf.Tensor2D | null {
    const p = this.pairs.get(`${layer}.${module}`);
    if (!p || this.strength === 0) return null;
    const xin = this.training && this.spec.dropout > 0 ? tf.dropout(x, this.spec.dropout, undefined, this.dropoutCounter++) : x;
    const down = matMulBT(xin as tf.Tensor2D, p.A); // [N, R]
    // The scale multiplies the narrow [N, R] product, not the [N, out] one: the tape then saves an
    // [N, R] tensor for it instead of an [N, out] one, per adapted projection.
    const scale = this.strength === 1 ? this.scale : this.scale * this.strength;
    return matMulBT(tf.mul(down, scale) as tf.Tensor2D, p.B); // [N, out]
  }

  /** Seeds the dropout masks so a resumed run draws the same masks. */
  setDropoutSeed(seed: number): void {
    this.dropoutCounter = seed;
  }

  /** The seed the next dropout mask will use (it moves by one per mask): checkpoints save it. */
  get dropoutSeed(): number {
    return this.dropoutCounter;
  }

  /** Overwrites A and B from `weights` (same targets and shapes as this adapter): restoring a checkpoint. */
  assignWeights(weights: LoraWeights): void {
    for (const w of weights.layers) {
      const p = this.pairs.get(`${w.layer}.${w.module}`);
      if (!p) throw new Error(`assignWeights: layer ${w.layer} ${w.module} has no adapter here (targets ${this.spec.targetModules.join(', ')})`);
      if (w.A.length !== p.A.size || w.B.length !== p.B.size) throw new Error(`assignWeights: layer ${w.layer} ${w.module}: expected A ${p.A.shape.join('x')} and B ${p.B.shape.join('x')}, got ${w.A.length} and ${w.B.length} values`);
      tf.tidy(() => {
        p.A.assign(tf.tensor2d(w.A, p.A.shape));
        p.B.assign(tf.tensor2d(w.B, p.B.shape));
      });
    }
  }

  variables(): tf.Variable[] {
    return [...this.pairs.values()].flatMap((p) => [p.A, p.B]);
  }

  /** The variables one decoder layer reads (for recomputing that layer's gradient). */
  layerVariables(layer: number): tf.Variable[] {
    return [...this.pairs.values()].filter((p) => p.layer === layer).flatMap((p) => [p.A, p.B]);
  }

  parameterCount(): number {
    return this.variables().reduce((a, v) => a + v.size, 0);
  }

  async toWeights(): Promise<LoraWeights> {
    const layers = [];
    for (const p of this.pairs.values()) {
      layers.push({
        layer: p.layer,
        module: p.module,
        inFeatures: p.A.shape[1],
        outFeatures: p.B.shape[0],
        A: (await p.A.data()) as Float32Array,
        B: (await p.B.data()) as Float32Array,
      });
    }
    return { layers };
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
    this.pairs.clear();
  }
}
