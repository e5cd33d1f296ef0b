// The store's shape: one interface per slice, combined into AppState. Each slice lives in its own
// file (engine, model, dataset, train, use) and reads the others only through get().
import type { GenerationSpeed } from '../model/generation-speed';
import type { MicroBatch } from '../train/resume-settings';
import type { StateCreator } from 'zustand';
import type { EvalSummary, GenerationRow } from '../eval/evaluate';
import type { TrainHistory } from '../train/checkpoint';
import type { EngineClient } from '../worker/client';
import type { AdapterSummary, BackendInfo, BackendName, BasePrecision, DatasetReport, ModelSummary, ProgressEvent } from '../worker/protocol';
import type { EvalReport, StepReport } from '../train/trainer';
import type { TrainSettings } from '../train/settings';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import type { RunRecord, SampleReport } from '../train/training-run';
import type { LinearModule } from '../model/config';
import type { DatasetOptions } from '../data/prepare';
import type { ExportChoice } from '../worker/protocol';
import type { PlannedFile } from '../export/export-run';

export interface UiError {
  title: string;
  message: string;
}

export interface EngineSlice {
  client: EngineClient | null;
  backend: BackendInfo | null;
  gpuError: string | null;
  /** wasmHeapLimitBytes: allocations past it fail as out of memory (src/gpu/wasm-heap-guard.ts). */
  start(force: BackendName | null, shareFragment: string | null, wasmHeapLimitBytes?: number | null): Promise<void>;
}

export interface ModelSlice {
  modelInput: string;
  model: ModelSummary | null;
  modelBusy: boolean;
  modelProgress: ProgressEvent | null;
  modelError: UiError | null;
  storedModels: { source: string; bytes: number; complete: boolean }[];
  /** Storage of the frozen linear layers for the next load ('auto': NF4 above a few MB). */
  basePrecision: BasePrecision | 'auto';
  setBasePrecision(v: BasePrecision | 'auto'): void;
  setModelInput(v: string): void;
  loadModel(input?: string): Promise<void>;
}

export interface DatasetSlice {
  dataset: DatasetReport | null;
  datasetBusy: boolean;
  datasetProgress: ProgressEvent | null;
  datasetError: UiError | null;
  /** The user's dataset options; changing one re-reads the current file with it. */
  datasetOptions: DatasetOptions;
  /** The file behind `dataset`, kept so an option change can re-read it. */
  datasetFile: { file: Blob; fileName: string } | null;
  /** An optional second file used as the validation set instead of a percentage. */
  validationFile: { file: Blob; fileName: string } | null;
  loadDataset(file: Blob, fileName: string): Promise<void>;
  setDatasetOptions(p: Partial<DatasetOptions>): Promise<void>;
  setValidationFile(f: { file: Blob; fileName: string } | null): Promise<void>;
}

export interface LoraForm {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: LinearModule[];
  useRslora: boolean;
}

export interface TrainSlice {
  lora: LoraForm;
  train: TrainSettings;
  training: boolean;
  stopping: boolean;
  trainError: UiError | null;
  lastStep: StepReport | null;
  trainResult: { reason: 'completed' | 'stopped' | 'paused'; steps: number } | null;
  adapter: AdapterSummary | null;
  pausing: boolean;
  /** The run being trained, or the last one trained in this page. */
  currentRunId: string | null;
  /** Steps of the current run (settings.steps, or derived from epochs). */
  totalSteps: number | null;
  lastEval: EvalReport | null;
  /** Sample generations, newest first. */
  samples: SampleReport[];
  lastCheckpointStep: number | null;
  /** Every stored run, newest first (IndexedDB). */
  runs: RunRecord[];
  setLora(p: Partial<LoraForm>): void;
  setTrain(p: Partial<TrainSettings>): void;
  /** Prompt or prefix tuning instead of LoRA (null: LoRA). */
  softPrompt: Omit<SoftPromptSpec, 'baseModel'> | null;
  setSoftPrompt(p: Omit<SoftPromptSpec, 'baseModel'> | null): void;
  /** Full fine-tuning instead of LoRA or a soft prompt (every weight trained). */
  fullFineTune: boolean;
  setFullFineTune(on: boolean): void;
  startTraining(): Promise<void>;
  stopTraining(): Promise<void>;
  pauseTraining(): Promise<void>;
  /** Continues a stored run; `micro` runs it at a smaller batch with more accumulation (same examples per step). */
  resumeRun(runId: string, micro?: MicroBatch | null): Promise<void>;
  refreshRuns(): Promise<void>;
  downloadRunAdapter(runId: string): Promise<void>;
  deleteRun(runId: string): Promise<void>;
}

export interface Generation {
  base: string | null;
  tuned: string | null;
  running: boolean;
  /** How fast each column was generated on this device (absent until it finishes). */
  baseSpeed?: GenerationSpeed;
  tunedSpeed?: GenerationSpeed;
}

export interface UseSlice {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  generation: Generation;
  useError: UiError | null;
  shareUrl: string | null;
  shareOpening: boolean;
  /** Send the prompt as one user turn through the model's chat template. */
  chatPrompt: boolean;
  setChatPrompt(v: boolean): void;
  setPrompt(v: string): void;
  setGenerationOptions(p: { maxNewTokens?: number; temperature?: number }): void;
  generate(): Promise<void>;
  downloadAdapter(): Promise<void>;
  /** A fully fine-tuned model's Hugging Face folder, one download per file. */
  downloadModelFolder(): Promise<void>;
  makeShareLink(): Promise<string | null>;
  /** A link that opens PEFT files hosted at a folder URL or hub repo (for adapters too large to travel in a URL). */
  makeHostedLink(location: string): string | null;
}

export interface ComparedRun {
  runId: string;
  /** Null while it is read from IndexedDB (the tick shows at once; the curve follows). */
  history: TrainHistory | null;
}

export interface EvalSlice {
  /** The serious findings (seriousKey) the person acknowledged; a different set needs a new acknowledgement. */
  preflightAck: string | null;
  evaluation: EvalSummary | null;
  /** The adapter the evaluation was measured on (stale once another is trained or opened). */
  evaluatedAdapter: AdapterSummary | null;
  evalBusy: boolean;
  evalProgress: Extract<ProgressEvent, { task: 'evaluate' }> | null;
  evalError: UiError | null;
  /** Validation prompts and new tokens per generation. */
  evalPrompts: number;
  evalMaxNewTokens: number;
  /** Adapter strength of the tuned column (0 = base, 1 = as trained). */
  strength: number;
  /** The tuned column regenerated at `strength` (null: the evaluation's own, at 1). */
  strengthRows: GenerationRow[] | null;
  comparedRuns: ComparedRun[];
  acknowledgePreflight(key: string | null): void;
  setEvalOptions(p: { evalPrompts?: number; evalMaxNewTokens?: number }): void;
  runEvaluation(): Promise<void>;
  setStrength(s: number): Promise<void>;
  toggleComparedRun(runId: string, on: boolean): Promise<void>;
}

export interface ExportSlice {
  exportChoice: ExportChoice;
  /** The files the chosen export writes, with exact sizes (null while asking or when impossible). */
  exportPlan: PlannedFile[] | null;
  exportProgress: { file: string; loaded: number; total: number } | null;
  exportResult: { files: { name: string; bytes: number }[]; command?: string; where: string } | null;
  exportError: UiError | null;
  exporting: boolean;
  setExportChoice(p: Partial<ExportChoice>): void;
  planExport(): Promise<void>;
  /** toFolder: stream into a folder picked with the File System Access API; else download each file. */
  runExport(toFolder: boolean): Promise<void>;
}

export type AppState = EngineSlice & ModelSlice & DatasetSlice & TrainSlice & UseSlice & EvalSlice & ExportSlice;

export type Slice<T> = StateCreator<AppState, [], [], T>;

export function toUiError(title: string, e: unknown): UiError {
  return { title, message: e instanceof Error ? e.message : String(e) };
}

/** The engine client, or a clear error when the page has not started it. */
export function requireClient(get: () => AppState): EngineClient {
  const c = get().client;
  if (!c) throw new Error('The compute engine has not started.');
  return c;
}
