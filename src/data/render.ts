// Turns one validated dataset record into what the trainer sees: token ids and a loss mask.
// Every format becomes "one rendered string + the character spans that carry loss"; a single
// tokenization step then maps those spans onto tokens (see tokenSpans below for how).
import { Template } from '@huggingface/jinja';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import { DatasetLineError, preferenceSide, type ChatCompletionRecord, type ChatMessage, type DatasetRecord } from './record-shapes';
import { endOfTurnToken } from '../tokenizer/stop-tokens';

export interface TrainingExample {
  /** 1-based line of the dataset file this example came from. */
  line: number;
  inputIds: number[]; // [T]
  /** lossMask[t] = 1 when token t is a training target (predicted from tokens 0..t-1). Same length as inputIds. */
  lossMask: number[]; // [T]
  /** Preference pairs only (src/data/preference.ts): this example is the chosen answer, this the rejected one. */
  rejected?: { inputIds: number[]; lossMask: number[] };
  /** Unpaired feedback (KTO): whether the answer is desirable. */
  label?: boolean;
  /** Prompt rows (GRPO): the prompt's text and the whole line, for the reward function. */
  prompt?: string;
  row?: Record<string, unknown>;
}

export interface RenderOptions {
  /** Put loss on prompt / user / system tokens too (default false: only completions and assistant turns). */
  trainOnPrompt?: boolean;
  /** Overrides tokenizer.chatTemplate (and the fallback) for chat formats. */
  chatTemplate?: string;
}

/** An example plus the rendered string it was tokenized from (for previews). */
export interface RenderedExample extends TrainingExample {
  text: string;
}

/**
 * Used for chat formats when the model ships no chat_template. Plain words (so even a model that
 * only knows simple English can read it), EOS closing each assistant turn so the model learns to stop.
 */
export const FALLBACK_CHAT_TEMPLATE_NAME = 'Plain "User:/Assistant:" (fallback: the model has no chat template)';
export const FALLBACK_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}" +
  "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}" +
  "{% else %}{{ 'Assistant: ' + message['content'] + eos_token }}{% if not loop.last %}{{ '\\n' }}{% endif %}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

/** The chat template a tokenizer will be rendered with, and whether it is the fallback. */
export function chatTemplateFor(tokenizer: TextTokenizer, override?: string): { name: string; template: string; fallback: boolean } {
  if (override) return { name: 'custom', template: override, fallback: false };
  if (tokenizer.chatTemplate) return { name: "the model's chat_template", template: tokenizer.chatTemplate, fallback: false };
  return { name: FALLBACK_CHAT_TEMPLATE_NAME, template: FALLBACK_CHAT_TEMPLATE, fallback: true };
}

/**
 * Alpaca records are rendered as plain prompt text (not through the chat template), the layout
 * instruction-tuned datasets were written for: optional system line, instruction, optional input,
 * then the response, which alone carries loss.
 */
export function alpacaPrompt(r: { instruction: string; input: string; system?: string }): string {
  const head = r.system ? `${r.system}\n\n` : '';
  const input = r.input.trim() !== '' ? `### Input:\n${r.input}\n\n` : '';
  return `${head}### Instruction:\n${r.instruction}\n\n${input}### Response:\n`;
}

/** A rendered string with the character ranges [start, end) that carry loss. */
interface Rendered {
  text: string;
  trained: [number, number][];
  /** Whether the tokenizer adds its own special tokens (BOS); chat templates write their own. */
  addSpecialTokens: boolean;
  /** Chat formats: the template's end-of-turn token (e.g. Gemma's <end_of_turn>), which already teaches stopping. */
  endOfTurn?: string;
}

const templateCache = new Map<string, Template>();
function compile(source: string): Template {
  let t = templateCache.get(source);
  if (!t) {
    t = new Template(source);
    templateCache.set(source, t);
  }
  return t;
}

/** The chat template (the model's, the override, or the fallback) as a render function, and its end-of-turn token. */
function chatRenderer(tokenizer: TextTokenizer, line: number, opts: RenderOptions): { render: (msgs: ChatMessage[], addGenerationPrompt: boolean) => string; eot?: string } {
  const { template: source } = chatTemplateFor(tokenizer, opts.chatTemplate);
  let template: Template;
  try {
    template = compile(source);
  } catch (e) {
    throw new DatasetLineError(line, `chat template does not parse: ${(e as Error).message}`);
  }
  const render = (msgs: ChatMessage[], addGenerationPrompt: boolean): string =>
    template.render({ messages: msgs, bos_token: tokenizer.bosToken ?? '', eos_token: tokenizer.eosToken ?? '', add_generation_prompt: addGenerationPrompt });
  return { render, eot: endOfTurnToken(tokenizer, source)?.text };
}

function renderChat(messages: ChatMessage[], tokenizer: TextTokenizer, line: number, opts: RenderOptions): Rendered {
  const { render, eot } = chatRenderer(tokenizer, line, opts);
  let text: string;
  try {
    text = render(messages, false);
  } catch (e) {
    throw new DatasetLineError(line, `chat template failed on this conversation: ${(e as Error).message}`);
  }
  const trained: [number, number][] = [];
  if (opts.trainOnPrompt) trained.push([0, text.length]);
  else {
    // Assistant turn i spans from the end of "conversation before i + generation prompt" to the end
    // of "conversation up to and including i", so its end-of-turn marker is trained as well.
    // Templates that do not render prefixes as prefixes (some rewrite earlier turns) fall back to
    // finding the assistant's content in the text, plus an EOS right after it.
    let cursor = 0;
    messages.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      let start = -1;
      let end = -1;
      try {
        const before = render(messages.slice(0, i), true);
        const through = render(messages.slice(0, i + 1), false);
        if (text.startsWith(before) && text.startsWith(through) && through.length > before.length && before.length >= cursor) {
          start = before.length;
          end = through.length;
        }
      } catch {
        // e.g. a template that refuses a conversation starting with an assistant turn: use the search.
      }
      if (start < 0) {
        start = text.indexOf(m.content, cursor);
        if (start < 0) throw new DatasetLineError(line, `chat template output does not contain the assistant turn at index ${i}`);
        end = start + m.content.length;
        for (const marker of [eot, tokenizer.eosToken]) if (marker && text.startsWith(marker, end)) end += marker.length;
      }
      trained.push([start, end]);
      cursor = end;
    });
  }
  return { text, trained, addSpecialTokens: false, endOfTurn: eot };
}

/**
 * TRL's conversational prompt-completion row, as its maybe_apply_chat_template splits it: the prompt
 * turns rendered with the generation prompt, the whole conversation rendered once, and the
 * completion is what follows their common prefix. Only that carries loss, the end-of-turn token
 * included; assistant turns inside the prompt are context. There is no fallback template here:
 * such rows are answers a chat model gave through its own template (the Use step's chat turns), and
 * nothing in the studio prompts a model without a template in the fallback's "User:/Assistant:" layout.
 */
function renderChatCompletion(rec: ChatCompletionRecord, tokenizer: TextTokenizer, line: number, opts: RenderOptions): Rendered {
  if (!opts.chatTemplate && !tokenizer.chatTemplate) {
    throw new DatasetLineError(line, "conversational prompt/completion rows are rendered with the model's chat template, and this model has none (no chat_template in tokenizer_config.json): use a chat model, or write prompt and completion as strings");
  }
  const { render, eot } = chatRenderer(tokenizer, line, opts);
  let prompt: string;
  let text: string;
  try {
    prompt = render(rec.prompt, true);
    text = render([...rec.prompt, ...rec.completion], false);
  } catch (e) {
    throw new DatasetLineError(line, `chat template failed on this conversation: ${(e as Error).message}`);
  }
  let start = 0;
  while (start < prompt.length && start < text.length && prompt[start] === text[start]) start++;
  if (start >= text.length) throw new DatasetLineError(line, 'the chat template rendered nothing for the completion after the prompt', 'completion');
  return { text, trained: [[opts.trainOnPrompt ? 0 : start, text.length]], addSpecialTokens: false, endOfTurn: eot };
}

function renderRecordText(rec: DatasetRecord, tokenizer: TextTokenizer, line: number, opts: RenderOptions): Rendered {
  switch (rec.format) {
    case 'text':
      return { text: rec.text, trained: [[0, rec.text.length]], addSpecialTokens: true };
    case 'prompt-completion': {
      if (rec.kind === 'chat') return renderChatCompletion(rec, tokenizer, line, opts);
      const text = rec.prompt + rec.completion;
      return { text, trained: [[opts.trainOnPrompt ? 0 : rec.prompt.length, text.length]], addSpecialTokens: true };
    }
    case 'alpaca': {
      const prompt = alpacaPrompt(rec);
      const text = prompt + rec.output;
      return { text, trained: [[opts.trainOnPrompt ? 0 : prompt.length, text.length]], addSpecialTokens: true };
    }
    case 'messages':
    case 'sharegpt':
      return renderChat(rec.messages, tokenizer, line, opts);
    case 'preference':
      // Outside DPO a pair is its chosen answer (supervised tuning on the better answers).
      return renderRecordText(preferenceSide(rec, 'chosen'), tokenizer, line, opts);
    case 'prompt':
      return { text: rec.prompt, trained: [], addSpecialTokens: true };
  }
}

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Maps character boundaries of `text` to token boundaries without needing tokenizer offsets:
 * boundary(c) = length of the common prefix of encode(text[0:c]) and encode(text). A token that
 * straddles c (its characters lie on both sides) therefore falls after the boundary: it is trained
 * when a trained span starts at c, and not trained when one ends at c.
 */
function tokenBoundary(tokenizer: TextTokenizer, text: string, c: number, fullIds: number[], addSpecialTokens: boolean): number {
  if (c >= text.length) return fullIds.length;
  return commonPrefix(tokenizer.encode(text.slice(0, c), { addSpecialTokens }), fullIds);
}

/** Renders and tokenizes one record. Throws DatasetLineError when a chat template cannot render it. */
export function renderExample(rec: DatasetRecord, tokenizer: TextTokenizer, line: number, opts: RenderOptions = {}): RenderedExample {
  const r = renderRecordText(rec, tokenizer, line, opts);
  const inputIds = tokenizer.encode(r.text, { addSpecialTokens: r.addSpecialTokens }); // [T]
  const lossMask = new Array<number>(inputIds.length).fill(0); // [T]
  for (const [start, end] of r.trained) {
    const t0 = tokenBoundary(tokenizer, r.text, start, inputIds, r.addSpecialTokens);
    const t1 = tokenBoundary(tokenizer, r.text, end, inputIds, r.addSpecialTokens);
    for (let t = t0; t < t1; t++) lossMask[t] = 1;
  }
  let text = r.text;
  const eos = tokenizer.eosTokenId;
  const closing = r.text.trimEnd();
  const endsWithEos =
    inputIds[inputIds.length - 1] === eos || (tokenizer.eosToken !== null && closing.endsWith(tokenizer.eosToken)) || (r.endOfTurn !== undefined && closing.endsWith(r.endOfTurn));
  if (eos !== null && !endsWithEos) {
    inputIds.push(eos);
    lossMask.push(1);
    text += tokenizer.eosToken ?? '';
  }
  if (lossMask.length > 0) lossMask[0] = 0; // the first token has nothing before it to be predicted from
  return { line, inputIds, lossMask, text };
}

/**
 * A prompt alone (GRPO): its tokens with the tokenizer's own BOS, no end of sequence and nothing
 * trained; the sampled completions are what GRPO trains on.
 */
export function renderPrompt(rec: Extract<DatasetRecord, { format: 'prompt' }>, tokenizer: TextTokenizer, line: number): RenderedExample {
  const inputIds = tokenizer.encode(rec.prompt, { addSpecialTokens: true }); // [P]
  return { line, inputIds, lossMask: new Array<number>(inputIds.length).fill(0), text: rec.prompt };
}

/** A prompt keeps at least one position of maxLength for its completion; a longer one is left out (cutting would change the question). */
export function fitPrompt<E extends TrainingExample>(ex: E, maxLength: number | undefined): { example: E | null; truncated: boolean } {
  return { example: maxLength === undefined || ex.inputIds.length < maxLength ? ex : null, truncated: false };
}

export type OverflowPolicy = 'truncate' | 'drop';

/**
 * Applies the maximum sequence length. Returns the example (cut to maxLength when truncating) or
 * null when it must be dropped: too long under 'drop', or left with no trained token after the cut.
 */
export function fitLength<E extends TrainingExample>(ex: E, maxLength: number | undefined, overflow: OverflowPolicy): { example: E | null; truncated: boolean } {
  const has = (m: number[]) => m.some((x) => x === 1);
  if (maxLength === undefined || ex.inputIds.length <= maxLength) return { example: has(ex.lossMask) ? ex : null, truncated: false };
  if (overflow === 'drop') return { example: null, truncated: false };
  const cut = { ...ex, inputIds: ex.inputIds.slice(0, maxLength), lossMask: ex.lossMask.slice(0, maxLength) };
  return { example: has(cut.lossMask) ? cut : null, truncated: true };
}

/** Readable text of one token for previews: '▁' as a space, byte tokens <0x0A> as their character. */
export function displayToken(tokenizer: TextTokenizer, id: number): string {
  const raw = tokenizer.idToToken(id) ?? `<${id}>`;
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(raw);
  if (byte) {
    const b = parseInt(byte[1], 16);
    return b < 0x80 ? String.fromCharCode(b) : raw;
  }
  // 'Ġ' is the GPT-2 byte-level space, '▁' the SentencePiece one.
  return raw.replace(/▁/g, ' ').replace(/Ġ/g, ' ').replace(/Ċ/g, '\n');
}
