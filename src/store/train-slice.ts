// Train slice: LoRA and training settings, the run's progress and result.
import { DEFAULT_TRAIN } from '../train/trainer';
import { notifySeries, resetSeries, trainingSeries } from './train-series';
import { requireClient, toUiError, type LoraForm, type Slice, type TrainSlice } from './types';

export const DEFAULT_LORA_FORM: LoraForm = {
  r: 8, // rank of the update: capacity of the adapter
  alpha: 16, // scale = alpha / r
  dropout: 0, // tiny datasets rarely need it
  targetModules: ['q_proj', 'v_proj'], // PEFT's default for Llama
  useRslora: false,
};

export const createTrainSlice: Slice<TrainSlice> = (set, get) => ({
  lora: DEFAULT_LORA_FORM,
  train: { ...DEFAULT_TRAIN, steps: 30, batchSize: 4, seqLen: 64 },
  training: false,
  stopping: false,
  trainError: null,
  lastStep: null,
  trainResult: null,
  adapter: null,

  setLora: (p) => set({ lora: { ...get().lora, ...p } }),
  setTrain: (p) => set({ train: { ...get().train, ...p } }),

  async startTraining() {
    const { lora, train } = get();
    set({ training: true, stopping: false, trainError: null, lastStep: null, trainResult: null, shareUrl: null });
    resetSeries();
    try {
      const r = await requireClient(get).train(train, lora, (step) => {
        trainingSeries.steps.push(step.step);
        trainingSeries.loss.push(step.loss);
        trainingSeries.tokensPerSec.push(step.tokensPerSec);
        notifySeries();
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
    await requireClient(get).stop();
  },
});
