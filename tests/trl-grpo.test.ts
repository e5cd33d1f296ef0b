// The GRPO bundle's reward.py against the studio's own reward: each built-in's Python (run here with
// python3, as TRL would call it) scores a table of awkward completions exactly as builtinReward does;
// JavaScript regex syntax with no Python spelling is refused; a module's stub raises; and the settings
// dict keeps strings that read like Python words.
import { describe, it, expect, beforeAll } from 'vitest';
import { builtinReward } from '../src/train/objectives/reward';
import { builtinRewardPython, grpoRewardFiles } from '../src/export/bundle/trl-grpo';
import { pythonRegex, pythonString, JS_SPACE_CLASS } from '../src/export/bundle/python-regex';
import { pythonDict } from '../src/export/bundle/trl';
import { ExportInputError } from '../src/export/model-tensors';
import type { RunRecord } from '../src/export/bundle/run-record';
import { pythonRewards } from './python-reward';

const studio = (spec: string, completions: string[], rows: Record<string, unknown>[] = completions.map(() => ({}))) =>
  builtinReward(spec).score(completions.map((completion, i) => ({ prompt: 'Q', completion, row: rows[i]! })), completions.map((_, i) => i + 1));

// Whitespace JavaScript and Python disagree on, astral characters (two UTF-16 units), line terminators.
const AWKWARD = ['', ' ', 'cat', ' cat ', '\ufeffcat\u00a0', '\x1ccat\x1c', '\x85cat', 'cat\n', 'cat\r', 'cat\u2028', 'the cat sat', 'catalogue', 'Cat', '😀', '😀😀', 'a😀b', '١٢٣', '123', '123\n', 'e\u0301', 'x{,2}', 'x{2}', 'xx', 'xx\n'];

/** reward.py's answer on one list of completions. */
const py = async (source: string, completions: string[], columns?: Record<string, unknown[]>) => (await pythonRewards([{ source, completions, columns }]))[0]!;

const SPECS = [
  'builtin:regex=\\bcat\\b',
  'builtin:regex=^\\d+$',
  'builtin:regex=^\\s*cat\\s*$',
  'builtin:regex=^\\S+$',
  'builtin:regex=^.$',
  'builtin:regex=^..$',
  'builtin:regex=^[^a]$',
  'builtin:regex=\\w\\W\\w',
  'builtin:regex=^😀+$',
  'builtin:regex=\\ud83d\\ude00{2}',
  'builtin:regex=x{,2}',
  'builtin:regex=x{2}$',
  'builtin:regex=^(?<w>[a-z])\\k<w>$',
  'builtin:regex=(c)(a)\\2?t',
  'builtin:regex=[\\s\\d]{3}',
  'builtin:regex=[\\w-]at|[]|\\a\\e',
  'builtin:regex=[^]at',
  'builtin:regex=[--/]|\\x41|\\u0041|\\cJ',
  'builtin:regex=C(?=a)|(?<=c)a(?!x)',
  'builtin:regex=[&&~~||]|"|\\\\$',
  'builtin:length=3-5',
  'builtin:length=1-1',
  'builtin:length=0-2',
  'builtin:json',
];

describe('reward.py: each built-in in Python scores as the studio does', () => {
  let python: Awaited<ReturnType<typeof pythonRewards>>;
  beforeAll(async () => {
    python = await pythonRewards(SPECS.map((spec) => ({ source: builtinRewardPython(spec).python, completions: AWKWARD })));
  });

  it.each(SPECS.map((spec, i) => [spec, i] as const))('%s', async (spec, i) => {
    expect(python[i]).toEqual({ rewards: await studio(spec, AWKWARD) });
  });

  it('builtin:json: JSON.parse, not Python\'s json (no NaN or Infinity, integers of any length)', async () => {
    const completions = ['{"a": [1, 2]}', ' 1 ', '"x"', 'NaN', '[Infinity]', '-Infinity', '{"a": ', "{'a': 1}", '\ufeff{}', '1'.repeat(5000), '[1,]', 'true', 'null', '"\\ud800"', '"\x01"', '01', '1 2'];
    const { python } = builtinRewardPython('builtin:json');
    const rewards = await studio('builtin:json', completions);
    expect(rewards.filter((r) => r === 1).length).toBeGreaterThan(3); // the table tests both answers
    expect(await py(python, completions)).toEqual({ rewards });
  });

  it('builtin:exact: JavaScript\'s trim() on both sides, and the row\'s "answer"', async () => {
    const completions = [' 42 ', '41', '\ufeff42\u3000', '\x1c42', '\x8542', '42\u2028', '4 2', '42'];
    const rows = completions.map(() => ({ answer: ' 42\n' }));
    const { python } = builtinRewardPython('builtin:exact');
    const rewards = await studio('builtin:exact', completions, rows);
    expect(rewards).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
    expect(await py(python, completions, { answer: rows.map((r) => r.answer) })).toEqual({ rewards });
  });

  it('builtin:exact stops, as the studio does, on a row without an "answer" string', async () => {
    const { python } = builtinRewardPython('builtin:exact');
    await expect(studio('builtin:exact', ['42'])).rejects.toThrow(/answer/);
    await expect(studio('builtin:exact', ['42'], [{ answer: 42 }])).rejects.toThrow(/answer/);
    const [missing, number] = await pythonRewards([{ source: python, completions: ['42'] }, { source: python, completions: ['42'], columns: { answer: [42] } }]);
    expect(missing!.error).toMatch(/ValueError: builtin:exact needs an "answer" string/);
    expect(number!.error).toMatch(/ValueError: builtin:exact needs an "answer" string/);
  });

  it('a module run: reward.py is a stub that raises, and the module travels as reward.mjs (reward.js for .js)', async () => {
    const record = (fileName: string) => ({ reward: { kind: 'module', fileName, source: 'export default ({ completion }) => completion.length;\n' }, data: { promptColumn: 'question' } }) as unknown as RunRecord;
    const files = new Map(grpoRewardFiles(record('score.mjs')));
    expect([...files.keys()]).toEqual(['reward.py', 'reward.mjs']);
    expect(files.get('reward.mjs')).toBe('export default ({ completion }) => completion.length;\n');
    expect(new Map(grpoRewardFiles(record('score.js'))).has('reward.js')).toBe(true);
    expect((await py(files.get('reward.py')!, ['abc'], { question: ['Q'] })).error).toBe("NotImplementedError: reward.py: the run's reward is JavaScript (reward.mjs); port its default export into reward() before training");
  });
});

describe('the regex port', () => {
  it('JavaScript\'s \\s is exactly the whitespace the class spells', () => {
    const js: number[] = [];
    for (let c = 0; c < 0x10000; c++) if (/\s/.test(String.fromCharCode(c))) js.push(c);
    const listed = new Set<number>();
    for (const m of JS_SPACE_CLASS.matchAll(/\\x([0-9a-f]{2})|\\u([0-9a-f]{4})(?:-\\u([0-9a-f]{4}))?|\\([tnvfr])|( )/g)) {
      const esc: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
      const from = m[1] ? parseInt(m[1], 16) : m[2] ? parseInt(m[2], 16) : m[4] ? esc[m[4]]! : 32;
      const to = m[3] ? parseInt(m[3], 16) : from;
      for (let c = from; c <= to; c++) listed.add(c);
    }
    expect([...listed].sort((a, b) => a - b)).toEqual(js);
  });

  it.each([
    ['[\\S]', /\\S inside \[\.\.\.\]/],
    ['\\1(a)\\2', /\\2 names no group/],
    ['a\\07', /octal escape/],
    ['[\\1]', /octal escape/],
    ['\\c1', /\\c without a letter/],
    ['(?<a$>x)', /not a Python identifier/],
  ])('refuses %s with the reason', (pattern, why) => {
    expect(() => pythonRegex(pattern)).toThrow(ExportInputError);
    expect(() => pythonRegex(pattern)).toThrow(why);
  });

  it('a bundle of a refused pattern names the pattern and the way out', () => {
    expect(() => builtinRewardPython('builtin:regex=[\\S]')).toThrow(/builtin:regex=\[\\S\].*pass the reward as a \.mjs module/);
  });

  it('writes patterns as raw strings where Python reads them the same', () => {
    expect(pythonString('\\bcat\\b')).toBe('r"\\bcat\\b"');
    expect(pythonString('a"b\\')).toBe('"a\\"b\\\\"');
    expect(pythonString('\ud800')).toBe('"\\ud800"');
  });
});

describe('pythonDict', () => {
  it('spells true, false and null as Python does, outside strings only', () => {
    expect(pythonDict({ a: true, b: null, c: 'null-true "false"', d: false })).toBe('{\n    "a": True,\n    "b": None,\n    "c": "null-true \\"false\\"",\n    "d": False\n}');
  });
});
