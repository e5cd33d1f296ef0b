// The one zustand store of the page, in typed slices (engine, model, dataset, training, use).
// Only this file talks to the worker client; components select narrow values and call actions.
// Training steps are kept in a plain array that the chart subscribes to outside React rendering.
import { create } from 'zustand';
import { EngineClient, WorkerError } from '../worker/client';
import type { AdapterSummary, BackendInfo, BackendName, DatasetReport, ModelSummary, ProgressEvent } from '../worker/protocol';
import type { StepReport, TrainSettings } from '../train/trainer';
import { DEFAULT_TRAIN } from '../train/trainer';
import type { LinearModule } from '../model/config';
import { listStoredModels } from '../storage/model-store';
import { downloadBytes } from '../ui/download';

export interface UiError {
  title: string;
  message: string;
}

export interface LoraForm {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: LinearModule[];
  useRslora: boolean;
}

export const DEFAULT_LORA_FORM: LoraForm = {
  r: 8, // rank of the update: capacity of the adapter
  alpha: 16, // scale = alpha / r
  dropout: 0, // tiny datasets rarely need it
  targetModules: ['q_proj', 'v_proj'], // PEFT's default for Llama
  useRslora: false,
};

export interface Generation {
  base: string | null;
  tuned: string | null;
  running: boolean;
}

interface State {
  client: EngineClient | null;
  backend: BackendInfo | null;
  gpuError: string | null;

  modelInput: string;
  model: ModelSummary | null;
  modelBusy: boolean;
  modelProgress: ProgressEvent | null;
  modelError: UiError | null;
  storedModels: { source: string; bytes: number; complete: boolean }[];

  dataset: DatasetReport | null;
  datasetBusy: boolean;
  datasetProgress: ProgressEvent | null;
  datasetError: UiError | null;

  lora: LoraForm;
  train: TrainSettings;
  training: boolean;
  stopping: boolean;
  trainError: UiError | null;
  lastStep: StepReport | null;
  trainResult: { reason: 'completed' | 'stopped'; steps: number } | null;
  adapter: AdapterSummary | null;

  prompt: string;
  maxNewTokens: number;
  temperature: number;
  generation: Generation;
  useError: UiError | null;
  shareUrl: string | null;
  shareOpening: boolean;
}

interface Actions {
  start(force: BackendName | null, shareFragment: string | null): Promise<void>;
  setModelInput(v: string): void;
  loadModel(input?: string): Promise<void>;
  loadDataset(file: Blob, fileName: string): Promise<void>;
  setLora(p: Partial<LoraForm>): void;
  setTrain(p: Partial<TrainSettings>): void;
  startTraining(): Promise<void>;
  stopTraining(): Promise<void>;
  setPrompt(v: string): void;
  setGenerationOptions(p: { maxNewTokens?: number; temperature?: number }): void;
  generate(): Promise<void>;
  downloadAdapter(): Promise<void>;
  makeShareLink(): Promise<string | null>;
}

/** Training curve points, outside React state: appended per step, read by the chart. */
export const trainingSeries: { steps: number[]; loss: number[]; tokensPerSec: number[] } = { steps: [], loss: [], tokensPerSec: [] };
type SeriesListener = () => void;
const seriesListeners = new Set<SeriesListener>();
export function subscribeSeries(l: SeriesListener): () => void {
  seriesListeners.add(l);
  return () => seriesListeners.delete(l);
}
function resetSeries(): void {
  trainingSeries.steps = [];
  trainingSeries.loss = [];
  trainingSeries.tokensPerSec = [];
  seriesListeners.forEach((l) => l());
}

const LAST_MODEL_KEY = 'finetune-studio:last-model';

function toUiError(title: string, e: unknown): UiError {
  if (e instanceof WorkerError || e instanceof Error) return { title, message: e.message };
  return { title, message: String(e) };
}

export const useApp = create<State & Actions>()((set, get) => {
  const client = (): EngineClient => {
    const c = get().client;
    if (!c) throw new Error('engine not started');
    return c;
  };

  return {
    client: null,
    backend: null,
    gpuError: null,
    modelInput: localStorage.getItem(LAST_MODEL_KEY) ?? 'HuggingFaceTB/SmolLM2-135M',
    model: null,
    modelBusy: false,
    modelProgress: null,
    modelError: null,
    storedModels: [],
    dataset: null,
    datasetBusy: false,
    datasetProgress: null,
    datasetError: null,
    lora: DEFAULT_LORA_FORM,
    train: { ...DEFAULT_TRAIN, steps: 30, batchSize: 4, seqLen: 64 },
    training: false,
    stopping: false,
    trainError: null,
    lastStep: null,
    trainResult: null,
    adapter: null,
    prompt: 'Once upon a time',
    maxNewTokens: 48,
    temperature: 0,
    generation: { base: null, tuned: null, running: false },
    useError: null,
    shareUrl: null,
    shareOpening: false,

    async start(force, shareFragment) {
      const c = EngineClient.create();
      c.onGpuError = (message) => set({ gpuError: message });
      set({ client: c });
      const { info } = await c.init(force);
      set({ backend: info });
      const stored = await listStoredModels().catch(() => []);
      set({ storedModels: stored });
      if (shareFragment) {
        set({ shareOpening: true, modelBusy: true, modelError: null });
        try {
          const r = await c.openShare(shareFragment, (p) => set({ modelProgress: p }));
          set({ model: r.model, adapter: r.adapter, modelInput: r.model.source });
        } catch (e) {
          set({ useError: toUiError('This share link could not be opened', e) });
        } finally {
          set({ shareOpening: false, modelBusy: false, modelProgress: null });
        }
        return;
      }
      // Next visit: the last model comes straight from IndexedDB, no network.
      const last = localStorage.getItem(LAST_MODEL_KEY);
      if (last && stored.some((m) => m.source === last && m.complete)) await get().loadModel(last);
    },

    setModelInput: (v) => set({ modelInput: v }),

    async loadModel(input) {
      const value = (input ?? get().modelInput).trim();
      if (!value) {
        set({ modelError: { title: 'No model given', message: 'Enter a Hugging Face repo id (org/name) or a base URL.' } });
        return;
      }
      set({ modelBusy: true, modelError: null, modelProgress: null, modelInput: value });
      try {
        const { model } = await client().loadModel(value, (p) => set({ modelProgress: p }));
        localStorage.setItem(LAST_MODEL_KEY, model.source);
        set({ model, dataset: null, adapter: null, trainResult: null, lastStep: null, shareUrl: null, generation: { base: null, tuned: null, running: false } });
        resetSeries();
        set({ storedModels: await listStoredModels().catch(() => get().storedModels) });
      } catch (e) {
        set({ modelError: toUiError(`Could not load ${value}`, e) });
      } finally {
        set({ modelBusy: false, modelProgress: null });
      }
    },

    async loadDataset(file, fileName) {
      set({ datasetBusy: true, datasetError: null, datasetProgress: null });
      try {
        const { report } = await client().parseDataset(file, fileName, get().train.seqLen + 1, (p) => set({ datasetProgress: p }));
        if (report.examples === 0) {
          // Nothing usable: say why, and keep whatever dataset the user already had.
          const why = report.lines === 0 ? 'The file has no lines.' : `None of its ${report.lines} lines is a valid example.`;
          const first = report.errors.slice(0, 3).map((x) => `line ${x.line}: ${x.error}`).join('; ');
          const kept = get().dataset ? ` The previous dataset (${get().dataset!.fileName}) is kept.` : '';
          set({ datasetError: { title: `${fileName} cannot be used`, message: `${why}${first ? ` ${first}.` : ''}${kept}` } });
        } else set({ dataset: report });
      } catch (e) {
        set({ datasetError: toUiError(`${fileName} cannot be read`, e) });
      } finally {
        set({ datasetBusy: false, datasetProgress: null });
      }
    },

    setLora: (p) => set({ lora: { ...get().lora, ...p } }),
    setTrain: (p) => set({ train: { ...get().train, ...p } }),

    async startTraining() {
      const { lora, train } = get();
      set({ training: true, stopping: false, trainError: null, lastStep: null, trainResult: null, shareUrl: null });
      resetSeries();
      try {
        const r = await client().train(train, lora, (step) => {
          trainingSeries.steps.push(step.step);
          trainingSeries.loss.push(step.loss);
          trainingSeries.tokensPerSec.push(step.tokensPerSec);
          seriesListeners.forEach((l) => l());
          set({ lastStep: step });
        });
        set({ trainResult: { reason: r.reason, steps: r.steps }, adapter: r.adapter });
      } catch (e) {
        set({ trainError: toUiError('Training stopped with an error', e) });
      } finally {
        set({ training: false, stopping: false });
      }
    },

    async stopTraining() {
      set({ stopping: true });
      await client().stop();
    },

    setPrompt: (v) => set({ prompt: v }),
    setGenerationOptions: (p) => set({ ...p }),

    async generate() {
      const { prompt, maxNewTokens, temperature, adapter } = get();
      set({ generation: { base: '', tuned: adapter ? '' : null, running: true }, useError: null });
      const opts = { maxNewTokens, temperature, seed: 1 };
      try {
        const base = await client().generate(prompt, { ...opts, useAdapter: false });
        set({ generation: { ...get().generation, base: base.text } });
        if (adapter) {
          const tuned = await client().generate(prompt, { ...opts, useAdapter: true });
          set({ generation: { ...get().generation, tuned: tuned.text } });
        }
      } catch (e) {
        set({ useError: toUiError('Generation failed', e) });
      } finally {
        set({ generation: { ...get().generation, running: false } });
      }
    },

    async downloadAdapter() {
      try {
        const r = await client().exportAdapter();
        downloadBytes(new TextEncoder().encode(r.adapterConfigJson), 'adapter_config.json', 'application/json');
        downloadBytes(r.adapterSafetensors, 'adapter_model.safetensors', 'application/octet-stream');
      } catch (e) {
        set({ useError: toUiError('Could not export the adapter', e) });
      }
    },

    async makeShareLink() {
      try {
        const page = `${location.origin}${location.pathname}`;
        const { url } = await client().shareLink(page);
        set({ shareUrl: url });
        await navigator.clipboard?.writeText(url).catch(() => undefined);
        return url;
      } catch (e) {
        set({ useError: toUiError('Could not make a share link', e) });
        return null;
      }
    },
  };
});
