// From a dropped file (and optionally a second validation file) to what training needs: parse with
// the user's options, split off validation (by seeded percentage or from the second file), and say
// how the training set would pack. The engine calls this; Node tests call it the same way.
import { chatTurns, lastUserTurn } from './chat-turns';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import { parseDataset, splitTrainValidation, type DatasetLineIssue, type DatasetSummary } from './dataset';
import type { DatasetFormat } from './formats';
import type { ColumnMapping } from './columns';
import type { RandomAccess } from './records';
import type { LineProgress } from './jsonl';
import { packExamples, packingStats, type PackingStats } from './packing';
import type { OverflowPolicy, TrainingExample } from './render';
import { PreflightCollector } from './preflight-collect';
import { dataFindings, type PreflightFinding } from './preflight';

/** What the user chooses in the dataset step. */
export interface DatasetOptions {
  /** Forced format, or null to detect it from the first lines. */
  format: DatasetFormat | null;
  /** Which column feeds which field (decides the format), or null to detect it from common column names. */
  columns: ColumnMapping | null;
  /** Loss on prompt / user / system tokens too (default off: only completions and assistant turns). */
  trainOnPrompt: boolean;
  /** Maximum tokens per example (the training sequence length + 1: inputs plus the last target). */
  maxLength: number;
  overflow: OverflowPolicy;
  /** Several short examples per sequence. */
  packing: boolean;
  /** Share of examples held out for validation when no validation file is given (0 disables). */
  validationPercent: number;
  /** Fixes which examples are held out. */
  seed: number;
}

export const DEFAULT_DATASET_OPTIONS: DatasetOptions = {
  format: null,
  columns: null, // detected from the column names when they are not a known format
  trainOnPrompt: false, // learn the answers, not the questions (TRL's completion-only default)
  maxLength: 129, // the default training sequence length 128, plus one target
  overflow: 'truncate', // keep the start of long examples rather than losing them
  packing: false, // off: one example per row is easiest to reason about
  validationPercent: 10, // enough to see overfitting on small sets
  seed: 42,
};

export interface ValidationReport {
  source: 'percent' | 'file' | 'none';
  examples: number;
  /** For a second file: its name and bad lines (first few). */
  fileName?: string;
  invalid?: number;
  errors?: DatasetLineIssue[];
}

/** What the page learns beyond the parse summary. */
export interface DatasetExtras {
  options: DatasetOptions;
  /** Training examples after the split. */
  train: number;
  validation: ValidationReport;
  /** How the training examples pack into rows of maxLength tokens (computed whether or not packing is on). */
  packing: PackingStats & { rowLength: number; enabled: boolean };
  /** What preflight found in the data (src/data/preflight.ts); the settings' findings are added by the page. */
  preflight: PreflightFinding[];
  /** For chat data: the last user turn of the first held-out (or training) conversation, a prompt for the Use step. */
  chatPrompt: string | null;
}

export interface PreparedDataset {
  summary: DatasetSummary;
  train: TrainingExample[];
  validation: TrainingExample[];
  extras: DatasetExtras;
}

export interface PrepareInput {
  stream: ReadableStream<Uint8Array>;
  fileName: string;
  bytesTotal?: number;
  /** Random access to the same bytes (Blob.slice): Parquet files need it. */
  randomAccess?: RandomAccess;
}

export async function prepareDataset(
  main: PrepareInput,
  validationFile: PrepareInput | null,
  tokenizer: TextTokenizer,
  options: DatasetOptions,
  onProgress?: (p: LineProgress & { file: string }) => void,
): Promise<PreparedDataset> {
  const collector = new PreflightCollector(tokenizer);
  const validationCollector = validationFile ? new PreflightCollector(tokenizer) : undefined;
  const parseOpts = (input: PrepareInput, format: DatasetFormat | undefined, preflight?: PreflightCollector, columns: ColumnMapping | null = options.columns) => ({
    fileName: input.fileName,
    bytesTotal: input.bytesTotal,
    randomAccess: input.randomAccess,
    columns,
    format,
    tokenizer,
    maxLength: options.maxLength,
    overflow: options.overflow,
    trainOnPrompt: options.trainOnPrompt,
    onProgress: (p: LineProgress) => onProgress?.({ ...p, file: input.fileName }),
    preflight,
  });
  const summary = await parseDataset(main.stream, parseOpts(main, options.format ?? undefined, collector));
  let train: TrainingExample[];
  let validation: TrainingExample[];
  let report: ValidationReport;
  if (validationFile) {
    // The validation file must be in the training file's format (detected or forced), its columns mapped alike.
    const v = await parseDataset(validationFile.stream, parseOpts(validationFile, options.format ?? summary.format ?? undefined, validationCollector, summary.mapping?.columns ?? null));
    train = summary.examples;
    validation = v.examples;
    report = { source: 'file', examples: validation.length, fileName: validationFile.fileName, invalid: v.invalid, errors: v.errors.slice(0, 5) };
  } else {
    ({ train, validation } = splitTrainValidation(summary.examples, options.validationPercent, options.seed));
    report = { source: validation.length > 0 ? 'percent' : 'none', examples: validation.length };
  }
  const rows = packExamples(train, options.maxLength);
  const stats = packingStats(train, rows, options.maxLength);
  const preflight = dataFindings({
    collector,
    tokenizer,
    padToken: tokenizer.padToken ?? null,
    maxLength: options.maxLength,
    validationLines: validationFile ? undefined : validation.map((e) => e.line),
    validationFile: validationCollector,
  });
  return {
    summary,
    train,
    validation,
    extras: { options, train: train.length, validation: report, packing: { ...stats, rowLength: options.maxLength, enabled: options.packing }, preflight, chatPrompt: firstChatPrompt(validation.length > 0 ? validation : train, tokenizer) },
  };
}

/** The last user turn of the first example whose untrained head is a chat rendering (null for plain text). */
function firstChatPrompt(examples: TrainingExample[], tokenizer: TextTokenizer): string | null {
  const e = examples[0];
  if (!e) return null;
  const k = e.lossMask.indexOf(1);
  return k > 0 ? lastUserTurn(chatTurns(tokenizer, e.inputIds.slice(0, k))) : null;
}
