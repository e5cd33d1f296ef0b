// Preference lines as TRL reads them: strings ({"prompt","chosen","rejected"}), and conversational
// (chosen/rejected as message lists, the prompt a string, a message list, or left out when both
// conversations share their opening turns). Validation only; rendering is preference.ts.
import { DatasetLineError, MESSAGE_ROLES, isObject, typeName, type ChatMessage, type PreferenceRecord } from './record-shapes';

/** A list of {role, content} messages (TRL's conversational fields); each bad turn is named by its index. */
export function messageTurns(v: unknown, line: number, field: string): ChatMessage[] {
  if (!Array.isArray(v)) throw new DatasetLineError(line, `field "${field}" must be a string or a list of messages, found ${typeName(v)}`, field);
  return v.map((turn: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(turn)) throw new DatasetLineError(line, `${at} must be an object like {"role": "assistant", "content": "..."}, found ${typeName(turn)}`, at);
    const role = typeof turn.role === 'string' ? MESSAGE_ROLES[turn.role] : undefined;
    if (!role) throw new DatasetLineError(line, `${at}.role must be one of ${Object.keys(MESSAGE_ROLES).join(', ')}, found ${JSON.stringify(turn.role ?? null)}`, `${at}.role`);
    if (typeof turn.content !== 'string') throw new DatasetLineError(line, `${at}.content must be a string, found ${typeName(turn.content)}`, `${at}.content`);
    if (role !== 'system' && turn.content.trim() === '') throw new DatasetLineError(line, `${at}.content is empty`, `${at}.content`);
    return { role, content: turn.content };
  });
}

const sameTurn = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

/** Validates one preference line; the first problem found is thrown as a DatasetLineError naming its field. */
export function validatePreference(v: Record<string, unknown>, line: number): PreferenceRecord {
  for (const f of ['chosen', 'rejected'] as const) if (!(f in v)) throw new DatasetLineError(line, `missing field "${f}"`, f);
  const { chosen, rejected, prompt } = v;
  if (typeof chosen === 'string' || typeof rejected === 'string') {
    for (const [f, x] of [['chosen', chosen], ['rejected', rejected]] as const) {
      if (typeof x !== 'string') throw new DatasetLineError(line, `field "${f}" must be a string like the other answer, found ${typeName(x)}`, f);
      if (x.trim() === '') throw new DatasetLineError(line, `field "${f}" is empty`, f);
    }
    if (prompt === undefined) throw new DatasetLineError(line, 'missing field "prompt" (text answers need the prompt they answer)', 'prompt');
    if (typeof prompt !== 'string') throw new DatasetLineError(line, `field "prompt" must be a string when the answers are strings, found ${typeName(prompt)}`, 'prompt');
    if (chosen === rejected) throw new DatasetLineError(line, 'fields "chosen" and "rejected" are the same: nothing to prefer', 'rejected');
    return { format: 'preference', kind: 'text', prompt, chosen: chosen as string, rejected: rejected as string };
  }
  let c = messageTurns(chosen, line, 'chosen');
  let r = messageTurns(rejected, line, 'rejected');
  let p: ChatMessage[];
  if (prompt === undefined) {
    // Implicit prompt: the turns both conversations open with.
    let k = 0;
    while (k < c.length && k < r.length && sameTurn(c[k], r[k])) k++;
    p = c.slice(0, k);
    c = c.slice(k);
    r = r.slice(k);
  } else p = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : messageTurns(prompt, line, 'prompt');
  for (const [f, x] of [['chosen', c], ['rejected', r]] as const) {
    if (x.length === 0) throw new DatasetLineError(line, `"chosen" and "rejected" are the same conversation: nothing to prefer`, f);
    if (!x.some((m) => m.role === 'assistant')) throw new DatasetLineError(line, `field "${f}" has no assistant turn after the prompt: nothing to learn from`, f);
  }
  if (c.length === r.length && c.every((m, i) => sameTurn(m, r[i]))) throw new DatasetLineError(line, 'fields "chosen" and "rejected" are the same: nothing to prefer', 'rejected');
  return { format: 'preference', kind: 'chat', prompt: p, chosen: c, rejected: r };
}
