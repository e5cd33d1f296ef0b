// Rotary position embeddings: the per-layer-type RoPE description read from config.json (both
// schemas), the inverse frequencies of each supported rope type, and cos/sin tables in the
// rotate-half layout. Math is done in float32 steps, as transformers computes it, so positions far
// into a sequence round the way the references do.
import { UnsupportedModelError } from './errors';

export type RopeType = 'default' | 'linear' | 'llama3';

export interface RopeSpec {
  type: RopeType;
  /** Base of the geometric frequency ladder. */
  theta: number;
  /** linear / llama3: how much longer the context is than the one trained on (1 for default). */
  factor: number;
  /** llama3 only: wavelengths longer than original / lowFreqFactor are slowed by `factor`. */
  lowFreqFactor: number;
  /** llama3 only: wavelengths shorter than original / highFreqFactor are kept. */
  highFreqFactor: number;
  /** llama3 only: the context length the frequencies were trained for. */
  originalMaxPositions: number;
}

export const SUPPORTED_ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'llama3'];

/**
 * Parses one rope description: `theta` from rope_theta (or the caller's fallback), `scaling` from
 * rope_scaling (v4) or one rope_parameters entry (v5), which also may carry rope_theta. Any key this
 * code does not apply is refused by name, so a config never computes with a silently wrong rope.
 */
export function parseRope(scaling: unknown, theta: number | undefined, where: string): RopeSpec {
  const spec: RopeSpec = { type: 'default', theta: theta ?? NaN, factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositions: 0 };
  if (scaling != null) {
    if (typeof scaling !== 'object' || Array.isArray(scaling)) throw new UnsupportedModelError(`config.json: ${where} must be an object, found ${JSON.stringify(scaling)}`);
    const s = scaling as Record<string, unknown>;
    const type = s.rope_type ?? s.type ?? 'default';
    if (s.rope_type != null && s.type != null && s.rope_type !== s.type) {
      throw new UnsupportedModelError(`config.json: ${where} has rope_type ${JSON.stringify(s.rope_type)} but type ${JSON.stringify(s.type)}`);
    }
    if (!(SUPPORTED_ROPE_TYPES as readonly unknown[]).includes(type)) {
      throw new UnsupportedModelError(`config.json: ${where}.rope_type ${JSON.stringify(type)} is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`);
    }
    spec.type = type as RopeType;
    const num = (k: string): number => {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UnsupportedModelError(`config.json: ${where}.${k} must be a positive number for rope_type ${type}, found ${JSON.stringify(v)}`);
      return v;
    };
    const allowed: Record<RopeType, string[]> = {
      default: [],
      linear: ['factor'],
      llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
    };
    for (const [k, v] of Object.entries(s)) {
      if (k === 'rope_type' || k === 'type') continue;
      if (k === 'rope_theta') {
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UnsupportedModelError(`config.json: ${where}.rope_theta must be a positive number, found ${JSON.stringify(v)}`);
        if (theta !== undefined && theta !== v) throw new UnsupportedModelError(`config.json: ${where}.rope_theta ${v} disagrees with rope_theta ${theta}`);
        spec.theta = v;
        continue;
      }
      // A default rope with factor 1 is what older configs write; anything else would be ignored.
      if (k === 'factor' && spec.type === 'default' && v === 1) continue;
      if (!allowed[spec.type].includes(k)) throw new UnsupportedModelError(`config.json: ${where}.${k} (${JSON.stringify(v)}) is not supported for rope_type ${spec.type}`);
    }
    if (spec.type === 'linear') spec.factor = num('factor');
    if (spec.type === 'llama3') {
      spec.factor = num('factor');
      spec.lowFreqFactor = num('low_freq_factor');
      spec.highFreqFactor = num('high_freq_factor');
      spec.originalMaxPositions = num('original_max_position_embeddings');
      if (spec.highFreqFactor === spec.lowFreqFactor) throw new UnsupportedModelError(`config.json: ${where}: high_freq_factor must differ from low_freq_factor`);
    }
  }
  if (!Number.isFinite(spec.theta) || spec.theta <= 0) throw new UnsupportedModelError(`config.json: no rope_theta for ${where}`);
  return spec;
}

const f = Math.fround;

/** The D/2 inverse frequencies of a head of width D, as float32 values. */
export function inverseFrequencies(spec: RopeSpec, D: number): Float32Array {
  const half = D / 2;
  const inv = new Float32Array(half);
  for (let j = 0; j < half; j++) inv[j] = f(1 / f(Math.pow(spec.theta, f((2 * j) / D))));
  if (spec.type === 'linear') for (let j = 0; j < half; j++) inv[j] = f(inv[j] / spec.factor);
  if (spec.type === 'llama3') {
    // Llama 3.1's rule: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
    const lowWavelen = spec.originalMaxPositions / spec.lowFreqFactor;
    const highWavelen = spec.originalMaxPositions / spec.highFreqFactor;
    for (let j = 0; j < half; j++) {
      const wavelen = f((2 * Math.PI) / inv[j]);
      if (wavelen > lowWavelen) inv[j] = f(inv[j] / spec.factor);
      else if (wavelen >= highWavelen) {
        const smooth = f((f(spec.originalMaxPositions / wavelen) - spec.lowFreqFactor) / (spec.highFreqFactor - spec.lowFreqFactor));
        inv[j] = f(f(f(f(1 - smooth) * inv[j]) / spec.factor) + f(smooth * inv[j]));
      }
    }
  }
  return inv;
}

/** cos/sin values [positions.length * D]: angle p * inv[j], halves duplicated (rotate-half layout). */
export function ropeTable(positions: ArrayLike<number>, spec: RopeSpec, D: number): { cos: Float32Array; sin: Float32Array } {
  const half = D / 2;
  const inv = inverseFrequencies(spec, D);
  const cos = new Float32Array(positions.length * D);
  const sin = new Float32Array(positions.length * D);
  for (let t = 0; t < positions.length; t++) {
    for (let j = 0; j < half; j++) {
      const angle = f(positions[t] * inv[j]);
      cos[t * D + j] = cos[t * D + j + half] = Math.cos(angle);
      sin[t * D + j] = sin[t * D + j + half] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
