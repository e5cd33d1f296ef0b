// Activation recomputation (gradient checkpointing) for one block of the network: the forward
// keeps only the block's input x; the backward runs the block again under its own tape and takes
// the gradients of x and of the block's trainable variables from it. A decoder layer then keeps
// B*T*C floats alive between forward and backward instead of every intermediate (~20x that).
//
// tfjs has no nested tapes by design: engine.gradients() called while an outer backward runs
// replaces the engine's active tape and clears it when done, so the outer pass would then fail
// to free its saved tensors. recomputed() puts the outer tape back after the inner pass.
import * as tf from '@tensorflow/tfjs';

/** Random state the block consumes (LoRA dropout), replayed so the recomputation draws the same masks. */
export interface ReplayableRandom {
  get(): number;
  set(seed: number): void;
}

interface EngineTapeState {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
}

let skipLastProduct = true;
/** Benchmarks and tests: false makes recomputed decoder layers run their whole forward again in the backward (the path before layerVjp). */
export function setRecomputeSkipsLastProduct(on: boolean): void {
  skipLastProduct = on;
}
export function recomputeSkipsLastProduct(): boolean {
  return skipLastProduct;
}

/**
 * A cheaper stand-in for the recomputed forward in the backward: a scalar whose gradient with
 * respect to x and the variables equals fn's vector-Jacobian product with dy (e.g. a decoder layer
 * that skips its last product, LlamaModel.layerVjp).
 */
export type VjpObjective = (x: tf.Tensor2D, dy: tf.Tensor2D) => tf.Scalar;

/**
 * fn wrapped so that, under a tape, it saves only x and recomputes itself in the backward pass.
 * `vars` are the trainable variables fn reads (their gradients are returned to the outer tape);
 * without a tape it is fn itself. With `vjp`, the backward takes its gradients from that instead
 * (it must consume the same random draws, in the same order, as fn).
 */
export function recomputed(fn: (x: tf.Tensor2D) => tf.Tensor2D, vars: tf.Variable[], random?: ReplayableRandom, vjp?: VjpObjective): (x: tf.Tensor2D) => tf.Tensor2D {
  const engine = tf.engine() as unknown as EngineTapeState & { isTapeOn(): boolean };
  const f = tf.customGrad((...args: unknown[]) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const seedBefore = random?.get();
    const value = fn(x); // inside a kernel: nothing fn does is recorded or saved
    save([x]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const seedAfter = random?.get();
        if (random && seedBefore !== undefined) random.set(seedBefore);
        const outer = engine.state.activeTape;
        const xs = [saved[0], ...vars];
        let res: { value: tf.Tensor; grads: tf.Tensor[] };
        try {
          const x0 = saved[0] as tf.Tensor2D;
          res = vjp ? engine.gradients(() => vjp(x0, dy as tf.Tensor2D), xs, undefined, true) : engine.gradients(() => fn(x0), xs, dy as tf.Tensor, true);
        } finally {
          engine.state.activeTape = outer;
          if (random && seedAfter !== undefined) random.set(seedAfter);
        }
        res.value.dispose();
        return res.grads.map((g, i) => g ?? tf.zerosLike(xs[i]));
      },
    };
  }) as unknown as (x: tf.Tensor2D, ...vars: tf.Variable[]) => tf.Tensor2D;
  return (x) => (engine.isTapeOn() ? f(x, ...vars) : fn(x));
}
