// The cluster bundle from the page: the engine remembers the dataset file(s) it parsed (with the
// line of every kept example) and the settings of the last run it started; this turns them into
// the bundle writer's input, re-reading the exact rows from the user's file by line number.
import type { LoraSpec } from '../adapters/lora-types';
import type { DatasetFormat } from '../data/formats';
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
    validationFile: Blob | null;
    format: DatasetFormat | null;
    chatTemplate: { name: string; fallback: boolean } | null;
    options: DatasetOptions;
    trainLines: number[];
    validationLines: number[];
  } | null;
  run: { settings: TrainSettings; spec: LoraSpec } | null;
}

function lines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

export async function bundleInputFrom(src: BundleSource, model: { source: string; fingerprint: string; config: LlamaConfig; basePrecision: 'fp32' | 'nf4' }, adapter: { adapterConfigJson: string; adapterSafetensors: Uint8Array }, name: string): Promise<BundleInput> {
  const d = src.dataset;
  if (!d || !src.run) throw new ExportInputError('The cluster bundle needs the run trained in this session: load its dataset and train (or resume) first');
  const main = lines(await d.file.text());
  const val = d.validationFile ? lines(await d.validationFile.text()) : main;
  const pick = (from: string[], ls: number[]) => ls.map((l) => from[l - 1]!).join('\n') + (ls.length ? '\n' : '');
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
    },
  };
  return { record, trainJsonl: pick(main, d.trainLines), validationJsonl: pick(val, d.validationLines), ...adapter, name };
}
