// tf.variableGrads without tfjs's hoarding: tfjs's backward (tape.ts backpropagateGradients) keeps
// every node's saved tensors and every intermediate gradient until the whole backward ends, so a
// step's peak is all the layers' saves plus a gradient for each of their intermediates. Here each
// tape node's saves and the gradients of its outputs are freed as soon as that node is done (the
// tape is walked in reverse, so every consumer of an output has already added its part), as
// PyTorch's autograd frees a graph while it walks it. Peak: the saves still ahead plus one
// layer's gradients in flight.
//
// It reads tfjs-core 4.x's engine internals (scopedRun, startTape/endTape, state.activeTape, the
// tape node's inputs/outputs/saved/gradient), the same ones engine.gradients() uses; the tests
// check its gradients against tf.variableGrads, so a tfjs upgrade that moves them fails there.
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface TapeEngine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/** The nodes on a path from some x to y, each with only the inputs that depend on an x (tfjs's getFilteredNodesXToY). */
export function nodesFromXToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * The gradients of y with respect to xs, freeing as the walk goes. `grads[x.id]` starts as dy for
 * y; every other entry is owned here: a gradient tensor can sit under several ids (a gradient
 * function may hand back dy itself), so it is disposed only when no entry and no x holds it.
 */
function backpropagateFreeing(nodes: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor, dy: tf.Tensor): (tf.Tensor | undefined)[] {
  const keepIds = new Set<number>(xs.map((x) => x.id));
  const grads = new Map<number, tf.Tensor>([[y.id, dy]]);
  const holders = new Map<tf.Tensor, number>([[dy, 1]]);
  const hold = (t: tf.Tensor) => holders.set(t, (holders.get(t) ?? 0) + 1);
  const release = (t: tf.Tensor) => {
    const n = (holders.get(t) ?? 1) - 1;
    if (n > 0) holders.set(t, n);
    else {
      holders.delete(t);
      t.dispose();
    }
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    const names = Object.keys(node.inputs);
    // One tidy around the node's whole gradient: a custom gradient (tf.customGrad) computes when
    // called, not in its per-input closures, so its intermediates would otherwise outlive the walk.
    const dxs = tf.tidy(() => {
      const inputGrads = node.gradient!(dys);
      return names.map((name) => {
        if (!(name in inputGrads)) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        return inputGrads[name]();
      });
    });
    for (let k = 0; k < names.length; k++) {
      const name = names[k];
      const x = node.inputs[name];
      const dx = dxs[k];
      if (dx.dtype !== 'float32') throw new Error(`The gradient of ${node.kernelName}'s input ${name} must be float32, found ${dx.dtype}`);
      if (dx.shape.length !== x.shape.length || dx.shape.some((d, k) => d !== x.shape[k])) {
        throw new Error(`The gradient of ${node.kernelName}'s input ${name} has shape [${dx.shape}], its input [${x.shape}]`);
      }
      const cur = grads.get(x.id);
      if (cur == null) {
        grads.set(x.id, dx);
        hold(dx);
      } else {
        const sum = tf.add(cur, dx);
        grads.set(x.id, sum);
        hold(sum);
        release(cur);
        if (!holders.has(dx)) dx.dispose(); // a fresh dx no entry holds
      }
    }
    // Every consumer of this node's outputs came later on the tape and is done: their gradients and
    // this node's saves are spent (an x keeps its gradient for the caller).
    for (const o of node.outputs) {
      const g = grads.get(o.id);
      if (g == null || keepIds.has(o.id)) continue;
      grads.delete(o.id);
      release(g);
    }
    for (const t of node.saved ?? []) t.dispose();
  }
  return xs.map((x) => grads.get(x.id));
}

/** Like tf.variableGrads(f, vars) (trainable variables only), with the tape freed as the backward walks it. */
export function leanVariableGrads(f: () => tf.Scalar, vars: readonly tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as TapeEngine;
  if (engine.state.gradientDepth !== 0) return tf.variableGrads(f, [...vars]); // higher-order: leave the tape to tfjs
  const xs = vars.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error('leanVariableGrads: none of the variables is trainable');
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  const tape = engine.state.activeTape ?? [];
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error(`leanVariableGrads: f must return a scalar, found ${y instanceof tf.Tensor ? `rank ${y.rank}` : typeof y}`);
    const nodes = nodesFromXToY(tape, xs, y);
    const grads = engine.tidy('backward', () => {
      const gs = backpropagateFreeing(nodes, xs, y, tf.onesLike(y));
      const out: tf.NamedTensorMap = {};
      xs.forEach((v, i) => { const g = gs[i]; if (g) out[v.name] = g; });
      return out;
    });
    if (Object.keys(grads).length === 0) throw new Error('leanVariableGrads: no variable leads to the loss; the operations that read them must run inside f');
    return { value: y, grads };
  } catch (e) {
    y.dispose();
    throw e;
  } finally {
    for (const node of tape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
    if (engine.state.activeTape === tape) engine.state.activeTape = null;
  }
}
