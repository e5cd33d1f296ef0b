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
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  const topP = opts.topP ?? 1;
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
