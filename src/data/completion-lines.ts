// Conversational prompt-completion lines as TRL reads them: {"prompt": [turns ending with a user
// turn], "completion": [the assistant's answer], "label"?: true|false} (with the label, TRL's
// conversational unpaired rows for KTO). Validation only; render.ts renders them with the chat template.
import { messageTurns } from './preference-lines';
import { DatasetLineError, typeName, type ChatCompletionRecord } from './record-shapes';

/** A prompt-completion line is conversational when either field is a list (of messages, once validated). */
export function isConversational(v: Record<string, unknown>): boolean {
  return Array.isArray(v.prompt) || Array.isArray(v.completion);
}

/** The optional KTO label: absent, or a boolean. */
export function readLabel(v: Record<string, unknown>, line: number): { label?: boolean } {
  if (!('label' in v)) return {};
  if (typeof v.label !== 'boolean') throw new DatasetLineError(line, `field "label" must be true or false (KTO feedback), found ${typeName(v.label)}`, 'label');
  return { label: v.label };
}

/**
 * Validates one conversational prompt-completion line; the first problem is thrown as a
 * DatasetLineError naming its field. Both fields must be message lists (TRL treats a row as
 * conversational only when all of it is), the prompt ending with a user turn and the completion
 * holding assistant turns only: what the chat template renders as the answer to that prompt.
 */
export function validateChatCompletion(v: Record<string, unknown>, line: number): ChatCompletionRecord {
  for (const f of ['prompt', 'completion'] as const) if (!(f in v) || v[f] === undefined) throw new DatasetLineError(line, `missing field "${f}"`, f);
  const { prompt, completion } = v;
  if (!Array.isArray(completion)) {
    throw new DatasetLineError(line, `field "completion" must be a list of assistant messages like [{"role": "assistant", "content": "..."}] when the prompt is a message list, found ${typeName(completion)}`, 'completion');
  }
  if (!Array.isArray(prompt)) {
    throw new DatasetLineError(line, `field "prompt" must be a list of messages like [{"role": "user", "content": "..."}] when the completion is one (TRL reads a row as conversational only when all its fields are), found ${typeName(prompt)}`, 'prompt');
  }
  const p = messageTurns(prompt, line, 'prompt');
  if (p.length === 0) throw new DatasetLineError(line, 'field "prompt" is an empty list: the completion must answer a user turn', 'prompt');
  const last = p.length - 1;
  if (p[last].role !== 'user') {
    throw new DatasetLineError(line, `the prompt must end with a user turn for the completion to answer, but prompt[${last}] has role "${p[last].role}"`, `prompt[${last}].role`);
  }
  const c = messageTurns(completion, line, 'completion');
  if (c.length === 0) throw new DatasetLineError(line, 'field "completion" is an empty list: nothing to learn from', 'completion');
  const other = c.findIndex((m) => m.role !== 'assistant');
  if (other >= 0) {
    throw new DatasetLineError(line, `completion[${other}].role must be "assistant" (the completion is the model's answer), found "${c[other].role}"`, `completion[${other}].role`);
  }
  return { format: 'prompt-completion', kind: 'chat', prompt: p, completion: c, ...readLabel(v, line) };
}
