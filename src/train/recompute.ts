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
 * (it must consume the same random draws, in the same order, as fn). A stack of one block.
 */
export function recomputed(fn: (x: tf.Tensor2D) => tf.Tensor2D, vars: tf.Variable[], random?: ReplayableRandom, vjp?: VjpObjective): (x: tf.Tensor2D) => tf.Tensor2D {
  return recomputedStack([{ fn, vars, vjp }], random);
}

/** One block of a recomputed stack: its function, the variables it reads, and optionally a cheaper vjp. */
export interface RecomputedBlock {
  fn: (x: tf.Tensor2D) => tf.Tensor2D;
  vars: tf.Variable[];
  vjp?: VjpObjective;
}

/**
 * Consecutive blocks recomputed as one node of the outer tape: the forward keeps each block's
 * input (as a chain of recomputed() would), and the backward walks the blocks in reverse, freeing
 * each block's saved input and the gradient flowing into it as soon as that block is done. A chain
 * of recomputed() nodes cannot: tfjs keeps every node's saved tensors and every intermediate
 * gradient until the whole backward ends, so at the last block of a 30-layer chain the 30 inputs
 * and 30 output gradients ([B*T, C] each, 4.7 MB at SmolLM2-135M x 2,048 tokens) were all alive.
 * Gradients equal the chain's bit for bit (the same inner passes in the same order).
 */
export function recomputedStack(blocks: RecomputedBlock[], random?: ReplayableRandom): (x: tf.Tensor2D) => tf.Tensor2D {
  const engine = tf.engine() as unknown as EngineTapeState & { isTapeOn(): boolean };
  const allVars = blocks.flatMap((b) => b.vars);
  const plain = (x: tf.Tensor2D) => blocks.reduce((h, b) => b.fn(h), x);
  const f = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs: tf.Tensor2D[] = [args[0] as tf.Tensor2D]; // block i's input
    const seeds: (number | undefined)[] = [];
    for (const b of blocks) {
      seeds.push(random?.get());
      const x = inputs[inputs.length - 1];
      inputs.push(tf.tidy(() => b.fn(x))); // nothing fn does is recorded; its temporaries go now
    }
    const value = inputs.pop()!;
    save(inputs);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const seedAfter = random?.get();
        const outer = engine.state.activeTape;
        const varGrads: tf.Tensor[][] = [];
        let g = dy as tf.Tensor2D;
        try {
          for (let i = blocks.length - 1; i >= 0; i--) {
            const b = blocks[i];
            const seed = seeds[i];
            if (random && seed !== undefined) random.set(seed);
            const x0 = saved[i] as tf.Tensor2D;
            const xs = [x0, ...b.vars];
            const dyi = g;
            let res: { value: tf.Tensor; grads: tf.Tensor[] };
            try {
              res = b.vjp ? engine.gradients(() => b.vjp!(x0, dyi), xs, undefined, true) : engine.gradients(() => b.fn(x0), xs, dyi, true);
            } finally {
              engine.state.activeTape = outer;
            }
            res.value.dispose();
            const grads = res.grads.map((t, j) => t ?? tf.zerosLike(xs[j]));
            varGrads[i] = grads.slice(1);
            if (g !== dy) g.dispose(); // the gradient into block i + 1's input: used up
            x0.dispose(); // block i's saved input: not needed again (the engine's later dispose is a no-op)
            g = grads[0] as tf.Tensor2D;
          }
        } finally {
          if (random && seedAfter !== undefined) random.set(seedAfter);
        }
        return [g, ...varGrads.flat()];
      },
    };
  }) as unknown as (x: tf.Tensor2D, ...vars: tf.Variable[]) => tf.Tensor2D;
  return (x) => (engine.isTapeOn() ? f(x, ...allVars) : plain(x));
}
