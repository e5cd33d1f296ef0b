// Base + LoRA merged into plain weights: W' = W + scale · B · A, computed in float32 one targeted
// weight at a time as the exporter reads it (W [out, in], B [out, R], A [R, in]). The merged
// tensors feed any writer (Hugging Face folder, GGUF). Checks first that the adapter fits the base.
import { linearKey } from '../model/config';
import { type LoraLayerWeights, type LoraSpec, type LoraWeights, loraScale } from '../adapters/lora-types';
import { ExportInputError, type SourceTensor } from './model-tensors';

/** Throws ExportInputError naming the first LoRA pair whose base weight is absent or of another shape. */
export function checkAdapterFitsBase(tensors: SourceTensor[], spec: LoraSpec, weights: LoraWeights): Map<string, LoraLayerWeights> {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const pairs = new Map<string, LoraLayerWeights>();
  for (const w of weights.layers) {
    const key = linearKey(w.layer, w.module);
    const base = byName.get(key);
    if (!base) throw new ExportInputError(`The adapter has ${w.module} in layer ${w.layer}, but the base model has no tensor "${key}": the adapter was trained on another model`);
    const [out, inF] = base.shape;
    if (base.shape.length !== 2 || out !== w.outFeatures || inF !== w.inFeatures) {
      throw new ExportInputError(`The adapter's ${w.module} in layer ${w.layer} is [${w.outFeatures} out, ${w.inFeatures} in] but "${key}" in the base is [${base.shape}]: the adapter was trained on another model`);
    }
    if (w.A.length !== spec.r * w.inFeatures || w.B.length !== w.outFeatures * spec.r) throw new ExportInputError(`The adapter's ${w.module} in layer ${w.layer} does not hold rank-${spec.r} matrices`);
    if (pairs.has(key)) throw new ExportInputError(`The adapter has ${w.module} in layer ${w.layer} twice`);
    pairs.set(key, w);
  }
  return pairs;
}

/** W + scale · B · A in float32 (W [out, in] row-major, modified in place and returned). */
export function mergeInto(W: Float32Array, pair: LoraLayerWeights, r: number, scale: number): Float32Array {
  const { outFeatures: out, inFeatures: inF, A, B } = pair;
  const row = new Float64Array(inF);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k]!;
      if (b === 0) continue;
      const aOff = k * inF;
      for (let i = 0; i < inF; i++) row[i]! += b * A[aOff + i]!;
    }
    const wOff = o * inF;
    for (let i = 0; i < inF; i++) W[wOff + i] = W[wOff + i]! + scale * row[i]!;
  }
  return W;
}

/** The base tensors with each adapted linear weight merged when read (same names, shapes, order). */
export function mergedTensors(tensors: SourceTensor[], spec: LoraSpec, weights: LoraWeights): SourceTensor[] {
  const pairs = checkAdapterFitsBase(tensors, spec, weights);
  const scale = loraScale(spec);
  return tensors.map((t) => {
    const pair = pairs.get(t.name);
    if (!pair) return t;
    return { ...t, read: async () => mergeInto(await t.read(), pair, spec.r, scale) };
  });
}
