// Writes what `npm run export -- --format bundle --run <out>` needs from a finished or running
// `npm run train`: <out>/run.json (model identity, LoRA, trainer and data settings) and the exact
// rows trained on and held out, as the lines of the user's file (train.jsonl, validation.jsonl), or
// for other kinds of file (CSV, Parquet ...) and mapped columns the rows re-written as JSON objects.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoraSpec } from '../src/adapters/lora-types';
import type { DatasetSummary } from '../src/data/dataset';
import { FALLBACK_CHAT_TEMPLATE } from '../src/data/render';
import { pickLines, rowsAsJsonl } from '../src/data/exact-rows';
import { openDatasetFile } from './dataset-file';
import type { LlamaConfig } from '../src/model/config';
import type { TrainSettings } from '../src/train/settings';
import type { BasePrecision } from '../src/model/load';
import { RUN_RECORD_FILE, RUN_RECORD_FORMAT, TRAIN_ROWS_FILE, VALIDATION_ROWS_FILE, type RunRecord, type RunReward } from '../src/export/bundle/run-record';

/** --reward as the record keeps it: a built-in's spec, or a module's file name and source (the bundle carries the code). */
export async function runReward(spec: string): Promise<RunReward> {
  if (spec.startsWith('builtin:')) return { kind: 'builtin', spec };
  return { kind: 'module', fileName: path.basename(spec), source: await readFile(spec, 'utf8') };
}

export async function writeRunRecord(out: string, r: {
  dataFile: string; summary: DatasetSummary; train: { line: number }[]; validation: { line: number }[];
  model: { source: string; fingerprint: string; config: LlamaConfig }; lora: LoraSpec; settings: TrainSettings;
  /** The frozen base's precision the run trained over (--precision, 'auto' resolved). */
  basePrecision: BasePrecision;
  /** GRPO: the reward the run scores with, and the column holding the prompt. */
  grpo?: { reward: RunReward; promptColumn: string };
}): Promise<void> {
  const s = r.summary;
  const mapping = s.mapping?.columns ?? null;
  const plain = s.fileKind === 'jsonl' && !s.gzip && !mapping;
  const text = plain ? await readFile(r.dataFile, 'utf8') : null;
  const file = plain ? null : await openDatasetFile(r.dataFile);
  const rows = (ex: { line: number }[]) => {
    const lines = ex.map((e) => e.line);
    return text !== null ? Promise.resolve(pickLines(text, lines)) : rowsAsJsonl({ stream: file!.reopen, fileName: file!.fileName, randomAccess: file!.randomAccess, mapping }, lines);
  };
  const ct = r.summary.chatTemplate;
  const record: RunRecord = {
    format: RUN_RECORD_FORMAT,
    model: { source: r.model.source, fingerprint: r.model.fingerprint, modelType: r.model.config.modelType, architecture: r.model.config.architecture },
    basePrecision: r.basePrecision,
    lora: r.lora,
    settings: r.settings,
    ...(r.grpo ? { reward: r.grpo.reward } : {}),
    data: {
      format: r.summary.format ?? 'text',
      trainOnPrompt: false, // the CLI's rendering default (no flag yet)
      packing: false,
      maxLength: r.settings.seqLen + 1,
      chatTemplate: ct ? { name: ct.name, fallback: ct.fallback, template: ct.fallback ? FALLBACK_CHAT_TEMPLATE : null } : null,
      trainRows: r.train.length,
      validationRows: r.validation.length,
      ...(s.fileKind ? { source: { fileName: s.fileName, kind: s.fileKind, gzip: s.gzip } } : {}),
      ...(s.mapping ? { columns: { ...s.mapping.columns, source: s.mapping.source } } : {}),
      ...(r.grpo ? { promptColumn: r.grpo.promptColumn } : {}),
    },
  };
  await writeFile(path.join(out, TRAIN_ROWS_FILE), await rows(r.train));
  await writeFile(path.join(out, VALIDATION_ROWS_FILE), await rows(r.validation));
  await writeFile(path.join(out, RUN_RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
}
