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
import type { MeasuredSpeed } from '../train/measured-speed';
import type { DatasetOptions } from '../data/prepare';
import type { ExportChoice } from '../worker/protocol';
import type { PlannedFile } from '../export/export-run';
import type { FeedbackRecord, PairVerdict, RatedAnswer, ThumbVerdict } from '../data/feedback';

export interface UiError {
  title: string;
  message: string;
}

export interface EngineSlice {
  client: EngineClient | null;
  backend: BackendInfo | null;
  gpuError: string | null;
  /** wasmHeapLimitBytes: allocations past it fail as out of memory (src/gpu/wasm-heap-guard.ts). */
  /** nf4Kernel: WebGPU's NF4 kernel fixed (?nf4-kernel), instead of measured. */
  start(force: BackendName | null, shareFragment: string | null, wasmHeapLimitBytes?: number | null, nf4Kernel?: 'fused' | 'unfused' | null): Promise<void>;
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
  /** Where the next run's LoRA adapter starts: fresh (PEFT's initialisation) or the current adapter's weights. */
  startFrom: 'fresh' | 'current';
  setStartFrom(s: 'fresh' | 'current'): void;
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
  /** The last run's speed on this device (kept across visits), for the time estimate; null before any run. */
  measuredSpeed: MeasuredSpeed | null;
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
  /** The two columns decoded together in one batch (each column's speed is then its share). */
  sideBySide?: boolean;
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

/** What an answer was asked for: the rating records it with the answer. */
export interface AnswerContext {
  prompt: string;
  chat: boolean;
  modelSource: string;
  /** A short description of the adapter in use (null: none). */
  adapter: string | null;
}

/** Two samples of the current model (two seeds), or the base against the adapter (one seed). */
export type CompareMode = 'samples' | 'base-vs-tuned';

export interface Comparison extends AnswerContext {
  mode: CompareMode;
  /** Answer texts without the prompt; they grow while `running`. */
  a: RatedAnswer;
  b: RatedAnswer;
  running: boolean;
  /** The stored rating of this comparison, once given (a second key press changes it). */
  recordId: string | null;
}

export interface FeedbackSlice {
  /** Every stored rating, oldest first (IndexedDB). */
  feedback: FeedbackRecord[];
  feedbackError: UiError | null;
  /** Why "Train on this feedback" could not start (too few pairs), or null. */
  feedbackNote: string | null;
  compareMode: CompareMode;
  /** Sampling temperature of compared answers (0.8: different seeds give different answers). */
  compareTemperature: number;
  /** The next comparison's first seed; each comparison takes fresh seeds. */
  compareSeed: number;
  /** A prompt of the comparison's own (from an Evaluate row or typed); null follows the Use step's prompt. */
  comparePrompt: string | null;
  comparison: Comparison | null;
  /** What the Use step's last Generate was asked, so its answers are rated against the right prompt. */
  lastGenerate: AnswerContext & { temperature: number; seed: number } | null;
  setCompareOptions(p: { compareMode?: CompareMode; compareTemperature?: number }): void;
  setComparePrompt(v: string | null): void;
  noteGenerate(): void;
  compareAnswers(): Promise<void>;
  rateComparison(v: PairVerdict): Promise<void>;
  /** Stores a thumb on one answer; returns the new record's id (null when it could not be stored). */
  rateAnswer(ctx: AnswerContext, answer: RatedAnswer, verdict: ThumbVerdict): Promise<string | null>;
  editFeedback(id: string, p: { verdict?: PairVerdict | ThumbVerdict; correction?: string }): Promise<void>;
  removeFeedback(id: string): Promise<void>;
  refreshFeedback(): Promise<void>;
  downloadFeedback(kind: 'pairs' | 'unpaired'): void;
  /** Loads the preference pairs (DPO) or the unpaired rows (KTO) as the dataset and picks that objective; false (with feedbackNote) when it cannot. */
  trainOnFeedback(objective?: 'dpo' | 'kto'): Promise<boolean>;
}

export type AppState = EngineSlice & ModelSlice & DatasetSlice & TrainSlice & UseSlice & EvalSlice & ExportSlice & FeedbackSlice;

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
