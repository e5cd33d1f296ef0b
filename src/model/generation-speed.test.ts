import { describe, expect, it } from 'vitest';
import { SpeedMeter } from './generation-speed';

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
