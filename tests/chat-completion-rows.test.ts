// TRL's conversational prompt-completion rows (KTO's conversational unpaired rows) render through
// the model's chat template as TRL splits them: the prompt turns with the generation prompt, then the
// answer and its end-of-turn token, which alone carry loss. Checked against an independent
// construction: the template rendered by Python's jinja2 (the strings below, with transformers'
// trim_blocks / lstrip_blocks), its prompt part and its answer part tokenized apart and joined.
// Real tokenizers with real chat templates (../shared/tokenizers): none of the tiny models in
// ../shared/models ships a chat_template.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { displayToken, renderExample, type TrainingExample } from '../src/data/render';
import { validateRecord } from '../src/data/formats';
import { parseDatasetText } from '../src/data/dataset';
import { toJsonl, toUnpairedRows, type FeedbackRecord } from '../src/data/feedback';

const TOKENIZERS = new URL('../../shared/tokenizers/', import.meta.url).pathname;
const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const load = (dir: string): TextTokenizer => loadTokenizer(readJson(`${dir}/tokenizer.json`), readJson(`${dir}/tokenizer_config.json`));

const qwen = load(`${TOKENIZERS}qwen2.5-0.5b-instruct`);
const smol = load(`${TOKENIZERS}smollm2`);
const stories = load(STORIES);

type Msg = { role: 'system' | 'user' | 'assistant'; content: string };
const user = (content: string): Msg => ({ role: 'user', content });
const assistant = (content: string): Msg => ({ role: 'assistant', content });
const row = (prompt: Msg[], completion: Msg[], label?: boolean) => validateRecord({ prompt, completion, ...(label === undefined ? {} : { label }) }, 'prompt-completion', 1);

const QWEN_SYSTEM = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n';
const SMOL_SYSTEM = '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n';

/** What an independent reader expects: the prompt's tokens untrained, then the answer's tokens trained. */
function expected(tok: TextTokenizer, promptText: string, answerText: string): { inputIds: number[]; lossMask: number[] } {
  const p = tok.encode(promptText, { addSpecialTokens: false });
  const a = tok.encode(answerText, { addSpecialTokens: false });
  return { inputIds: [...p, ...a], lossMask: [...p.map(() => 0), ...a.map(() => 1)] };
}

const trainedText = (tok: TextTokenizer, e: TrainingExample) => e.inputIds.filter((_, t) => e.lossMask[t] === 1).map((id) => displayToken(tok, id)).join('');

describe('a conversational row renders as TRL renders it, loss on the answer and its end-of-turn token', () => {
  const cases: { name: string; tok: TextTokenizer; prompt: Msg[]; completion: Msg[]; promptText: string; answerText: string }[] = [
    {
      name: "Qwen2.5 (its real template adds the default system prompt)",
      tok: qwen,
      prompt: [user('What is 2+2?')],
      completion: [assistant('4.')],
      promptText: `${QWEN_SYSTEM}<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n`,
      answerText: '4.<|im_end|>\n',
    },
    {
      name: 'Qwen2.5, a prompt with a system line and an earlier assistant turn: that turn is context, not trained',
      tok: qwen,
      prompt: [{ role: 'system', content: 'Answer briefly.' }, user('Hi'), assistant('Hello!'), user('Bye')],
      completion: [assistant('Bye!')],
      promptText: '<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
      answerText: 'Bye!<|im_end|>\n',
    },
    {
      name: "SmolLM2 (the ChatML test template's default system line)",
      tok: smol,
      prompt: [user('What is 2+2?')],
      completion: [assistant('4.')],
      promptText: `${SMOL_SYSTEM}<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n`,
      answerText: '4.<|im_end|>\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ex = renderExample(row(c.prompt, c.completion, false), c.tok, 1);
      expect(ex.text).toBe(c.promptText + c.answerText);
      const want = expected(c.tok, c.promptText, c.answerText);
      expect(ex.inputIds).toEqual(want.inputIds);
      expect(ex.lossMask).toEqual(want.lossMask);
      // The end-of-turn token is one id and is trained: the model learns to stop.
      const imEnd = c.tok.tokenToId('<|im_end|>')!;
      expect(ex.inputIds.at(-2)).toBe(imEnd);
      expect(ex.lossMask.at(-2)).toBe(1);
    });
  }

  it('the label does not change the tokens; "train on prompt" trains everything after the first token', () => {
    const plain = renderExample(row([user('Hi')], [assistant('Hello.')]), qwen, 1);
    expect(renderExample(row([user('Hi')], [assistant('Hello.')], true), qwen, 1).inputIds).toEqual(plain.inputIds);
    const all = renderExample(row([user('Hi')], [assistant('Hello.')]), qwen, 1, { trainOnPrompt: true });
    expect(all.lossMask).toEqual(plain.lossMask.map((_, t) => (t === 0 ? 0 : 1)));
  });

  it("a template whose generation prompt opens more than the answer keeps (DeepSeek-R1's <think>): the answer starts where the two renderings part, as in TRL", () => {
    const template =
      "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ 'Q: ' + m['content'] + '\\n' }}{% else %}{{ 'A: ' + m['content'] + eos_token }}{% endif %}{% endfor %}" +
      "{% if add_generation_prompt %}{{ 'A: Let me think.' }}{% endif %}";
    const ex = renderExample(row([user('Who is Tom?')], [assistant('A cat.')]), stories, 1, { chatTemplate: template });
    expect(ex.text).toBe('<s>Q: Who is Tom?\nA: A cat.</s>');
    // The common prefix ends after "A: " (the generation prompt then says "Let me think."), so " A cat.</s>" is the answer.
    expect(trainedText(stories, ex)).toBe('A cat.</s>');
  });
});

describe('a model without a chat template refuses conversational rows, naming each line', () => {
  const rows = [
    { prompt: [user('Hi')], completion: [assistant('Hello.')], label: true },
    { prompt: 'Once upon a time', completion: ' there was a cat.', label: false },
    { prompt: [user('Bye')], completion: [assistant('Bye.')], label: false },
  ];
  const text = rows.map((r) => JSON.stringify(r)).join('\n');

  it('stories260K has no chat_template: lines 1 and 3 are bad rows, the string row still loads', async () => {
    const s = await parseDatasetText(text, { fileName: 'ratings.jsonl', tokenizer: stories });
    expect(s.valid).toBe(1);
    expect(s.errors.map((e) => e.line)).toEqual([1, 3]);
    expect(s.errors[0].error).toBe(
      "conversational prompt/completion rows are rendered with the model's chat template, and this model has none (no chat_template in tokenizer_config.json): use a chat model, or write prompt and completion as strings",
    );
    expect(s.chatTemplate).toBeUndefined();
  });

  it('a chat template given instead (the override) renders them', async () => {
    const s = await parseDatasetText(text, { fileName: 'ratings.jsonl', tokenizer: stories, chatTemplate: qwen.chatTemplate! });
    expect(s.invalid).toBe(0);
    expect(s.chatTemplate).toEqual({ name: 'custom', fallback: false });
  });
});

describe("the Feedback panel's chat-turn ratings load as KTO rows", () => {
  const base = { prompt: 'What is 2+2?', chat: true, modelSource: 'Qwen/Qwen2.5-0.5B-Instruct', adapter: null, createdAtMs: 0 } as const;
  const answer = (text: string, seed: number) => ({ text, from: 'base' as const, temperature: 0.8, seed });
  const ratings: FeedbackRecord[] = [
    { ...base, id: 'a', kind: 'single', answer: answer('5.', 1), verdict: 'down', correction: '4.' },
    { ...base, id: 'b', kind: 'pair', a: answer('Four.', 2), b: answer('22.', 3), verdict: 'a' },
  ];

  it("the downloaded rows are TRL's conversational unpaired rows, and read back with their labels through Qwen2.5's template", async () => {
    const rows = toUnpairedRows(ratings);
    expect(rows).toEqual([
      { prompt: [user('What is 2+2?')], completion: [assistant('5.')], label: false },
      { prompt: [user('What is 2+2?')], completion: [assistant('4.')], label: true },
      { prompt: [user('What is 2+2?')], completion: [assistant('Four.')], label: true },
      { prompt: [user('What is 2+2?')], completion: [assistant('22.')], label: false },
    ]);
    const s = await parseDatasetText(toJsonl(rows), { fileName: 'feedback-unpaired.jsonl', tokenizer: qwen });
    expect(s).toMatchObject({ format: 'prompt-completion', valid: 4, invalid: 0, chatTemplate: { name: "the model's chat_template", fallback: false } });
    expect(s.examples.map((e) => e.label)).toEqual([false, true, true, false]);
    const promptText = `${QWEN_SYSTEM}<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n`;
    s.examples.forEach((e, i) => {
      const want = expected(qwen, promptText, `${['5.', '4.', 'Four.', '22.'][i]}<|im_end|>\n`);
      expect(e.inputIds).toEqual(want.inputIds);
      expect(e.lossMask).toEqual(want.lossMask);
    });
  });
});
