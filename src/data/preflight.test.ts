// Each preflight finding against a fixture that triggers it and one that does not, with the real
// stories260K, SmolLM2 and Qwen2.5 tokenizers (their own templates, EOS and pad tokens).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { parseDatasetText, splitTrainValidation } from './dataset';
import { PreflightCollector } from './preflight-collect';
import { dataFindings, settingsFindings, type FindingId, type PreflightFinding, type SettingsFindingsInput } from './preflight';
import { prepareDataset, DEFAULT_DATASET_OPTIONS } from './prepare';
import { streamFromBytes } from './jsonl';

const SHARED = new URL('../../../shared/', import.meta.url);
function load(dir: string): TextTokenizer {
  const read = (f: string) => JSON.parse(readFileSync(new URL(`${dir}/${f}`, SHARED), 'utf8')) as unknown;
  return loadTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
}
const stories = load('models/stories260K');
const smol = load('tokenizers/smollm2');
const qwen = load('tokenizers/qwen2.5-0.5b-instruct');
const noEos = (t: TextTokenizer): TextTokenizer => ({ ...t, eosTokenId: null, eosToken: null });

/** Ends every conversation with EOS after a newline: EOS is never inside an assistant span, and prefixes are not prefixes. */
const EOS_AT_END_TEMPLATE = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}{{ eos_token }}";

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');
const chat = (a: string, u = 'Hello there') => ({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] });
/** TRL's conversational unpaired row (KTO), the prompt one user turn. */
const chatRow = (a: string) => ({ prompt: [{ role: 'user', content: 'Hello there' }], completion: [{ role: 'assistant', content: a }], label: true });
const story = (i: number) => ({ text: `Once upon a time there was a dragon number ${i} who liked apples.` });
const stories10 = Array.from({ length: 10 }, (_, i) => story(i));

interface Case {
  name: string;
  rows: object[];
  tok: TextTokenizer;
  maxLength?: number;
  chatTemplate?: string;
  /** Training-file lines held out for validation. */
  validationLines?: number[];
  validationRows?: object[];
}

async function findings(c: Case): Promise<PreflightFinding[]> {
  const collect = (rows: object[]) => {
    const col = new PreflightCollector(c.tok, c.chatTemplate);
    return parseDatasetText(jsonl(rows), { fileName: 'x.jsonl', tokenizer: c.tok, maxLength: c.maxLength ?? 129, chatTemplate: c.chatTemplate, preflight: col }).then(() => col);
  };
  const collector = await collect(c.rows);
  const validationFile = c.validationRows ? await collect(c.validationRows) : undefined;
  return dataFindings({ collector, tokenizer: c.tok, padToken: c.tok.padToken ?? null, maxLength: c.maxLength ?? 129, validationLines: c.validationLines, validationFile });
}

const DATA_CASES: { id: FindingId; triggers: Case; clean: Case; lines?: number[] }[] = [
  { id: 'no-eos', triggers: { name: 'tokenizer without EOS', rows: stories10, tok: noEos(stories) }, clean: { name: 'stories260K', rows: stories10, tok: stories } },
  {
    id: 'stop-not-trained',
    triggers: { name: 'template puts EOS after the last newline', rows: [chat('Hi!'), chat('Yes.')], tok: qwen, chatTemplate: EOS_AT_END_TEMPLATE },
    clean: { name: "Qwen's own template", rows: [chat('Hi!'), chat('Yes.')], tok: qwen },
    lines: [1, 2],
  },
  {
    id: 'all-masked',
    triggers: { name: 'one-token completion, no BOS, no EOS', rows: [{ prompt: '', completion: 'x' }, { prompt: 'Q: hi\nA:', completion: ' hello there' }], tok: noEos(qwen) },
    clean: { name: 'the same with EOS', rows: [{ prompt: '', completion: 'x' }, { prompt: 'Q: hi\nA:', completion: ' hello there' }], tok: qwen },
    lines: [1],
  },
  {
    id: 'cut-by-max-length',
    triggers: { name: '8-token limit', rows: [{ prompt: 'Q:', completion: ' a long answer about dragons and apples' }, { prompt: 'Q:', completion: ' ok' }], tok: stories, maxLength: 8 },
    clean: { name: '129-token limit', rows: [{ prompt: 'Q:', completion: ' a long answer about dragons and apples' }, { prompt: 'Q:', completion: ' ok' }], tok: stories },
    lines: [1],
  },
  {
    id: 'double-bos',
    triggers: { name: 'text starting with <s>', rows: [{ text: '<s>Once upon a time' }, { text: 'Once upon a time there' }], tok: stories },
    clean: { name: 'plain text', rows: [{ text: 'Once upon a time' }, { text: 'Once upon a time there' }], tok: stories },
    lines: [1],
  },
  {
    id: 'template-not-prefix-preserving',
    triggers: { name: 'EOS at the end of the conversation', rows: [chat('Hi!')], tok: qwen, chatTemplate: EOS_AT_END_TEMPLATE },
    clean: { name: "Qwen's own template", rows: [chat('Hi!')], tok: qwen },
    lines: [1],
  },
  {
    id: 'template-not-prefix-preserving',
    triggers: { name: 'conversational prompt/completion rows, EOS at the end of the conversation', rows: [chatRow('Hi!'), chatRow('Yes.')], tok: qwen, chatTemplate: EOS_AT_END_TEMPLATE },
    clean: { name: "conversational prompt/completion rows, Qwen's own template", rows: [chatRow('Hi!'), chatRow('Yes.')], tok: qwen },
    lines: [1, 2],
  },
  { id: 'pad-is-eos', triggers: { name: 'SmolLM2 (pad = <|im_end|> = EOS)', rows: [chat('Hi!')], tok: smol }, clean: { name: 'Qwen2.5 (pad = <|endoftext|>)', rows: [chat('Hi!')], tok: qwen } },
  {
    id: 'duplicates-in-train',
    triggers: { name: 'line 3 repeats line 1', rows: [story(1), story(2), { text: `  ${story(1).text} ` }], tok: stories },
    clean: { name: 'distinct lines', rows: [story(1), story(2), story(3)], tok: stories },
    lines: [3],
  },
  {
    id: 'duplicates-train-validation',
    triggers: { name: 'held-out line 3 repeats training line 1', rows: [story(1), story(2), story(1)], tok: stories, validationLines: [3] },
    clean: { name: 'held-out line 3 is new', rows: [story(1), story(2), story(3)], tok: stories, validationLines: [3] },
    lines: [1],
  },
  {
    id: 'duplicates-train-validation',
    triggers: { name: 'validation file repeats training line 2', rows: [story(1), story(2)], tok: stories, validationRows: [story(5), story(2)] },
    clean: { name: 'validation file is new', rows: [story(1), story(2)], tok: stories, validationRows: [story(5), story(6)] },
    lines: [2],
  },
  {
    id: 'near-empty',
    triggers: { name: 'a one-token answer', rows: [{ prompt: 'Q: why?', completion: '!' }, { prompt: 'Q: how?', completion: ' with a long answer' }], tok: stories },
    clean: { name: 'real answers', rows: [{ prompt: 'Q: why?', completion: ' because it is' }, { prompt: 'Q: how?', completion: ' with a long answer' }], tok: stories },
    lines: [1],
  },
  {
    id: 'outlier-long',
    triggers: { name: 'one example 20x the others', rows: [...stories10.slice(0, 9), { text: story(0).text.repeat(20) }], tok: stories, maxLength: 2048 },
    clean: { name: 'similar lengths', rows: stories10, tok: stories, maxLength: 2048 },
    lines: [10],
  },
];

describe('preflight data findings: each triggered by its fixture and absent from the clean one', () => {
  for (const c of DATA_CASES) {
    it(`${c.id}: "${c.triggers.name}" triggers it, "${c.clean.name}" does not`, async () => {
      const hit = (await findings(c.triggers)).find((f) => f.id === c.id);
      expect(hit, `expected ${c.id}`).toBeDefined();
      expect(hit!.fix.length).toBeGreaterThan(10);
      expect(hit!.message.length).toBeGreaterThan(10);
      if (c.lines) {
        expect(hit!.lines).toEqual(c.lines);
        expect(hit!.example).toMatch(/line \d+/);
      }
      expect((await findings(c.clean)).map((f) => f.id)).not.toContain(c.id);
    });
  }

  it('the bundled examples are clean with stories260K (no finding at all; prompts for GRPO are not "all masked")', async () => {
    for (const file of ['stories-dragon.jsonl', 'qa-prompt-completion.jsonl', 'stories-prompts.jsonl']) {
      const text = readFileSync(new URL(`../../public/examples/${file}`, import.meta.url), 'utf8');
      const p = await prepareDataset({ stream: streamFromBytes(text), fileName: file }, null, stories, DEFAULT_DATASET_OPTIONS);
      expect(p.extras.preflight, file).toEqual([]);
    }
  });

  it('prepareDataset reports the findings of its own percent split', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => story(i % 10)); // every line twice
    const text = jsonl(rows);
    const opts = { ...DEFAULT_DATASET_OPTIONS, validationPercent: 25 };
    const p = await prepareDataset({ stream: streamFromBytes(text), fileName: 'x.jsonl' }, null, stories, opts);
    const held = splitTrainValidation(rows.map((_, i) => i + 1), 25, opts.seed).validation;
    expect(p.validation.map((e) => e.line)).toEqual(held);
    const ids = p.extras.preflight.map((f) => f.id);
    expect(ids).toContain('duplicates-in-train');
    expect(ids).toContain('duplicates-train-validation');
    expect(p.train.length + p.validation.length).toBe(20); // findings never change the data
  });
});

const BASE: SettingsFindingsInput = { trainExamples: 45, steps: 30, batchSize: 4, gradAccum: 1, learningRate: 3e-3 };
const SETTINGS_CASES: { name: string; x: Partial<SettingsFindingsInput>; expect: Partial<Record<FindingId, 'serious' | 'warning'>> }[] = [
  { name: 'the default run on the dragon stories', x: {}, expect: {} },
  { name: '500 steps over 45 examples: 44 passes', x: { steps: 500 }, expect: { 'too-few-examples': 'warning' } },
  { name: '2000 steps over 45 examples: 178 passes', x: { steps: 2000 }, expect: { 'too-few-examples': 'serious' } },
  { name: 'five examples', x: { trainExamples: 5, steps: 2 }, expect: { 'too-few-examples': 'warning' } },
  { name: 'LoRA at 3e-2', x: { learningRate: 3e-2 }, expect: { 'learning-rate': 'warning' } },
  { name: 'LoRA at 1e6', x: { learningRate: 1e6 }, expect: { 'learning-rate': 'serious' } },
  { name: 'LoRA at 1e-7', x: { learningRate: 1e-7 }, expect: { 'learning-rate': 'serious' } },
  { name: 'full fine-tuning at 3e-3', x: { learningRate: 3e-3, method: 'full' }, expect: { 'learning-rate': 'serious' } },
  { name: 'full fine-tuning at 2e-5', x: { learningRate: 2e-5, method: 'full' }, expect: {} },
  { name: 'prompt tuning at 3e-2', x: { learningRate: 3e-2, method: 'prompt' }, expect: {} },
];

describe('preflight settings findings', () => {
  for (const c of SETTINGS_CASES) {
    it(`${c.name}: ${Object.keys(c.expect).join(', ') || 'nothing'}`, () => {
      const got = Object.fromEntries(settingsFindings({ ...BASE, ...c.x }).map((f) => [f.id, f.severity]));
      expect(got).toEqual(c.expect);
    });
  }
});
