// The engine's export and share requests: PEFT files, the Use step's formats (GGUF, Ollama, merged
// folders, cluster bundles), a fully fine-tuned model's folder and share links. Each works on what
// the engine holds at the time of the request (Holdings), so the engine only routes to it.
import type { LlamaModel } from '../model/llama';
import type { ModelFileSet } from '../model/files';
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TrainableAdapter } from '../train/trainable';
import { LoraAdapter } from '../train/lora';
import { SoftPromptAdapter } from '../train/soft-prompt';
import { FullFineTune } from '../train/full-finetune';
import { familyProvenance, toPeftFiles } from '../adapters/peft';
import { toPromptPeftFiles } from '../adapters/peft-prompt';
import { encodeShareLink } from '../adapters/share-link';
import { MemorySink, type ExportSink } from '../export/sink';
import { writeHfModel } from '../export/hf-model';
import { planExport, runExport, type ExportInput, type ExportResult, type PlannedFile } from '../export/export-run';
import { bundleFileName, writeBundle, type BundleInput } from '../export/bundle/bundle';
import { bundleInputFrom, type BundleSource } from './engine-bundle';
import type { ExportChoice, ModelSummary, ProgressEvent } from './protocol';

export class EngineError extends Error {
  override name = 'EngineError';
}

/** What the engine holds when a request arrives. */
export interface Holdings {
  model: LlamaModel;
  files: ModelFileSet;
  summary: ModelSummary;
  tokenizer: TextTokenizer;
  adapter: TrainableAdapter | null;
  bundleSource: BundleSource;
}

/** A file-name stem from a model's source: the last path part of a URL or hub repo id (a bare host: the model type). */
export function exportName(source: string, config: unknown): string {
  const path = /^https?:\/\//.test(source) ? new URL(source).pathname : source;
  return path.replace(/\/+$/, '').split('/').pop() || String((config as { model_type?: unknown } | null)?.model_type ?? 'model');
}

function requireAdapter(h: Holdings): TrainableAdapter {
  if (!h.adapter) throw new EngineError('There is no adapter yet: train one first.');
  return h.adapter;
}

/** The adapter as PEFT files, with the base's fingerprint and precision as provenance. */
export async function adapterFiles(h: Holdings): Promise<{ adapterConfigJson: string; adapterSafetensors: Uint8Array }> {
  const adapter = requireAdapter(h);
  if (adapter instanceof FullFineTune) throw new EngineError('A fully fine-tuned model has no adapter files: download it as a Hugging Face folder instead.');
  const provenance = {
    trained_with: 'browser-finetune-studio',
    ...familyProvenance(h.model.config),
    base_model_fingerprint: h.files.fingerprint,
    base_precision: h.summary.basePrecision,
  };
  if (adapter instanceof SoftPromptAdapter) return toPromptPeftFiles(adapter.spec, h.model.config, await adapter.toWeights(), provenance);
  return toPeftFiles(adapter.spec, await adapter.toWeights(), provenance);
}

/** The base files, tokenizer and adapter as the exporter takes them (src/export/export-run.ts). */
async function exportInput(h: Holdings, choice: ExportChoice): Promise<ExportInput> {
  if (h.adapter instanceof SoftPromptAdapter && choice.format !== 'gguf') {
    throw new EngineError(`The ${choice.format} export carries a LoRA adapter; a ${h.adapter.spec.kind} run leaves as its PEFT files (Download adapter). The base model alone exports as GGUF.`);
  }
  const adapter = h.adapter instanceof LoraAdapter ? { spec: h.adapter.spec, weights: await h.adapter.toWeights() } : null;
  return { files: h.files, tokenizer: h.tokenizer, adapter, name: exportName(h.files.source, h.files.config) };
}

async function bundleInput(h: Holdings): Promise<BundleInput> {
  const base = { source: h.files.source, fingerprint: h.files.fingerprint, config: h.model.config, basePrecision: h.summary.basePrecision };
  return bundleInputFrom(h.bundleSource, base, await adapterFiles(h), exportName(h.files.source, h.files.config));
}

/** The files an export would write and their exact sizes, before anything is written. */
export async function planModelExport(h: Holdings, choice: ExportChoice): Promise<PlannedFile[]> {
  if (choice.format === 'bundle') {
    const b = await bundleInput(h);
    return [{ name: bundleFileName(b.name), bytes: b.trainJsonl.length + b.validationJsonl.length + b.adapterSafetensors.byteLength + 32 * 1024 }];
  }
  return planExport(await exportInput(h, choice), { ...choice, format: choice.format });
}

export async function writeModelExport(h: Holdings, choice: ExportChoice, sink: ExportSink, onProgress: (p: ProgressEvent) => void): Promise<ExportResult> {
  if (choice.format === 'bundle') return { files: [await writeBundle(sink, await bundleInput(h))] };
  return runExport(sink, await exportInput(h, choice), {
    ...choice,
    format: choice.format,
    onProgress: (p) => onProgress({ status: 'progress', task: 'export', file: p.file, loaded: p.bytesWritten, total: p.bytesTotal }),
  });
}

/** The fully fine-tuned model as a Hugging Face folder (in memory: about the size of the weights in the checkpoint's dtype). */
export async function fullModelFiles(h: Holdings): Promise<{ name: string; bytes: Uint8Array }[]> {
  const adapter = requireAdapter(h);
  if (!(adapter instanceof FullFineTune)) throw new EngineError('Only a fully fine-tuned model exports as a model folder; download the adapter (PEFT) instead.');
  const sink = new MemorySink();
  await writeHfModel(sink, { config: h.files.config, tokenizerJson: h.files.tokenizerJson, tokenizerConfig: h.files.tokenizerConfig, tensors: await adapter.exportTensors(h.files) }, {
    dtype: 'auto', metadata: { trained_with: 'browser-finetune-studio', base_model_fingerprint: h.files.fingerprint },
  });
  return [...sink.files].map(([name, bytes]) => ({ name, bytes }));
}

/** A link whose fragment carries the adapter, the base's identity and its precision. */
export async function adapterShareLink(h: Holdings, pageUrl: string): Promise<{ url: string; bytes: number }> {
  const adapter = requireAdapter(h);
  if (adapter instanceof FullFineTune) throw new EngineError('Share links carry adapters, and full fine-tuning changes every weight: download the Hugging Face folder, host it, and open its URL as the model.');
  const model = { source: h.files.source, fingerprint: h.files.fingerprint, basePrecision: h.summary.basePrecision };
  const url = await encodeShareLink(pageUrl, adapter instanceof SoftPromptAdapter ? { model, soft: adapter.spec, softWeights: await adapter.toWeights() } : { model, spec: adapter.spec, weights: await adapter.toWeights() });
  return { url, bytes: url.length };
}
