import { describe, expect, it } from 'vitest';
import { tokenRates } from './token-rates';

describe('tokenRates', () => {
  it.each([
    { prompt: 10, start: 0, arrivals: [500], expected: { prefill_tokens_per_s: 20, decode_tokens_per_s: null } },
    { prompt: 4, start: 100, arrivals: [300, 400, 500, 600], expected: { prefill_tokens_per_s: 20, decode_tokens_per_s: 10 } },
    { prompt: 3, start: 0, arrivals: [], expected: { prefill_tokens_per_s: 0, decode_tokens_per_s: null } },
  ])('$prompt prompt tokens, arrivals $arrivals', ({ prompt, start, arrivals, expected }) => {
    expect(tokenRates(prompt, start, arrivals)).toEqual(expected);
  });
});
