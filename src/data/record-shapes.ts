// The shapes of a dataset record, normalized from every line format (ShareGPT turns become
// {role, content}), the error a bad line raises, and the small pure helpers on them. Kept apart from
// the readers (formats.ts, preference-lines.ts) and the renderer (render.ts) that all need them.

export type ChatRole = 'system' | 'user' | 'assistant';
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export type PreferenceRecord =
  | { format: 'preference'; kind: 'text'; prompt: string; chosen: string; rejected: string }
  /** prompt: the shared opening turns (explicit, or the common leading turns of both conversations). */
  | { format: 'preference'; kind: 'chat'; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };

export type PreferenceSide = 'chosen' | 'rejected';

/**
 * TRL's conversational prompt-completion row (with a label, its conversational unpaired row for
 * KTO): prompt turns ending with a user turn, the completion the assistant's answer to it.
 */
export interface ChatCompletionRecord {
  format: 'prompt-completion';
  kind: 'chat';
  prompt: ChatMessage[];
  completion: ChatMessage[];
  label?: boolean;
}

export type DatasetRecord =
  | { format: 'text'; text: string }
  /** label: unpaired feedback for KTO (true: a desirable answer, false: an undesirable one). */
  | { format: 'prompt-completion'; kind?: 'text'; prompt: string; completion: string; label?: boolean }
  | ChatCompletionRecord
  | { format: 'alpaca'; instruction: string; input: string; output: string; system?: string }
  | { format: 'messages' | 'sharegpt'; messages: ChatMessage[] }
  | PreferenceRecord
  /** A prompt alone (GRPO samples the answers); row: the whole line, handed to the reward function. */
  | { format: 'prompt'; prompt: string; row: Record<string, unknown> };

/** One bad line: its 1-based number, the field at fault when there is one, and why. */
export class DatasetLineError extends Error {
  override name = 'DatasetLineError';
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly field?: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export const MESSAGE_ROLES: Record<string, ChatRole> = { user: 'user', assistant: 'assistant', system: 'system' };

/** One side of a pair as an ordinary record: the prompt followed by that answer. */
export function preferenceSide(rec: PreferenceRecord, side: PreferenceSide): DatasetRecord {
  return rec.kind === 'text'
    ? { format: 'prompt-completion', prompt: rec.prompt, completion: rec[side] }
    : { format: 'messages', messages: [...rec.prompt, ...rec[side]] };
}
