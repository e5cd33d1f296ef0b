// Picking the next token from logits: greedy (argmax, lowest id on ties, as the references do) or
// temperature / top-p sampling from a seeded generator so a run can be repeated exactly.

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export interface SamplingOptions {
  /** 0 or undefined means greedy. */
  temperature?: number;
  /** Nucleus sampling mass; 1 disables it. */
  topP?: number;
}

export function sampleToken(logits: Float32Array, opts: SamplingOptions, random: () => number): number {
  const temp = opts.temperature ?? 0;
  if (!(temp > 0)) return argmax(logits);
  let max = -Infinity;
  for (const l of logits) if (l > max) max = l;
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp((logits[i] - max) / temp);
  const topP = opts.topP ?? 1;
  if (!(topP < 1)) {
    // The whole distribution: one draw walked in id order. No sort (sorting 49,152 ids took ~18 ms
    // a token, half of a decode step at 135M).
    let r = random() * sum;
    for (let i = 0; i < probs.length; i++) {
      r -= probs[i];
      if (r <= 0) return i;
    }
    for (let i = probs.length - 1; i >= 0; i--) if (probs[i] > 0) return i; // rounding left r > 0
    return probs.length - 1;
  }
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  let kept = 0;
  let mass = 0;
  for (const i of order) {
    mass += probs[i] / sum;
    kept++;
    if (mass >= topP) break;
  }
  const keptMass = order.slice(0, kept).reduce((a, i) => a + probs[i], 0);
  let r = random() * keptMass;
  for (let j = 0; j < kept; j++) {
    r -= probs[order[j]];
    if (r <= 0) return order[j];
  }
  return order[kept - 1];
}
