import { describe, expect, it } from 'vitest';
import { SpeedMeter, tokenRates } from './generation-speed';

describe('SpeedMeter', () => {
  it('prefill is prompt tokens over the time to the first token; decode the rest over the time after it', () => {
    const clock = [0, 200, 300, 400, 500];
    let i = 0;
    const m = new SpeedMeter(10, () => clock[i++]!);
    for (let k = 0; k < 4; k++) m.token();
    expect(m.result()).toEqual({ promptTokens: 10, prefillTokensPerSecond: 50, newTokens: 4, decodeTokensPerSecond: 10 });
  });

  it('no token: no rates; one token: a prefill rate only', () => {
    const none = new SpeedMeter(3, () => 0);
    expect(none.result()).toMatchObject({ prefillTokensPerSecond: null, decodeTokensPerSecond: null, newTokens: 0 });
    let t = 0;
    const one = new SpeedMeter(3, () => (t += 100));
    one.token();
    expect(one.result()).toMatchObject({ prefillTokensPerSecond: 30, decodeTokensPerSecond: null, newTokens: 1 });
  });
});

describe('tokenRates', () => {
  it('rounds to 0.01 and keeps null where nothing was timed', () => {
    let t = 100;
    const m = new SpeedMeter(4, () => t);
    for (const at of [300, 400, 500, 600]) { t = at; m.token(); }
    expect(tokenRates(m.result())).toEqual({ prefill_tokens_per_s: 20, decode_tokens_per_s: 10 });
    const none = new SpeedMeter(3, () => 0);
    expect(tokenRates(none.result())).toEqual({ prefill_tokens_per_s: null, decode_tokens_per_s: null });
    t = 0;
    const third = new SpeedMeter(1, () => t);
    t = 300; third.token(); t = 600; third.token();
    expect(tokenRates(third.result())).toEqual({ prefill_tokens_per_s: 3.33, decode_tokens_per_s: 3.33 });
  });
});
