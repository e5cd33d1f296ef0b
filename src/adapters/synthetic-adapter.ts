// Deterministic LoRA weights of the right shapes for a model, for tests and size measurements:
// A uniform like PEFT's kaiming init, B small as after a few hundred training steps. Not for training.
import { linearShape, type LlamaConfig } from '../model/config';
import type { LoraLayerWeights, LoraSpec, LoraWeights } from './lora-types';

/** mulberry32: a tiny seeded PRNG, so a failing test reproduces. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
