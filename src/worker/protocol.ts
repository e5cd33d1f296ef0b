// The one contract between the page and the engine worker: a discriminated union per direction,
// each payload tied to its `type`. Requests carry an id; replies and events name the request they
// belong to. Errors cross as {name, message} and are rebuilt as named errors by the client.
import type { Nf4VariantChoice } from '../gpu/variant-choice';
import type { AttentionChoice } from '../gpu/attention-choice';
import type { GenerationSpeed } from '../model/generation-speed';
import type { MicroBatch } from '../train/resume-settings';
import type { LoraSpec } from '../adapters/lora-types';
import type { EvalOptions, EvalPhase, EvalSummary, GenerationRow } from '../eval/evaluate';
import type { LlamaConfig } from '../model/config';
import type { DatasetSummary } from '../data/dataset';
import type { DatasetExtras, DatasetOptions } from '../data/prepare';
import type { PaddedRowCounts } from '../train/row-lengths';
import type { StepReport, EvalReport } from '../train/trainer';
import type { TrainSettings } from '../train/settings';
import type { SampleReport } from '../train/training-run';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import type { PlannedFile } from '../export/export-run';
import type { PanelFormat } from '../export/formats';
import type { GgufWeightType } from '../export/gguf/constants';

/** What the Use step's export panel asks for. */
export interface ExportChoice {
  format: PanelFormat;
  /** GGUF weight matrices (base / merged). */
  type: GgufWeightType;
  /** LoRA GGUF tensors. */
  adapterType: 'f32' | 'f16';
}
import type { FullSpec } from '../train/full-finetune';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface BackendInfo {
  backend: BackendName;
  /** WebGPU adapter description (vendor / architecture), when on webgpu. */
  adapterDescription: string | null;
  /** Why this backend was chosen, in words for the UI. */
  reason: string;
  /** wasm: threads that train (more than 1 only when cross-origin isolated); null on other backends. */
  threads?: number | null;
  /** Whether the worker is cross-origin isolated (needed for wasm threads). */
  crossOriginIsolated?: boolean;
  /** wasm: the heap limit set in the address (?wasm-heap-limit-mb), when one is. */
  wasmHeapLimitBytes?: number;
}

export interface ModelSummary {
  source: string;
  fingerprint: string;
  architecture: string;
  parameters: number;
  layers: number;
  hidden: number;
  vocab: number;
  /** Where the weights came from this time. */
  from: 'network' | 'indexeddb';
  baseWeightBytes: number;
  /** The parsed config (shapes for the training estimate). */
  config?: LlamaConfig;
  /** Whether tokenizer_config.json has a chat template (prompts can be sent as a chat turn). */
  hasChatTemplate?: boolean;
  /** Storage of the frozen linear layers (embeddings, head and norms are always fp32). */
  basePrecision: BasePrecision;
  /** How the linear layers compute: 'dense' fp32, 'fused' NF4 WGSL kernels, 'gpu-dequant', 'js-dequant' (wasm/cpu). */
  linearPath: string;
  /** The base's memory in each precision, so the page can show both. */
  baseMemory: BaseMemory;
  /** WebGPU + NF4: which kernel was measured faster on this GPU (src/gpu/variant-choice.ts). */
  nf4Variant?: Nf4VariantChoice;
  /** WebGPU: the attention path measured fastest on this GPU (src/gpu/attention-choice.ts). */
  attention?: AttentionChoice;
  /** NF4: projections read back from the IndexedDB cache vs quantized during this load. */
  quantizedFromCache: number;
  quantizedNow: number;
}

export type BasePrecision = 'fp32' | 'nf4';

/** Bytes of the frozen base (same fields as src/model/load.ts BaseMemory). */
export interface BaseMemory {
  linearFp32Bytes: number;
  linearNf4Bytes: number;
  otherBytes: number;
}

/** What the page learns about a parsed dataset: everything but the tokenized examples, which stay in the worker. */
export type DatasetReport = Omit<DatasetSummary, 'examples'> & {
  examples: number;
  /** The training rows' padded lengths (src/train/row-lengths.ts), for the Train step's estimate of short rows. */
  paddedRows?: PaddedRowCounts;
} & DatasetExtras;

export interface AdapterSummary {
  /** The LoRA spec (for soft prompts: the LoRA form's, unused; see `soft`). */
  spec: LoraSpec;
  /** Prompt / prefix tuning: the soft prompt this adapter is. */
  soft?: SoftPromptSpec;
  /** Full fine-tuning: every weight trained (no adapter files; exported as a model folder). */
  full?: FullSpec;
  parameters: number;
  /** 'trained' here, or opened from a share link. */
  origin: 'trained' | 'shared';
}

export type ProgressEvent =
  | { status: 'progress'; task: 'evaluate'; phase: EvalPhase; done: number; total: number }
  | { status: 'progress'; task: 'download'; file: string; loaded: number; total: number | null; overallLoaded: number; overallTotal: number | null }
  | { status: 'progress'; task: 'load'; file: string; loaded: number; total: number }
  | { status: 'progress'; task: 'parse'; bytesDone: number; bytesTotal: number | null; lines: number; file?: string }
  | { status: 'progress'; task: 'export'; file: string; loaded: number; total: number };

/** One answer of a generate-rows request: with the adapter or the base, and its sampling seed. */
export interface GenerateRow {
  useAdapter: boolean;
  seed: number;
}

/** A generate-rows answer; speed is this row's, decoded side by side with the others when `sideBySide`. */
export interface GeneratedRow {
  outputIds: number[];
  text: string;
  speed: GenerationSpeed;
  sideBySide: boolean;
}

export type Request =
  | { type: 'init'; id: number; force: BackendName | null; wasmHeapLimitBytes?: number | null; nf4Kernel?: 'fused' | 'unfused' | null }
  /** The Evaluate view: held-out and general-text loss base vs tuned, and side-by-side generations. */
  | { type: 'evaluate'; id: number; options: EvalOptions }
  /** Generations only, the tuned column at options.strength (the adapter-strength slider). */
  | { type: 'eval-generations'; id: number; options: EvalOptions }
  | { type: 'load-model'; id: number; input: string; precision?: BasePrecision | 'auto' }
  | { type: 'parse-dataset'; id: number; file: File | Blob; fileName: string; options: DatasetOptions; validationFile: { file: File | Blob; fileName: string } | null }
  /** fromCurrent: continue the current LoRA adapter (its spec and weights) instead of a fresh one. */
  | { type: 'train'; id: number; settings: TrainSettings; lora: Omit<LoraSpec, 'baseModel'>; soft?: Omit<SoftPromptSpec, 'baseModel'> | null; full?: boolean; fromCurrent?: boolean }
  | { type: 'stop'; id: number }
  /** Stop after the current step with a checkpoint; the run stays resumable. */
  | { type: 'pause'; id: number }
  /** Continue a stored run (IndexedDB) from its newest checkpoint; the same base model must be loaded. */
  | { type: 'resume-run'; id: number; runId: string; /** A smaller micro-batch keeping batch x accumulation (after running out of memory). */ micro?: MicroBatch | null }
  | { type: 'generate'; id: number; prompt: string; maxNewTokens: number; temperature: number; seed: number; useAdapter: boolean; /** Render the prompt as one user turn through the chat template. */ chat?: boolean }
  /** Several answers to one prompt decoded side by side (base and tuned, or two seeds): tokens come as row-token events. */
  | { type: 'generate-rows'; id: number; prompt: string; maxNewTokens: number; temperature: number; rows: GenerateRow[]; chat?: boolean }
  | { type: 'export-adapter'; id: number }
  /** A fully fine-tuned model as a Hugging Face folder's files. */
  | { type: 'export-full-model'; id: number }
  | { type: 'share-link'; id: number; pageUrl: string }
  | { type: 'open-share'; id: number; fragment: string }
  /** The files an export would write and their exact sizes. */
  | { type: 'export-plan'; id: number; choice: ExportChoice }
  /** Streams an export into `folder` (File System Access), or posts each finished file as an export-file event (download). */
  | { type: 'export-model'; id: number; choice: ExportChoice; folder: FileSystemDirectoryHandle | null };

export type Reply =
  | { type: 'ready'; id: number; info: BackendInfo }
  | { type: 'evaluated'; id: number; summary: EvalSummary }
  | { type: 'eval-generated'; id: number; rows: GenerationRow[]; strength: number }
  | { type: 'model-loaded'; id: number; model: ModelSummary }
  | { type: 'dataset-parsed'; id: number; report: DatasetReport }
  | { type: 'train-done'; id: number; reason: 'completed' | 'stopped' | 'paused'; steps: number; adapter: AdapterSummary; runId?: string }
  | { type: 'stopped'; id: number }
  | { type: 'paused'; id: number }
  | { type: 'generated'; id: number; promptIds: number[]; outputIds: number[]; text: string; speed: GenerationSpeed }
  | { type: 'generated-rows'; id: number; promptIds: number[]; rows: GeneratedRow[] }
  | { type: 'adapter-files'; id: number; adapterConfigJson: string; adapterSafetensors: Uint8Array }
  | { type: 'model-files'; id: number; files: { name: string; bytes: Uint8Array }[] }
  | { type: 'share-link'; id: number; url: string; bytes: number }
  | { type: 'share-opened'; id: number; model: ModelSummary; adapter: AdapterSummary }
  | { type: 'export-planned'; id: number; files: PlannedFile[] }
  | { type: 'export-done'; id: number; files: { name: string; bytes: number }[]; command?: string }
  | { type: 'error'; id: number; error: { name: string; message: string } };

/** Unsolicited events tied to a running request. */
export type WorkerEvent =
  | { type: 'progress'; id: number; progress: ProgressEvent }
  | { type: 'train-step'; id: number; report: StepReport }
  | { type: 'train-eval'; id: number; report: EvalReport }
  | { type: 'train-sample'; id: number; report: SampleReport }
  | { type: 'train-checkpoint'; id: number; step: number }
  /** A generated token and the whole text so far (prompt included). */
  | { type: 'token'; id: number; tokenId: number; text: string }
  /** A generated token of one row of a generate-rows request, and that row's text so far. */
  | { type: 'row-token'; id: number; row: number; tokenId: number; text: string }
  /** One complete exported file, for the page to offer as a download (no folder was given). */
  | { type: 'export-file'; id: number; name: string; blob: Blob }
  | { type: 'gpu-error'; message: string };

export type FromWorker = Reply | WorkerEvent;

export function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
