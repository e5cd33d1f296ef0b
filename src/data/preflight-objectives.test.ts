// Preflight for KTO and GRPO data, table-driven: each finding fires on the case that should trigger
// it, at the stated severity, naming the lines, and stays quiet on the clean case.
import { describe, it, expect } from 'vitest';
import { labelFindings, promptRoomFindings, rewardFindings } from './preflight-objectives';

const rows = (labels: boolean[]) => labels.map((label, i) => ({ line: i + 1, label }));
const unit = { desirableWeight: 1, undesirableWeight: 1 };
const prompt = (line: number, n: number) => ({ line, inputIds: new Array<number>(n).fill(5) });

describe('KTO labels', () => {
  it.each([
    ['all desirable', rows([true, true, true]), unit, 'one-label-only', 'serious'],
    ['all undesirable', rows([false, false]), unit, 'one-label-only', 'serious'],
    ['3 good : 1 bad at equal weights (ratio 3)', rows([true, true, true, false]), unit, 'kto-weights-unbalanced', 'warning'],
    ['1 good : 3 bad at equal weights (ratio 1/3)', rows([true, false, false, false]), unit, 'kto-weights-unbalanced', 'warning'],
  ])('%s -> %s', (_, r, w, id, severity) => {
    const f = labelFindings(r, w);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ id, severity });
  });

  it.each([
    ['balanced', rows([true, false, true, false]), unit],
    ['3 good : 1 bad, undesirable weighted 3', rows([true, true, true, false]), { desirableWeight: 1, undesirableWeight: 3 }],
    ['4 good : 3 bad (ratio 1.33)', rows([true, true, true, true, false, false, false]), unit],
  ])('%s: no finding', (_, r, w) => {
    expect(labelFindings(r, w)).toEqual([]);
  });

  it('the weight fix names the range that balances the classes', () => {
    expect(labelFindings(rows([true, false, false, false]), unit)[0].fix).toContain('between 3.00 and 4.00');
  });
});

describe('GRPO prompts', () => {
  it('a prompt that fills the sequence is serious, one that cuts samples short a warning, with their lines', () => {
    // seqLen 16, 8 new tokens: a prompt of k tokens leaves 17 - k.
    const f = promptRoomFindings([prompt(1, 4), prompt(2, 16), prompt(3, 12), prompt(4, 20), prompt(5, 9)], 16, 8);
    expect(f).toEqual([
      expect.objectContaining({ id: 'no-room-for-completion', severity: 'serious', count: 2, lines: [2, 4] }),
      expect.objectContaining({ id: 'no-room-for-completion', severity: 'warning', count: 1, lines: [3] }),
    ]);
  });

  it('prompts with room for every new token: no finding', () => {
    expect(promptRoomFindings([prompt(1, 9), prompt(2, 3)], 16, 8)).toEqual([]);
  });
});

describe('GRPO rewards', () => {
  it('a reward constant over the first batch is a warning naming its rows', () => {
    const f = rewardFindings([0, 0, 0, 0, 0, 0], [3, 3, 3, 7, 7, 7]);
    expect(f).toEqual([expect.objectContaining({ id: 'constant-reward', severity: 'warning', count: 6, lines: [3, 7] })]);
  });

  it('any difference between completions: no finding', () => {
    expect(rewardFindings([0, 0, 1, 0], [1, 1, 2, 2])).toEqual([]);
  });
});
