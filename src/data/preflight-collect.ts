// Gathers, while a dataset is parsed, the few facts per example that the preflight checks need
// (lengths, what is trained, where the stop token is, a duplicate key), so the checks run after the
// parse without keeping the rendered text of every line. It only reads: the data is never changed.
import { Template } from '@huggingface/jinja';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { ChatMessage, DatasetRecord } from './formats';
import { chatTemplateFor, type RenderedExample, type TrainingExample } from './render';

/** What one valid line contributes to the checks. */
export interface ExampleFacts {
  line: number;
  /** A prompt alone (GRPO): nothing is trained on it by design, so the answer checks skip it. */
  promptOnly?: boolean;
  /** Duplicate key: a hash of the normalized record (same content, same key, whatever the key order in the JSON). */
  key: string;
  /** Tokens before the length limit (0 without a tokenizer). */
  tokens: number;
  /** Trained tokens before the length limit. */
  trained: number;
  /** Trained tokens cut away by the length limit (or all of them when the example is dropped). */
  trainedLost: number;
  /** Left out entirely (too long under 'drop', or nothing left to train). */
  dropped: boolean;
  /** Whether a stop token (EOS / end of turn) is trained in the full rendered example. */
  stopTrained: boolean;
  /** Whether a trained stop token survives the length limit. */
  stopKept: boolean;
  /** The example starts with two BOS tokens. */
  doubleBos: boolean;
  /** Trained tokens that are not a stop token: 0-1 means the answer is empty or one token long. */
  answerTokens: number;
}

/** How a chat template fails to be prefix-preserving on one conversation. */
export interface PrefixBreak {
  line: number;
  /** Index of the message after which rendering the prefix gave a different start. */
  turn: number;
}

/** How many chat conversations get the (costly: several renders each) prefix-preserving check. */
export const PREFIX_CHECK_LINES = 20;
/** How many snippets are kept per kind, for the findings' examples. */
const SNIPPETS_KEPT = 3;

/** Token strings models use to end a turn; the tokenizer's own EOS is always one. */
const END_OF_TURN_TOKENS = ['<|im_end|>', '<|eot_id|>', '<end_of_turn>', '<|end|>', '<|endoftext|>', '</s>'];

/**
 * Ids of every stop token this tokenizer knows (its EOS plus the usual end-of-turn tokens it has as single
 * tokens): broader than tokenizer/stop-tokens.ts's stopTokenIds (what generation stops on), since the data
 * check runs without a model config and asks only whether some stop token is trained.
 */
export function knownStopTokenIds(tok: TextTokenizer): Set<number> {
  const ids = new Set<number>();
  if (tok.eosTokenId !== null) ids.add(tok.eosTokenId);
  for (const t of END_OF_TURN_TOKENS) {
    const enc = tok.encode(t, { addSpecialTokens: false });
    if (enc.length === 1 && tok.idToToken(enc[0]) === t) ids.add(enc[0]);
  }
  return ids;
}

/** 53-bit FNV-1a style hash of a string, as a short key (collisions would need ~10^8 distinct lines). */
function hashKey(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return `${(h1 >>> 0).toString(36)}${((h2 >>> 0) & 0x1fffff).toString(36)}:${s.length}`;
}

/** The record's content with the format tag dropped and whitespace at the ends ignored. */
function recordContent(r: DatasetRecord): string {
  switch (r.format) {
    case 'text':
      return r.text.trim();
    case 'prompt-completion':
      if (r.kind === 'chat') return JSON.stringify(['chat', ...[...r.prompt, ...r.completion].map((m) => [m.role, m.content.trim()])]);
      return JSON.stringify([r.prompt.trim(), r.completion.trim()]);
    case 'alpaca':
      return JSON.stringify([r.system ?? '', r.instruction.trim(), r.input.trim(), r.output.trim()]);
    case 'messages':
    case 'sharegpt':
      return JSON.stringify(r.messages.map((m) => [m.role, m.content.trim()]));
    default:
      return JSON.stringify(r); // formats added later: exact content
  }
}

/** The whole conversation of a record rendered with the chat template (for the prefix check), or null. */
function chatMessagesOf(r: DatasetRecord): ChatMessage[] | null {
  if (r.format === 'messages' || r.format === 'sharegpt') return r.messages;
  if (r.format === 'prompt-completion' && r.kind === 'chat') return [...r.prompt, ...r.completion];
  return null;
}

function snippetText(r: DatasetRecord): string {
  switch (r.format) {
    case 'text':
      return r.text;
    case 'prompt-completion':
      if (r.kind === 'chat') return [...r.prompt, ...r.completion].map((m) => `${m.role}: ${m.content}`).join(' / ');
      return `${r.prompt}|${r.completion}`;
    case 'alpaca':
      return `${r.instruction} → ${r.output}`;
    case 'messages':
    case 'sharegpt':
      return r.messages.map((m) => `${m.role}: ${m.content}`).join(' / ');
    default:
      return JSON.stringify(r);
  }
}

function snippet(r: DatasetRecord, max = 90): string {
  const s = snippetText(r);
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export class PreflightCollector {
  readonly facts: ExampleFacts[] = [];
  readonly prefixBreaks: PrefixBreak[] = [];
  /** Lines whose record is a repeat of an earlier line: [line, first line]. */
  readonly repeats: [number, number][] = [];
  /** A few record snippets by line, for the findings' examples. */
  readonly snippets = new Map<number, string>();
  private readonly firstLineOf = new Map<string, number>();
  private readonly stopIds: Set<number>;
  private readonly bosId: number | null;
  private chatChecked = 0;
  private template: Template | null = null;
  private snippetKinds = new Map<string, number>();

  constructor(
    private readonly tokenizer: TextTokenizer | undefined,
    private readonly chatTemplate?: string,
  ) {
    this.stopIds = tokenizer ? knownStopTokenIds(tokenizer) : new Set();
    this.bosId = tokenizer?.bosTokenId ?? null;
  }

  /** The first line with this key, if any: lets a second file (validation) be checked against this one. */
  lineOfKey(key: string): number | undefined {
    return this.firstLineOf.get(key);
  }

  private keep(kind: string, line: number, r: DatasetRecord): void {
    const n = this.snippetKinds.get(kind) ?? 0;
    if (n >= SNIPPETS_KEPT) return;
    this.snippetKinds.set(kind, n + 1);
    if (!this.snippets.has(line)) this.snippets.set(line, snippet(r));
  }

  /** Called once per valid line; `rendered` and `kept` only when a tokenizer rendered it. */
  add(record: DatasetRecord, line: number, rendered?: RenderedExample, kept?: TrainingExample | null): void {
    const key = hashKey(`${record.format === 'sharegpt' ? 'messages' : record.format}\u0000${recordContent(record)}`);
    const first = this.firstLineOf.get(key);
    if (first === undefined) this.firstLineOf.set(key, line);
    else {
      this.repeats.push([line, first]);
      this.keep('repeat', first, record);
    }
    const f: ExampleFacts = { line, key, tokens: 0, trained: 0, trainedLost: 0, dropped: false, stopTrained: false, stopKept: false, doubleBos: false, answerTokens: 0 };
    if (rendered) {
      const ids = rendered.inputIds;
      const keptMask = kept?.lossMask ?? [];
      f.tokens = ids.length;
      for (let t = 0; t < ids.length; t++) {
        if (!rendered.lossMask[t]) continue;
        f.trained++;
        const stop = this.stopIds.has(ids[t]);
        if (stop) f.stopTrained = true;
        else f.answerTokens++;
        if (keptMask[t]) {
          if (stop) f.stopKept = true;
        } else f.trainedLost++;
      }
      f.dropped = !kept;
      f.doubleBos = this.bosId !== null && ids[0] === this.bosId && ids[1] === this.bosId;
      if (record.format === 'prompt') f.promptOnly = true;
      else if (f.trained === 0) this.keep('masked', line, record);
      if (f.doubleBos) this.keep('bos', line, record);
      if (!f.stopTrained) this.keep('stop', line, record);
      if (f.answerTokens <= 1) this.keep('empty', line, record);
      if (f.trainedLost > 0) this.keep('cut', line, record);
      const conversation = chatMessagesOf(record);
      if (conversation && this.chatChecked < PREFIX_CHECK_LINES) {
        this.chatChecked++;
        const turn = this.prefixBreak(conversation);
        if (turn !== null) {
          this.prefixBreaks.push({ line, turn });
          this.keep('prefix', line, record);
        }
      }
    }
    this.facts.push(f);
  }

  /**
   * TRL's question: is rendering the first k messages a prefix of rendering them all? If not, the
   * masks found by rendering prefixes (render.ts) fall back to a text search and may be wrong, and
   * what the model sees at inference (prompt + generation prompt) differs from what it trained on.
   * Returns the first k where it breaks, or null.
   */
  private prefixBreak(messages: ChatMessage[]): number | null {
    const tok = this.tokenizer!;
    try {
      this.template ??= new Template(chatTemplateFor(tok, this.chatTemplate).template);
      const render = (msgs: ChatMessage[], gen: boolean) => this.template!.render({ messages: msgs, bos_token: tok.bosToken ?? '', eos_token: tok.eosToken ?? '', add_generation_prompt: gen });
      const full = render(messages, false);
      for (let k = 1; k < messages.length; k++) {
        const gen = messages[k].role === 'assistant';
        if (!full.startsWith(render(messages.slice(0, k), gen))) return k;
      }
      return null;
    } catch {
      return null; // a template that cannot render this conversation is already a bad line
    }
  }
}
