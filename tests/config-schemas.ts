// Rewrites a config.json between the two schemas hub repos use: v4 (top-level rope_theta /
// rope_scaling / rope_local_base_freq / torch_dtype) and transformers 5's (rope_parameters, per
// layer type for Gemma, and dtype), so tests can check both read the same.

/** v4 -> v5 as transformers 5 writes it: rope keys into rope_parameters (per layer type for Gemma), dtype. */
export function toV5(v4: Record<string, unknown>): Record<string, unknown> {
  const { rope_theta, rope_scaling, rope_local_base_freq, torch_dtype, ...rest } = v4;
  const full = { ...((rope_scaling as object | null) ?? { rope_type: 'default' }), rope_theta };
  const rope_parameters = rope_local_base_freq !== undefined ? { full_attention: full, sliding_attention: { rope_type: 'default', rope_theta: rope_local_base_freq } } : full;
  return { ...rest, rope_parameters, dtype: torch_dtype };
}

/** v5 -> v4: the reverse. */
export function toV4(v5: Record<string, unknown>): Record<string, unknown> {
  const { rope_parameters, dtype, ...rest } = v5;
  const p = rope_parameters as Record<string, Record<string, unknown>>;
  const full = p.full_attention ?? p;
  const { rope_theta, ...scaling } = full;
  const out: Record<string, unknown> = { ...rest, rope_theta, rope_scaling: scaling.rope_type === 'default' ? null : scaling, torch_dtype: dtype };
  if (p.sliding_attention) out.rope_local_base_freq = p.sliding_attention.rope_theta;
  return out;
}
