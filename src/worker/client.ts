// The page's handle on the engine worker: typed request methods returning promises, events routed
// to per-request listeners, and worker errors rebuilt as named Error objects.
import type { BackendName, BasePrecision, ExportChoice, FromWorker, GenerateRow, ProgressEvent, Reply, Request } from './protocol';
import type { StepReport, EvalReport } from '../train/trainer';
import type { EvalOptions } from '../eval/evaluate';
import type { SampleReport } from '../train/training-run';
import type { TrainSettings } from '../train/settings';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import type { LoraSpec } from '../adapters/lora-types';
import type { DatasetOptions } from '../data/prepare';
import type { MicroBatch } from '../train/resume-settings';

/** An error raised in the worker, with its original name (e.g. ModelDownloadError, ShareLinkError). */
export class WorkerError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type ReplyOf<T extends Reply['type']> = Extract<Reply, { type: T }>;

interface Listeners {
  onProgress?: (p: ProgressEvent) => void;
  onStep?: (r: StepReport) => void;
  onEval?: (r: EvalReport) => void;
  onSample?: (r: SampleReport) => void;
  onCheckpoint?: (step: number) => void;
  onToken?: (tokenId: number, text: string) => void;
  onRowToken?: (row: number, tokenId: number, text: string) => void;
  onFile?: (name: string, blob: Blob) => void;
}

export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; listeners: Listeners }>();
  onGpuError: ((message: string) => void) | null = null;

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    worker.onerror = (e) => {
      const err = new WorkerError('WorkerCrashed', `The engine worker crashed: ${e.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  static create(): EngineClient {
    return new EngineClient(new Worker(new URL('./host.ts', import.meta.url), { type: 'module' }));
  }

  private receive(msg: FromWorker): void {
    if (msg.type === 'gpu-error') {
      this.onGpuError?.(msg.message);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        p.listeners.onProgress?.(msg.progress);
        return;
      case 'train-step':
        p.listeners.onStep?.(msg.report);
        return;
      case 'train-eval':
        p.listeners.onEval?.(msg.report);
        return;
      case 'train-sample':
        p.listeners.onSample?.(msg.report);
        return;
      case 'train-checkpoint':
        p.listeners.onCheckpoint?.(msg.step);
        return;
      case 'token':
        p.listeners.onToken?.(msg.tokenId, msg.text);
        return;
      case 'row-token':
        p.listeners.onRowToken?.(msg.row, msg.tokenId, msg.text);
        return;
      case 'export-file':
        p.listeners.onFile?.(msg.name, msg.blob);
        return;
      case 'error':
        this.pending.delete(msg.id);
        p.reject(new WorkerError(msg.error.name, msg.error.message));
        return;
      default:
        this.pending.delete(msg.id);
        p.resolve(msg);
    }
  }

  private request<T extends Reply['type']>(req: Distribute<Request>, expect: T, listeners: Listeners = {}): Promise<ReplyOf<T>> {
    const id = this.nextId++;
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (r) => (r.type === expect ? resolve(r as ReplyOf<T>) : reject(new WorkerError('ProtocolError', `expected ${expect}, got ${r.type}`))),
        reject,
        listeners,
      });
      this.worker.postMessage({ ...req, id } as Request);
    });
  }

  init(force: BackendName | null, wasmHeapLimitBytes: number | null = null, nf4Kernel: 'fused' | 'unfused' | null = null) {
    return this.request({ type: 'init', force, wasmHeapLimitBytes, nf4Kernel }, 'ready');
  }
  evaluate(options: EvalOptions, onProgress: (p: ProgressEvent) => void) {
    return this.request({ type: 'evaluate', options }, 'evaluated', { onProgress });
  }
  evalGenerations(options: EvalOptions) {
    return this.request({ type: 'eval-generations', options }, 'eval-generated');
  }
  loadModel(input: string, onProgress: (p: ProgressEvent) => void, precision: BasePrecision | 'auto' = 'auto') {
    return this.request({ type: 'load-model', input, precision }, 'model-loaded', { onProgress });
  }
  parseDataset(file: Blob, fileName: string, options: DatasetOptions, onProgress: (p: ProgressEvent) => void, validationFile: { file: Blob; fileName: string } | null = null) {
    return this.request({ type: 'parse-dataset', file, fileName, options, validationFile }, 'dataset-parsed', { onProgress });
  }
  train(settings: TrainSettings, lora: Omit<LoraSpec, 'baseModel'>, onStep: (r: StepReport) => void, more: Omit<Listeners, 'onStep'> = {}, soft: Omit<SoftPromptSpec, 'baseModel'> | null = null, full = false, fromCurrent = false) {
    return this.request({ type: 'train', settings, lora, soft, full, fromCurrent }, 'train-done', { onStep, ...more });
  }
  resumeRun(runId: string, onStep: (r: StepReport) => void, more: Omit<Listeners, 'onStep'> = {}, micro: MicroBatch | null = null) {
    return this.request({ type: 'resume-run', runId, micro }, 'train-done', { onStep, ...more });
  }
  pause() {
    return this.request({ type: 'pause' }, 'paused');
  }
  stop() {
    return this.request({ type: 'stop' }, 'stopped');
  }
  generate(prompt: string, opts: { maxNewTokens: number; temperature: number; seed: number; useAdapter: boolean; chat?: boolean }, onToken?: (id: number, text: string) => void) {
    return this.request({ type: 'generate', prompt, ...opts }, 'generated', { onToken });
  }
  /** Several answers to one prompt, decoded side by side where the adapter allows. */
  generateRows(prompt: string, opts: { maxNewTokens: number; temperature: number; rows: GenerateRow[]; chat?: boolean }, onRowToken?: (row: number, id: number, text: string) => void) {
    return this.request({ type: 'generate-rows', prompt, ...opts }, 'generated-rows', { onRowToken });
  }
  exportAdapter() {
    return this.request({ type: 'export-adapter' }, 'adapter-files');
  }
  exportFullModel() {
    return this.request({ type: 'export-full-model' }, 'model-files');
  }
  shareLink(pageUrl: string) {
    return this.request({ type: 'share-link', pageUrl }, 'share-link');
  }
  openShare(fragment: string, onProgress: (p: ProgressEvent) => void) {
    return this.request({ type: 'open-share', fragment }, 'share-opened', { onProgress });
  }
  planExport(choice: ExportChoice) {
    return this.request({ type: 'export-plan', choice }, 'export-planned');
  }
  exportModel(choice: ExportChoice, folder: FileSystemDirectoryHandle | null, onProgress: (p: ProgressEvent) => void, onFile: (name: string, blob: Blob) => void) {
    return this.request({ type: 'export-model', choice, folder }, 'export-done', { onProgress, onFile });
  }
}
