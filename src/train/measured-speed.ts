// A training speed measured on this device, kept as the estimate's GFLOP/s so it carries over to
// other batch sizes and lengths: the FLOPs a step's tokens take (estimate.ts) x the tokens/s a run
// reported. It folds the per-layer overhead into the rate, so the estimate uses it with no overhead.
import type { EstimateBackend } from './estimate';

export interface MeasuredSpeed {
  backend: EstimateBackend;
  /** Effective GFLOP/s of a whole step (products, overhead, everything). */
  gflops: number;
}

/** The estimate's backend kind for the engine's backend (a WebGPU fallback adapter is its own kind). */
export function estimateBackendOf(b: { backend: 'webgpu' | 'wasm' | 'cpu'; adapterDescription: string | null }): EstimateBackend {
  if (b.backend !== 'webgpu') return b.backend;
  return /swiftshader|fallback/i.test(b.adapterDescription ?? '') ? 'webgpu-fallback' : 'webgpu';
}

/** GFLOP/s from a step's reported tokens/s, given the estimate's FLOPs per token for that run's settings. */
export function measuredGflops(flopsPerToken: number, tokensPerSec: number): number {
  return (flopsPerToken * tokensPerSec) / 1e9;
}

/** Steps before this one are not measured: the first pays warm-up (shader compilation, buffer pool, heap growth). */
export const FIRST_MEASURED_STEP = 2;
