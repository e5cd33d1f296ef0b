// The cluster bundle from the page: the engine remembers the dataset file(s) it parsed (with the
// line of every kept example) and the settings of the last run it started; this turns them into
// the bundle writer's input, re-reading the exact rows from the user's file by line (or row) number:
// a plain JSONL file's own lines, or for other kinds and mapped columns the rows as JSON objects.
import type { LoraSpec } from '../adapters/lora-types';
import type { DatasetFormat } from '../data/formats';
import type { DatasetSummary } from '../data/dataset';
import { pickLines, rowsAsJsonl } from '../data/exact-rows';
import { blobRandomAccess } from '../data/parquet';
import type { DatasetOptions } from '../data/prepare';
import { FALLBACK_CHAT_TEMPLATE } from '../data/render';
import type { LlamaConfig } from '../model/config';
import type { TrainSettings } from '../train/settings';
import type { BundleInput } from '../export/bundle/bundle';
import { RUN_RECORD_FORMAT, type RunRecord } from '../export/bundle/run-record';
import { ExportInputError } from '../export/model-tensors';

export interface BundleSource {
  dataset: {
    file: Blob;
    fileName: string;
    validationFile: { file: Blob; fileName: string } | null;
    fileKind: DatasetSummary['fileKind'];
    gzip: boolean;
    mapping: DatasetSummary['mapping'];
    format: DatasetFormat | null;
    chatTemplate: { name: string; fallback: boolean } | null;
    options: DatasetOptions;
    trainLines: number[];
    validationLines: number[];
  } | null;
  run: { settings: TrainSettings; spec: LoraSpec } | null;
}

export async function bundleInputFrom(src: BundleSource, model: { source: string; fingerprint: string; config: LlamaConfig; basePrecision: 'fp32' | 'nf4' }, adapter: { adapterConfigJson: string; adapterSafetensors: Uint8Array }, name: string): Promise<BundleInput> {
  const d = src.dataset;
  if (!d || !src.run) throw new ExportInputError('The cluster bundle needs the run trained in this session: load its dataset and train (or resume) first');
  const grpo = src.run.settings.objective === 'grpo';
  const reward = src.run.settings.grpo?.reward;
  if (grpo && !reward) throw new ExportInputError('This GRPO run names no reward, so the bundle cannot say what it scored with');
  // GRPO's rows go out as the file has them (the reward may read any column), the prompt's column named.
  const mapping = grpo ? null : (d.mapping?.columns ?? null);
  // The validation file shares the training file's mapping, so it is re-read the same way.
  const pick = async (f: { file: Blob; fileName: string }, ls: number[]) =>
    d.fileKind === 'jsonl' && !d.gzip && !mapping && !/\.(gz|csv|tsv|parquet)$/i.test(f.fileName)
      ? pickLines(await f.file.text(), ls)
      : rowsAsJsonl({ stream: () => f.file.stream(), fileName: f.fileName, randomAccess: blobRandomAccess(f.file), mapping }, ls);
  const main = { file: d.file, fileName: d.fileName };
  const record: RunRecord = {
    format: RUN_RECORD_FORMAT,
    model: { source: model.source, fingerprint: model.fingerprint, modelType: model.config.modelType, architecture: model.config.architecture },
    basePrecision: model.basePrecision,
    lora: src.run.spec,
    settings: src.run.settings,
    data: {
      format: d.format ?? 'text',
      trainOnPrompt: d.options.trainOnPrompt,
      packing: d.options.packing,
      // Examples are tokenized to the dataset's length and cut to the run's sequence length + 1 when batched.
      maxLength: Math.min(d.options.maxLength, src.run.settings.seqLen + 1),
      chatTemplate: d.chatTemplate ? { ...d.chatTemplate, template: d.chatTemplate.fallback ? FALLBACK_CHAT_TEMPLATE : null } : null,
      trainRows: d.trainLines.length,
      validationRows: d.validationLines.length,
      ...(d.fileKind ? { source: { fileName: d.fileName, kind: d.fileKind, gzip: d.gzip } } : {}),
      ...(d.mapping ? { columns: { ...d.mapping.columns, source: d.mapping.source } } : {}),
      ...(grpo ? { promptColumn: d.mapping?.columns.fields.prompt ?? 'prompt' } : {}),
    },
    ...(reward ? { reward: reward.kind === 'builtin' ? reward : { kind: 'module' as const, fileName: reward.name, source: reward.code } } : {}),
  };
  return { record, trainJsonl: await pick(main, d.trainLines), validationJsonl: await pick(d.validationFile ?? main, d.validationLines), ...adapter, name };
}
