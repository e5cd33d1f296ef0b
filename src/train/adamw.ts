// AdamW with decoupled weight decay (Loshchilov & Hutter), in PyTorch's order: decay the weights,
// then the bias-corrected Adam step. `adamwReference` is the pure specification on plain arrays;
// `AdamW` applies the same arithmetic to tfjs variables and is tested against it.
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate } from '../model/fused';

export interface AdamWParams {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWParams = {
  beta1: 0.9, // momentum of the gradient mean
  beta2: 0.999, // momentum of the squared gradient
  eps: 1e-8, // keeps the step finite where the second moment is ~0
  weightDecay: 0.0, // PEFT/TRL default for LoRA; decoupled from the gradient
};

/** One AdamW step on plain arrays (mutates p, m, v). step counts from 1. */
export function adamwReference(p: Float64Array | Float32Array, g: ArrayLike<number>, m: Float64Array | Float32Array, v: Float64Array | Float32Array, step: number, lr: number, hp: AdamWParams): void {
  const bc1 = 1 - hp.beta1 ** step;
  const bc2 = 1 - hp.beta2 ** step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * hp.weightDecay;
    m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * g[i];
    v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * g[i] * g[i];
    p[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + hp.eps);
  }
}

export class AdamW {
  /** First and second moments, one pair per variable, in the order of `vars`. */
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  step = 0;

  constructor(
    private readonly vars: tf.Variable[],
    readonly hp: AdamWParams = DEFAULT_ADAMW,
  ) {
    // tf.variable shares its initial tensor's buffer; disposing that tensor leaves the variable the only owner.
    const zeros = (x: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(x), false));
    this.m = vars.map(zeros);
    this.v = vars.map(zeros);
  }

  /** Applies one step with gradients in the order of `vars`. */
  apply(grads: tf.Tensor[], lr: number): void {
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.hp;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      // weightDecay 0 leaves p undecayed (decay exactly 1), as the composition always did.
      const step = { beta1, beta2, eps, decay: weightDecay > 0 ? 1 - lr * weightDecay : 1, lrOverBc1: lr / bc1, bc2 };
      this.vars.forEach((p, i) => {
        const next = adamwUpdate(p, grads[i], this.m[i], this.v[i], step); // tf ops, or 3 fused dispatches on WebGPU
        this.m[i].assign(next.m);
        this.v[i].assign(next.v);
        p.assign(next.p);
      });
    });
  }

  /** Moments as plain arrays (checkpoints). */
  async state(): Promise<{ step: number; m: Float32Array[]; v: Float32Array[] }> {
    return {
      step: this.step,
      m: await Promise.all(this.m.map(async (t) => (await t.data()) as Float32Array)),
      v: await Promise.all(this.v.map(async (t) => (await t.data()) as Float32Array)),
    };
  }

  restore(s: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    this.step = s.step;
    tf.tidy(() => {
      this.m.forEach((t, i) => t.assign(tf.tensor(s.m[i], t.shape)));
      this.v.forEach((t, i) => t.assign(tf.tensor(s.v[i], t.shape)));
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
