// Generation speed from a token stream's timestamps, as `npm run generate` and the generation
// benchmark report it: prefill = prompt tokens / time to the first new token (the forward over the
// prompt and the first sample); decode = the tokens after the first / the time they took.

export interface TokenRates {
  prefill_tokens_per_s: number;
  /** null with fewer than two new tokens (no decode step was timed). */
  decode_tokens_per_s: number | null;
}

/** startMs: when generation began; arrivalsMs: when each new token arrived (same clock). */
export function tokenRates(promptTokens: number, startMs: number, arrivalsMs: number[]): TokenRates {
  const n = arrivalsMs.length;
  const round = (x: number) => Math.round(x * 100) / 100;
  const prefill = n > 0 ? round(promptTokens / ((arrivalsMs[0] - startMs) / 1000)) : 0;
  const decode = n > 1 ? round((n - 1) / ((arrivalsMs[n - 1] - arrivalsMs[0]) / 1000)) : null;
  return { prefill_tokens_per_s: prefill, decode_tokens_per_s: decode };
}
