// Deterministic LoRA weights of the right shapes for a model, for tests and size measurements:
// A uniform like PEFT's kaiming init, B small as after a few hundred training steps. Not for training.
import { linearShape, type LlamaConfig } from '../model/config';
import type { LoraLayerWeights, LoraSpec, LoraWeights } from './lora-types';
import { seededRandom } from '../util/random';

export function syntheticLoraWeights(model: LlamaConfig, spec: LoraSpec, seed = 1, bScale = 0.01): LoraWeights {
  const rand = seededRandom(seed);
  const layers: LoraLayerWeights[] = [];
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const module of spec.targetModules) {
      const { out, in: inF } = linearShape(model, module);
      const bound = 1 / Math.sqrt(inF); // kaiming_uniform(a=sqrt(5)) bound on a [r, in] matrix
      const A = Float32Array.from({ length: spec.r * inF }, () => (2 * rand() - 1) * bound); // [r, in]
      const B = Float32Array.from({ length: out * spec.r }, () => (2 * rand() - 1) * bScale); // [out, r]
      layers.push({ layer, module, inFeatures: inF, outFeatures: out, A, B });
    }
  }
  return { layers };
}
