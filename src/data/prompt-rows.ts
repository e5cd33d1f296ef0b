// Prompt-only rows for GRPO: {"prompt": "...", ...any fields the reward function reads}, from any
// dataset file the readers take (JSONL, gzip, JSON array, CSV/TSV, Parquet). The prompt may sit in
// another column (`--columns prompt=question`). Each prompt is tokenized the way a prompt-completion
// example's prompt is (the tokenizer's own BOS, no chat template); the whole row, as the file has it,
// travels with it to the reward function.
import { DatasetLineError, isObject, typeName } from './formats';
import { openRows, type RandomAccess } from './records';
import { streamFromBytes } from './jsonl';
import type { DatasetRow } from './dataset-row';
import type { DatasetFileKind } from './records';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TokenizedExample } from '../train/batches';

export interface PromptRows {
  rows: TokenizedExample[];
  errors: DatasetLineError[];
  lines: number;
  kind: DatasetFileKind;
  gzip: boolean;
  unit: 'line' | 'row';
}

export interface PromptRowsOptions {
  fileName: string;
  bytesTotal?: number;
  randomAccess?: RandomAccess;
  /** The column holding the prompt (default "prompt"). */
  promptColumn?: string;
}

/** The prompt column named by `--columns prompt=<column>` (GRPO reads no other field). */
export function promptColumnFlag(flag: string): string {
  const m = /^\s*prompt\s*=\s*([^,=]+?)\s*$/.exec(flag);
  if (!m) throw new DatasetLineError(0, `--columns: GRPO reads one column, the prompt: expected prompt=<column>, got "${flag}"`);
  return m[1]!;
}

export async function parsePromptRowStream(stream: ReadableStream<Uint8Array>, tokenizer: TextTokenizer, opts: PromptRowsOptions): Promise<PromptRows> {
  const column = opts.promptColumn ?? 'prompt';
  const source = await openRows(stream, { fileName: opts.fileName, bytesTotal: opts.bytesTotal, randomAccess: opts.randomAccess });
  const out: PromptRows = { rows: [], errors: [], lines: 0, kind: source.kind, gzip: source.gzip, unit: source.unit };
  for await (const r of source.rows) {
    out.lines++;
    try {
      out.rows.push(promptRow(r, tokenizer, column));
    } catch (e) {
      if (e instanceof DatasetLineError) out.errors.push(e);
      else throw e;
    }
  }
  return out;
}

/** parsePromptRowStream over JSONL text (tests). */
export function parsePromptRows(text: string, tokenizer: TextTokenizer): Promise<PromptRows> {
  return parsePromptRowStream(streamFromBytes(text), tokenizer, { fileName: 'prompts.jsonl' });
}

function promptRow(r: DatasetRow, tokenizer: TextTokenizer, column: string): TokenizedExample {
  const { line, value: v } = r;
  if (r.error) throw r.error;
  if (!isObject(v)) throw new DatasetLineError(line, `expected an object like {"${column}": "..."}, found ${typeName(v)}`);
  const prompt = v[column];
  if (typeof prompt !== 'string') throw new DatasetLineError(line, `field "${column}" must be a string, found ${typeName(prompt)}`, column);
  if (prompt.trim() === '') throw new DatasetLineError(line, `field "${column}" is empty`, column);
  const inputIds = tokenizer.encode(prompt, { addSpecialTokens: true }); // [P]
  return { inputIds, lossMask: new Array<number>(inputIds.length).fill(0), prompt, row: v, line };
}
