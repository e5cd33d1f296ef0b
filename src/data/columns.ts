// Column mapping: when a file's columns are not one of the known formats (hub datasets name them
// question/answer, instruction/response, conversations with from/value ...), a mapping says which
// column feeds which field of a format. It is detected from common names, shown and edited in the
// Dataset step, given to the CLIs as --columns, and saved with the dataset and the run.
import { DatasetLineError, isObject, typeName, type ChatRole } from './formats';

/** The formats a mapping can produce, and the fields each one takes. */
export const MAPPING_FORMATS = ['prompt-completion', 'alpaca', 'messages', 'preference', 'unpaired', 'text', 'prompt'] as const;
export type MappingFormat = (typeof MAPPING_FORMATS)[number];

/** Field names per mapping format; `required` ones must be mapped. Messages also take role/content keys. */
export const MAPPING_FIELDS: Record<MappingFormat, { field: string; required: boolean; label: string }[]> = {
  'prompt-completion': [
    { field: 'prompt', required: true, label: 'Prompt' },
    { field: 'completion', required: true, label: 'Completion' },
  ],
  alpaca: [
    { field: 'instruction', required: true, label: 'Instruction' },
    { field: 'input', required: false, label: 'Input' },
    { field: 'output', required: true, label: 'Output' },
    { field: 'system', required: false, label: 'System' },
  ],
  messages: [
    { field: 'messages', required: true, label: 'Conversation (list of turns)' },
    { field: 'role', required: true, label: 'Role key in each turn' },
    { field: 'content', required: true, label: 'Content key in each turn' },
  ],
  preference: [
    { field: 'prompt', required: false, label: 'Prompt' },
    { field: 'chosen', required: true, label: 'Chosen answer' },
    { field: 'rejected', required: true, label: 'Rejected answer' },
  ],
  // KTO-style unpaired feedback: one answer and whether it is good.
  unpaired: [
    { field: 'prompt', required: true, label: 'Prompt' },
    { field: 'completion', required: true, label: 'Completion' },
    { field: 'label', required: true, label: 'Label (good / bad)' },
  ],
  text: [{ field: 'text', required: true, label: 'Text' }],
  // Prompts alone, for GRPO: every other column still reaches the reward function.
  prompt: [{ field: 'prompt', required: true, label: 'Prompt' }],
};

/** Which column (or, for messages' role/content, which key inside a turn) feeds each field. */
export interface ColumnMapping {
  format: MappingFormat;
  /** field -> source column (or turn key); only mapped fields appear. */
  fields: Record<string, string>;
}

export class ColumnMappingError extends Error {
  override name = 'ColumnMappingError';
}

/** The mapping's problems (unknown field, missing required field), or [] when it is usable. */
export function mappingProblems(m: ColumnMapping): string[] {
  const spec = MAPPING_FIELDS[m.format];
  if (!spec) return [`unknown format "${m.format}"; one of ${MAPPING_FORMATS.join(', ')}`];
  const out: string[] = [];
  for (const k of Object.keys(m.fields)) if (!spec.some((f) => f.field === k)) out.push(`"${k}" is not a field of ${m.format} (${spec.map((f) => f.field).join(', ')})`);
  for (const f of spec) if (f.required && !m.fields[f.field]) out.push(`${m.format} needs "${f.field}" mapped to a column`);
  return out;
}

/** Which format a set of mapped field names means (the CLI's --columns names fields, not a format). */
export function formatOfFields(fields: string[]): MappingFormat {
  const has = (f: string) => fields.includes(f);
  if (has('messages') || has('role') || has('content')) return 'messages';
  if (has('chosen') || has('rejected')) return 'preference';
  if (has('label')) return 'unpaired';
  if (has('instruction') || has('output') || has('input') || has('system')) return 'alpaca';
  if (has('prompt') && fields.length === 1) return 'prompt';
  if (has('prompt') || has('completion')) return 'prompt-completion';
  return 'text';
}

/** `prompt=question,completion=answer` (the CLIs' --columns) as a checked mapping; `answers`: refuse a prompt-only mapping. */
export function parseColumnsFlag(flag: string, opts: { answers?: boolean } = {}): ColumnMapping {
  const fields: Record<string, string> = {};
  for (const part of flag.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new ColumnMappingError(`--columns: "${part}" is not field=column (e.g. prompt=question,completion=answer)`);
    const field = part.slice(0, eq).trim();
    if (field in fields) throw new ColumnMappingError(`--columns: "${field}" is mapped twice`);
    fields[field] = part.slice(eq + 1).trim();
  }
  if (Object.keys(fields).length === 0) throw new ColumnMappingError('--columns: empty; expected field=column pairs, e.g. prompt=question,completion=answer');
  const m: ColumnMapping = { format: formatOfFields(Object.keys(fields)), fields };
  // Training on answers (or evaluating them): a prompt column alone is a file of prompts, which only GRPO reads.
  if (opts.answers && m.format === 'prompt') throw new ColumnMappingError('--columns: prompt-completion needs "completion" mapped to a column (a prompt alone makes a file of prompts, for --objective grpo)');
  const problems = mappingProblems(m);
  if (problems.length) throw new ColumnMappingError(`--columns: ${problems.join('; ')}`);
  return m;
}

/** The inverse of parseColumnsFlag, for messages and run records. */
export function columnsFlag(m: ColumnMapping): string {
  return Object.entries(m.fields).map(([f, c]) => `${f}=${c}`).join(',');
}

/** Role names seen in the wild, by the role the chat template knows. */
export const ROLE_ALIASES: Record<string, ChatRole> = {
  user: 'user', human: 'user', prompter: 'user', question: 'user', customer: 'user',
  assistant: 'assistant', gpt: 'assistant', bot: 'assistant', model: 'assistant', chatgpt: 'assistant', ai: 'assistant', answer: 'assistant',
  system: 'system',
};

const LABEL_VALUES: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, good: true, bad: false, yes: true, no: false, desirable: true, undesirable: false };

function cell(row: Record<string, unknown>, column: string, field: string, line: number): unknown {
  const v = row[column];
  if (v === undefined) throw new DatasetLineError(line, `missing column "${column}" (mapped to ${field})`, column);
  return v;
}

/**
 * One source row as a record in the mapped format's own shape ({prompt, completion}, {messages:
 * [{role, content}]} ...), so detection and validation downstream see a known format. Turn roles
 * are normalized through ROLE_ALIASES; a label becomes a boolean. Errors name the source column.
 */
export function applyMapping(value: unknown, m: ColumnMapping, line: number): Record<string, unknown> {
  if (!isObject(value)) throw new DatasetLineError(line, `expected a row with columns, found ${typeName(value)}`);
  const out: Record<string, unknown> = {};
  const f = m.fields;
  if (m.format === 'messages') {
    const list = cell(value, f.messages, 'messages', line);
    if (!Array.isArray(list)) throw new DatasetLineError(line, `column "${f.messages}" must be a list of turns, found ${typeName(list)}`, f.messages);
    out.messages = list.map((turn: unknown, i) => {
      const at = `${f.messages}[${i}]`;
      if (!isObject(turn)) throw new DatasetLineError(line, `${at} must be an object, found ${typeName(turn)}`, at);
      const raw = turn[f.role];
      if (typeof raw !== 'string') throw new DatasetLineError(line, `${at}.${f.role} (the role key) must be a string, found ${typeName(raw)}`, `${at}.${f.role}`);
      const role = ROLE_ALIASES[raw.trim().toLowerCase()];
      if (!role) throw new DatasetLineError(line, `unknown role "${raw}" at ${at}.${f.role} (known: ${Object.keys(ROLE_ALIASES).join(', ')})`, `${at}.${f.role}`);
      return { role, content: turn[f.content] };
    });
    return out;
  }
  for (const spec of MAPPING_FIELDS[m.format]) {
    const column = f[spec.field];
    if (!column) continue;
    const v = spec.required ? cell(value, column, spec.field, line) : value[column];
    if (v !== undefined) out[spec.field] = v;
  }
  if (m.format === 'unpaired') {
    const raw = out.label;
    const label = typeof raw === 'boolean' ? raw : LABEL_VALUES[String(raw).trim().toLowerCase()];
    if (label === undefined) throw new DatasetLineError(line, `column "${f.label}" (the label) must be true/false, 1/0 or good/bad, found ${JSON.stringify(raw)}`, f.label);
    out.label = label;
  }
  return out;
}

/** What the mapper shows for one column: its name and the first few values. */
export interface ColumnInfo {
  name: string;
  /** JSON type names seen (string, number, array ...). */
  types: string[];
  /** Up to three sample values, as short text. */
  samples: string[];
}

const SAMPLES = 3;
const SAMPLE_CHARS = 80;

function sampleText(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > SAMPLE_CHARS ? `${one.slice(0, SAMPLE_CHARS - 1)}…` : one;
}

/** The columns of the first rows, in first-seen order, with types and sample values. */
export function describeColumns(rows: unknown[]): ColumnInfo[] {
  const by = new Map<string, ColumnInfo>();
  for (const r of rows) {
    if (!isObject(r)) continue;
    for (const [k, v] of Object.entries(r)) {
      let c = by.get(k);
      if (!c) by.set(k, (c = { name: k, types: [], samples: [] }));
      const t = typeName(v);
      if (!c.types.includes(t)) c.types.push(t);
      if (c.samples.length < SAMPLES) c.samples.push(sampleText(v));
    }
  }
  return [...by.values()];
}

/** Keys each known format needs: files whose columns include one of these sets need no mapping. */
const KNOWN_FORMAT_KEYS: string[][] = [['text'], ['prompt', 'completion'], ['instruction', 'output'], ['chosen', 'rejected']];

/** Common hub names per field, most usual first (compared case-insensitively). */
const NAME_ALIASES: Record<string, string[]> = {
  prompt: ['prompt', 'question', 'query', 'input', 'problem', 'instruction', 'source', 'src', 'context'],
  completion: ['completion', 'answer', 'response', 'output', 'solution', 'target', 'tgt', 'reply'],
  instruction: ['instruction', 'instructions'],
  input: ['input', 'context'],
  output: ['output', 'response', 'answer'],
  system: ['system', 'system_prompt'],
  chosen: ['chosen', 'chosen_response', 'response_chosen', 'preferred', 'better'],
  rejected: ['rejected', 'rejected_response', 'response_rejected', 'dispreferred', 'worse'],
  label: ['label', 'kto_label', 'is_good'],
  text: ['text', 'content', 'document', 'story', 'body', 'sentence'],
  messages: ['messages', 'conversations', 'conversation', 'dialog', 'dialogue', 'chat', 'turns'],
  role: ['role', 'from', 'speaker', 'author', 'sender'],
  content: ['content', 'value', 'text', 'message', 'utterance'],
};

/**
 * A mapping for rows whose columns are not a known format, from common names; null when the
 * columns already are a known format (nothing to map) or nothing fits. Tried in order: a list of
 * turns (messages), preference, unpaired (a label column), alpaca (instruction + output), then
 * prompt/completion, then a single text column, then a prompt column alone (prompts for GRPO).
 */
export function suggestMapping(rows: unknown[]): ColumnMapping | null {
  const columns = describeColumns(rows);
  const names = columns.map((c) => c.name);
  const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const hasLabel = [...lower.keys()].some((k) => NAME_ALIASES.label.includes(k));
  // {prompt, completion, label} is TRL's unpaired format: it still needs the label mapped.
  if (!hasLabel && KNOWN_FORMAT_KEYS.some((keys) => keys.every((k) => lower.get(k) === k))) return null;
  const used = new Set<string>();
  const find = (field: string): string | undefined => {
    for (const alias of NAME_ALIASES[field]) {
      const hit = lower.get(alias);
      if (hit && !used.has(hit)) {
        used.add(hit);
        return hit;
      }
    }
    return undefined;
  };

  // A list of turns: messages/conversations are known only with their own keys (role/content, from/value).
  const listColumn = columns.find((c) => NAME_ALIASES.messages.includes(c.name.toLowerCase()) && c.types.includes('array'));
  if (listColumn) {
    const turn = rows.map((r) => (isObject(r) ? r[listColumn.name] : undefined)).find((l): l is unknown[] => Array.isArray(l) && l.length > 0)?.[0];
    if (isObject(turn)) {
      const keys = Object.keys(turn);
      const role = NAME_ALIASES.role.find((k) => keys.includes(k));
      const content = NAME_ALIASES.content.find((k) => keys.includes(k) && k !== role);
      const native = (listColumn.name === 'messages' && role === 'role' && content === 'content') || (listColumn.name === 'conversations' && role === 'from' && content === 'value');
      if (role && content && !native) return { format: 'messages', fields: { messages: listColumn.name, role, content } };
      if (native) return null;
    }
  }
  const pick = (format: MappingFormat, order: string[]): ColumnMapping | null => {
    used.clear();
    const fields: Record<string, string> = {};
    for (const field of order) {
      const c = find(field);
      if (c) fields[field] = c;
    }
    const m = { format, fields };
    return mappingProblems(m).length === 0 ? m : null;
  };
  if (lower.has('chosen') || lower.has('rejected') || [...lower.keys()].some((k) => NAME_ALIASES.chosen.includes(k))) {
    const m = pick('preference', ['chosen', 'rejected', 'prompt']);
    if (m) return m;
  }
  if (hasLabel) {
    const m = pick('unpaired', ['label', 'completion', 'prompt']);
    if (m) return m;
  }
  if (lower.has('instruction') || lower.has('instructions')) {
    const m = pick('alpaca', ['instruction', 'output', 'input', 'system']);
    if (m) return m;
  }
  const prompts = pick('prompt', ['prompt']);
  // A column already named "prompt" needs no mapping: the file is in the prompt format itself.
  return pick('prompt-completion', ['completion', 'prompt']) ?? pick('text', ['text']) ?? (prompts?.fields.prompt === 'prompt' ? null : prompts);
}
