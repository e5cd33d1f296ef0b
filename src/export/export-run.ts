// One exporter, many doors: every model format the studio writes, behind one call used by the
// worker (UI) and by `npm run export` alike. planExport gives each file's exact size before a
// byte is written (headers are computed from shapes alone); runExport streams the files into a
// sink, one tensor at a time. The cluster bundle (bundle/) has its own entry: it needs the run.
import { type LoraSpec, type LoraWeights } from '../adapters/lora-types';
import { type ModelFileSet } from '../model/files';
import { type TextTokenizer } from '../tokenizer/tokenizer';
import { checkpointStorage, HF_WEIGHTS_FILE, isTied, writeHfModel, type ExportedFile } from './hf-model';
import { checkAdapterFitsBase, mergedTensors } from './merge';
import { ExportInputError, listModelTensors, type SourceTensor } from './model-tensors';
import { modelfile, ollamaCommand } from './ollama';
import { safetensorsHeader } from './safetensors-stream';
import { writeWholeFile, type ExportSink } from './sink';
import { type GgufWeightType } from './gguf/constants';
import { ggufLoraParts, ggufModelParts, writeGgufLora, writeGgufModel, type GgufLoraType } from './gguf/model-file';
import { ggufHeader } from './gguf/writer';
import { type ModelExportFormat } from './formats';

export interface ExportInput {
  files: ModelFileSet;
  tokenizer: TextTokenizer;
  /** The trained adapter; required by every format but gguf. */
  adapter: { spec: LoraSpec; weights: LoraWeights } | null;
  /** general.name, the Ollama model name and the file-name stem. */
  name: string;
}

export interface ExportOptions {
  format: ModelExportFormat;
  /** Weight matrices of GGUF models (default f16). */
  type?: GgufWeightType;
  /** LoRA GGUF tensors (default f32, as llama.cpp's converter writes them). */
  adapterType?: GgufLoraType;
  onProgress?: (p: { file: string; bytesWritten: number; bytesTotal: number }) => void;
}

export interface PlannedFile {
  name: string;
  bytes: number;
}

export interface ExportResult {
  files: ExportedFile[];
  /** What to run next (Ollama), for the UI and the CLI to show. */
  command?: string;
}

function needAdapter(input: ExportInput, format: ModelExportFormat): { spec: LoraSpec; weights: LoraWeights } {
  if (!input.adapter) throw new ExportInputError(`The ${format} export needs a trained adapter: train one or open an adapter first`);
  return input.adapter;
}

const json = (c: unknown) => c as Record<string, unknown>;

/** The files a format writes and their exact sizes, computed without reading any weights. */
export async function planExport(input: ExportInput, opts: ExportOptions): Promise<PlannedFile[]> {
  const tensors = await listModelTensors(input.files);
  if (input.adapter && opts.format !== 'gguf') checkAdapterFitsBase(tensors, input.adapter.spec, input.adapter.weights);
  const type = opts.type ?? 'f16';
  const ggufSize = async (ts: SourceTensor[]) => {
    const p = await ggufModelParts(ggufInput(input, ts), type);
    const h = ggufHeader(p.metadata, p.tensors);
    return h.header.byteLength + h.dataBytes;
  };
  const loraSize = () => {
    const p = ggufLoraParts(loraInput(input, needAdapter(input, opts.format)), opts.adapterType ?? 'f32');
    const h = ggufHeader(p.metadata, p.tensors);
    return h.header.byteLength + h.dataBytes;
  };
  const names = fileNames(input.name, type, opts.adapterType ?? 'f32');
  switch (opts.format) {
    case 'gguf': return [{ name: names.base, bytes: await ggufSize(tensors) }];
    case 'gguf-adapter': return [{ name: names.adapter, bytes: loraSize() }];
    case 'gguf-merged': needAdapter(input, opts.format); return [{ name: names.merged, bytes: await ggufSize(tensors) }];
    case 'ollama': return [{ name: names.base, bytes: await ggufSize(tensors) }, { name: names.adapter, bytes: loraSize() }, { name: 'Modelfile', bytes: 1024 }];
    case 'ollama-merged': needAdapter(input, opts.format); return [{ name: names.merged, bytes: await ggufSize(tensors) }, { name: 'Modelfile', bytes: 1024 }];
    case 'merged': {
      needAdapter(input, opts.format);
      const dtype = checkpointStorage(input.files.config, tensors);
      const kept = isTied(input.files.config) ? tensors.filter((t) => t.name !== 'lm_head.weight') : tensors;
      const { header, dataBytes } = safetensorsHeader(kept, dtype, { format: 'pt' });
      return [{ name: HF_WEIGHTS_FILE, bytes: header.byteLength + dataBytes }, { name: 'config.json + tokenizer files', bytes: JSON.stringify(input.files.tokenizerJson).length + 4096 }];
    }
  }
}

function fileNames(name: string, type: GgufWeightType, adapterType: GgufLoraType) {
  const stem = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model';
  return { base: `${stem}-${type}.gguf`, merged: `${stem}-merged-${type}.gguf`, adapter: `${stem}-lora-${adapterType}.gguf` };
}

function ggufInput(input: ExportInput, tensors: SourceTensor[]) {
  const f = input.files;
  return { config: f.config, tokenizerJson: f.tokenizerJson, tokenizerConfig: f.tokenizerConfig, tokenizer: input.tokenizer, tensors, name: input.name };
}

function loraInput(input: ExportInput, adapter: { spec: LoraSpec; weights: LoraWeights }) {
  return { config: input.files.config, spec: adapter.spec, weights: adapter.weights, name: `${input.name} LoRA` };
}

export async function runExport(sink: ExportSink, input: ExportInput, opts: ExportOptions): Promise<ExportResult> {
  const tensors = await listModelTensors(input.files);
  // Refuse an adapter of another model before any file is opened.
  if (input.adapter && opts.format !== 'gguf') checkAdapterFitsBase(tensors, input.adapter.spec, input.adapter.weights);
  const type = opts.type ?? 'f16';
  const adapterType = opts.adapterType ?? 'f32';
  const names = fileNames(input.name, type, adapterType);
  const progress = (file: string) => (p: { bytesWritten: number; bytesTotal: number }) => opts.onProgress?.({ file, ...p });
  const base = async (file: string, ts: SourceTensor[]): Promise<ExportedFile> => ({ name: file, bytes: await writeGgufModel(await sink.create(file), ggufInput(input, ts), type, progress(file)) });
  const lora = async (): Promise<ExportedFile> => ({ name: names.adapter, bytes: await writeGgufLora(await sink.create(names.adapter), loraInput(input, needAdapter(input, opts.format)), adapterType, progress(names.adapter)) });
  switch (opts.format) {
    case 'gguf':
      return { files: [await base(names.base, tensors)] };
    case 'gguf-adapter':
      return { files: [await lora()] };
    case 'gguf-merged': {
      const a = needAdapter(input, opts.format);
      return { files: [await base(names.merged, mergedTensors(tensors, a.spec, a.weights))] };
    }
    case 'ollama': {
      needAdapter(input, opts.format);
      const files = [await base(names.base, tensors), await lora()];
      const mf = modelfile({ from: names.base, adapter: names.adapter, tokenizer: input.tokenizer });
      files.push({ name: 'Modelfile', bytes: await writeWholeFile(sink, 'Modelfile', mf.text) });
      return { files, command: ollamaCommand(input.name) };
    }
    case 'ollama-merged': {
      const a = needAdapter(input, opts.format);
      const files = [await base(names.merged, mergedTensors(tensors, a.spec, a.weights))];
      const mf = modelfile({ from: names.merged, tokenizer: input.tokenizer });
      files.push({ name: 'Modelfile', bytes: await writeWholeFile(sink, 'Modelfile', mf.text) });
      return { files, command: ollamaCommand(input.name) };
    }
    case 'merged': {
      const a = needAdapter(input, opts.format);
      const files = await writeHfModel(sink, { config: json(input.files.config), tokenizerJson: input.files.tokenizerJson, tokenizerConfig: input.files.tokenizerConfig, tensors: mergedTensors(tensors, a.spec, a.weights) }, {
        metadata: { merged_lora_base_fingerprint: input.files.fingerprint },
        onProgress: (p) => opts.onProgress?.(p),
      });
      return { files };
    }
  }
}
