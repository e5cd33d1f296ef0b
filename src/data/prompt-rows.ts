// Prompt-only rows for GRPO: {"prompt": "...", ...any fields the reward function reads}. Each prompt is
// tokenized the way a prompt-completion example's prompt is (the tokenizer's own BOS, no chat template);
// the whole line travels with it to the reward function.
import { DatasetLineError, isObject, parseJsonLine, typeName } from './formats';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TokenizedExample } from '../train/batches';

export interface PromptRows {
  rows: TokenizedExample[];
  errors: DatasetLineError[];
  lines: number;
}

export function parsePromptRows(text: string, tokenizer: TextTokenizer): PromptRows {
  const rows: TokenizedExample[] = [];
  const errors: DatasetLineError[] = [];
  let lines = 0;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    lines++;
    try {
      const v = parseJsonLine(raw, line);
      if (!isObject(v)) throw new DatasetLineError(line, `expected a JSON object like {"prompt": "..."}, found ${typeName(v)}`);
      if (typeof v.prompt !== 'string') throw new DatasetLineError(line, `field "prompt" must be a string, found ${typeName(v.prompt)}`, 'prompt');
      if (v.prompt.trim() === '') throw new DatasetLineError(line, 'field "prompt" is empty', 'prompt');
      const inputIds = tokenizer.encode(v.prompt, { addSpecialTokens: true }); // [P]
      rows.push({ inputIds, lossMask: new Array<number>(inputIds.length).fill(0), prompt: v.prompt, row: v, line });
    } catch (e) {
      if (e instanceof DatasetLineError) errors.push(e);
      else throw e;
    }
  });
  return { rows, errors, lines };
}
