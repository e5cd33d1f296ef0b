// Model slice: which model, its download/load progress, and what is stored in this browser.
import { listStoredModels } from '../storage/model-store';
import { resetSeries } from './train-series';
import type { BasePrecision } from '../worker/protocol';
import { requireClient, toUiError, type ModelSlice, type Slice } from './types';

export const LAST_MODEL_KEY = 'finetune-studio:last-model';
export const BASE_PRECISION_KEY = 'finetune-studio:base-precision';

function storedPrecision(): BasePrecision | 'auto' {
  const v = localStorage.getItem(BASE_PRECISION_KEY);
  return v === 'fp32' || v === 'nf4' ? v : 'auto';
}

export const createModelSlice: Slice<ModelSlice> = (set, get) => ({
  modelInput: localStorage.getItem(LAST_MODEL_KEY) ?? 'HuggingFaceTB/SmolLM2-135M',
  model: null,
  modelBusy: false,
  modelProgress: null,
  modelError: null,
  storedModels: [],
  basePrecision: storedPrecision(),

  setBasePrecision: (v) => {
    localStorage.setItem(BASE_PRECISION_KEY, v);
    set({ basePrecision: v });
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
      const { model } = await requireClient(get).loadModel(value, (p) => set({ modelProgress: p }), get().basePrecision);
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
});
