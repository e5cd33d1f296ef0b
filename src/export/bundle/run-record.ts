// What a training run must carry to continue elsewhere: the base model's identity, the LoRA
// config, the trainer settings and the data settings, next to the exact rows (train.jsonl and
// validation.jsonl, the lines of the user's file in its own format). Written by `npm run train`
// as <out>/run.json; read by the bundle writer. Untrusted when read: checked field by field.
import type { LoraSpec } from '../../adapters/lora-types';
import type { DatasetFormat } from '../../data/formats';
import type { ColumnMapping } from '../../data/columns';
import type { DatasetFileKind } from '../../data/records';
import type { TrainSettings } from '../../train/settings';
import { ExportInputError } from '../model-tensors';

export const RUN_RECORD_FORMAT = 'fine-tune-studio-run/1';
export const RUN_RECORD_FILE = 'run.json';
export const TRAIN_ROWS_FILE = 'train.jsonl';
export const VALIDATION_ROWS_FILE = 'validation.jsonl';

export interface RunRecord {
  format: typeof RUN_RECORD_FORMAT;
  model: { source: string; fingerprint: string; modelType: string; architecture: string };
  /** How the frozen base was held: fp32, or NF4 (QLoRA-style: axolotl's adapter: qlora). */
  basePrecision: 'fp32' | 'nf4';
  lora: LoraSpec;
  settings: TrainSettings;
  /** GRPO's reward as the run scored with it (absent for other objectives, and in records written before it was kept). */
  reward?: RunReward;
  data: {
    /** The dataset format the rows are in (detected or forced). */
    format: DatasetFormat;
    /** Loss on prompt / user tokens too. */
    trainOnPrompt: boolean;
    /** Several short examples per sequence. */
    packing: boolean;
    /** Tokens per example kept (seqLen + 1: inputs plus the last target). */
    maxLength: number;
    /** The chat template rows were rendered with: the model's own, or the studio's fallback (its Jinja text). */
    chatTemplate: { name: string; fallback: boolean; template: string | null } | null;
    trainRows: number;
    validationRows: number;
    /**
     * The user's file: its name and kind. When it was not plain JSONL, or its columns were mapped,
     * the rows files hold each row re-written as one JSON object in `format` (mapped).
     */
    source?: { fileName: string; kind: DatasetFileKind; gzip: boolean };
    /** Which column fed which field (given by the user or detected from the column names); absent when none was mapped. */
    columns?: ColumnMapping & { source: 'given' | 'detected' };
    /** GRPO: the column holding the prompt (--columns prompt=<column>); the rows keep every column as the file has it. */
    promptColumn?: string;
  };
}

/**
 * A GRPO reward: a built-in's spec string (`builtin:regex=...`), or a user's module: its file name and
 * source text, so the bundle can carry the code the run was scored with.
 */
export type RunReward = { kind: 'builtin'; spec: string } | { kind: 'module'; fileName: string; source: string };

export function parseRunRecord(text: string, where: string): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ExportInputError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const r = raw as Partial<RunRecord>;
  if (r?.format !== RUN_RECORD_FORMAT) throw new ExportInputError(`${where}: "format" is ${JSON.stringify(r?.format)}, expected "${RUN_RECORD_FORMAT}" (a run.json written by npm run train)`);
  for (const k of ['model', 'lora', 'settings', 'data'] as const) {
    if (typeof r[k] !== 'object' || r[k] === null) throw new ExportInputError(`${where}: "${k}" is missing`);
  }
  return r as RunRecord;
}
