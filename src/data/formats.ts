// Dataset line formats: what each JSONL shape looks like, how a file's format is detected from its
// first lines, and per-line validation that says exactly what is wrong (line, field, reason).
// Records come out normalized (ShareGPT turns become {role, content}) so rendering sees one shape.
import { validatePreference } from './preference-lines';
import { isConversational, readLabel, validateChatCompletion } from './completion-lines';
import { DatasetLineError, isObject, typeName, MESSAGE_ROLES, type ChatMessage, type ChatRole, type DatasetRecord } from './record-shapes';

// The record shapes live in record-shapes.ts (the preference reader and the renderer need them too); their old home keeps them visible.
export { DatasetLineError, isObject, typeName, MESSAGE_ROLES } from './record-shapes';
export type { ChatMessage, ChatRole, DatasetRecord } from './record-shapes';

export const DATASET_FORMATS = ['text', 'prompt-completion', 'alpaca', 'messages', 'sharegpt', 'preference', 'prompt'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export function isDatasetFormat(s: string): s is DatasetFormat {
  return (DATASET_FORMATS as readonly string[]).includes(s);
}

/** One line of the form a person recognizes, for help texts and error messages. */
export const FORMAT_EXAMPLES: Record<DatasetFormat, string> = {
  text: '{"text": "..."}',
  'prompt-completion': '{"prompt": "...", "completion": "..."} (or both as message lists; "label": true|false for KTO)',
  alpaca: '{"instruction": "...", "input": "...", "output": "...", "system": "..."?}',
  messages: '{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}',
  sharegpt: '{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}',
  preference: '{"prompt": "...", "chosen": "...", "rejected": "..."} (or chosen/rejected as message lists)',
  prompt: '{"prompt": "...", ...fields a reward reads} (prompts only, for GRPO)',
};

/** Parses one line as JSON; invalid JSON becomes a DatasetLineError carrying the parser's message. */
export function parseJsonLine(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetLineError(line, `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * The format a single JSON value is shaped like, judged by its keys only (not validated), or null.
 * The most specific key wins: messages/conversations before alpaca before prompt/completion before text.
 */
export function shapeOf(v: unknown): DatasetFormat | null {
  if (!isObject(v)) return null;
  // A preference pair may carry a prompt (prompt-completion's key): chosen/rejected decide first.
  if ('chosen' in v || 'rejected' in v) return 'preference';
  if ('messages' in v) return 'messages';
  if ('conversations' in v) return 'sharegpt';
  if ('instruction' in v || 'output' in v) return 'alpaca';
  if ('prompt' in v || 'completion' in v) return 'prompt-completion';
  if ('text' in v) return 'text';
  return null;
}

/** How many leading lines detection may look at before deciding. */
export const DETECT_LINES = 50;

/**
 * A file's format: the most common shape among its first parsed lines (ties go to the earlier
 * shape seen). Null when no line has a known shape.
 */
export function detectFormat(values: unknown[]): DatasetFormat | null {
  const counts = new Map<DatasetFormat, number>();
  for (const v of values.slice(0, DETECT_LINES)) {
    const s = shapeOf(v);
    if (s) counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  let best: DatasetFormat | null = null;
  let bestN = 0;
  for (const [f, n] of counts) {
    if (n > bestN) {
      best = f;
      bestN = n;
    }
  }
  // Prompts with no completion anywhere in the first lines: a file of prompts (GRPO samples the answers).
  // Judged over the file, not per line, so a prompt/completion file's line missing its completion still says so.
  if (best === 'prompt-completion' && !values.slice(0, DETECT_LINES).some((v) => isObject(v) && 'completion' in v)) return 'prompt';
  return best;
}

function requireString(obj: Record<string, unknown>, field: string, line: number, opts: { optional?: boolean; allowEmpty?: boolean; path?: string } = {}): string | undefined {
  const path = opts.path ?? field;
  if (!(field in obj) || obj[field] === undefined) {
    if (opts.optional) return undefined;
    throw new DatasetLineError(line, `missing field "${path}"`, path);
  }
  const v = obj[field];
  if (typeof v !== 'string') throw new DatasetLineError(line, `field "${path}" must be a string, found ${typeName(v)}`, path);
  if (!opts.allowEmpty && v.trim() === '') throw new DatasetLineError(line, `field "${path}" is empty`, path);
  return v;
}

const SHAREGPT_ROLES: Record<string, ChatRole> = { human: 'user', gpt: 'assistant', system: 'system' };

function validateTurns(obj: Record<string, unknown>, line: number, listField: 'messages' | 'conversations'): ChatMessage[] {
  const [roleField, contentField, roles] = listField === 'messages' ? (['role', 'content', MESSAGE_ROLES] as const) : (['from', 'value', SHAREGPT_ROLES] as const);
  if (!(listField in obj)) throw new DatasetLineError(line, `missing field "${listField}"`, listField);
  const list = obj[listField];
  if (!Array.isArray(list)) throw new DatasetLineError(line, `field "${listField}" must be an array, found ${typeName(list)}`, listField);
  if (list.length === 0) throw new DatasetLineError(line, `field "${listField}" is empty`, listField);
  const out: ChatMessage[] = [];
  list.forEach((turn: unknown, i) => {
    const at = `${listField}[${i}]`;
    if (!isObject(turn)) throw new DatasetLineError(line, `${at} must be an object, found ${typeName(turn)}`, at);
    const rawRole = requireString(turn, roleField, line, { path: `${at}.${roleField}` }) as string;
    const role = roles[rawRole];
    if (!role) throw new DatasetLineError(line, `unknown role "${rawRole}" at ${at} (expected ${Object.keys(roles).join(', ')})`, `${at}.${roleField}`);
    // System turns may be empty in real exports; user and assistant turns may not.
    const content = requireString(turn, contentField, line, { path: `${at}.${contentField}`, allowEmpty: role === 'system' }) as string;
    out.push({ role, content });
  });
  if (!out.some((m) => m.role === 'assistant')) {
    const name = listField === 'messages' ? 'assistant' : 'gpt';
    throw new DatasetLineError(line, `no "${name}" turn in "${listField}": nothing to learn from`, listField);
  }
  return out;
}

/**
 * Validates one parsed line against the file's format and normalizes it. Throws DatasetLineError with
 * the first problem found; a line shaped like another format says so instead of listing missing fields.
 */
export function validateRecord(value: unknown, format: DatasetFormat, line: number): DatasetRecord {
  if (!isObject(value)) throw new DatasetLineError(line, `expected a JSON object like ${FORMAT_EXAMPLES[format]}, found ${typeName(value)}`);
  const shape = shapeOf(value);
  // A prompt row is shaped like a prompt/completion row (its keys decide shapes).
  if (shape !== null && shape !== format && !(format === 'prompt' && shape === 'prompt-completion')) {
    throw new DatasetLineError(line, `line is in "${shape}" format but the file is "${format}"`);
  }
  switch (format) {
    case 'text':
      return { format, text: requireString(value, 'text', line) as string };
    case 'prompt-completion': {
      // TRL's conversational rows (message lists) are rendered with the chat template instead.
      if (isConversational(value)) return validateChatCompletion(value, line);
      // An empty prompt is legitimate (unconditional generation); an empty completion teaches nothing.
      const prompt = requireString(value, 'prompt', line, { allowEmpty: true }) as string;
      const completion = requireString(value, 'completion', line) as string;
      return { format, prompt, completion, ...readLabel(value, line) };
    }
    case 'alpaca': {
      const instruction = requireString(value, 'instruction', line) as string;
      const input = requireString(value, 'input', line, { optional: true, allowEmpty: true }) ?? '';
      const output = requireString(value, 'output', line) as string;
      const system = requireString(value, 'system', line, { optional: true, allowEmpty: true });
      return system ? { format, instruction, input, output, system } : { format, instruction, input, output };
    }
    case 'messages':
      return { format, messages: validateTurns(value, line, 'messages') };
    case 'sharegpt':
      return { format, messages: validateTurns(value, line, 'conversations') };
    case 'preference':
      return validatePreference(value, line);
    case 'prompt': {
      // A completion here would be ignored silently: say so instead (GRPO samples its own answers).
      if ('completion' in value) throw new DatasetLineError(line, 'line has a "completion" but the file holds prompts only (GRPO samples the answers)', 'completion');
      const prompt = requireString(value, 'prompt', line) as string;
      return { format, prompt, row: value };
    }
    default:
      return assertNever(format);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled dataset format: ${String(x)}`);
}
