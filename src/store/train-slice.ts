// Train slice: LoRA and training settings, the run's progress (steps, evaluation, samples,
// checkpoints), pause / resume / stop, and the stored runs (IndexedDB) with their adapters.
import { type StepReport } from '../train/trainer';
import { DEFAULT_TRAIN } from '../train/settings';
import type { EvalReport } from '../train/trainer';
import type { SampleReport } from '../train/training-run';
import { toPeftFiles } from '../adapters/peft';
import { toPromptPeftFiles } from '../adapters/peft-prompt';
import { estimateTraining, loraParameterCount } from '../train/estimate';
import { estimateBackendOf, FIRST_MEASURED_STEP, measuredGflops, type MeasuredSpeed } from '../train/measured-speed';
import { deleteRun, listRuns, loadCheckpoint } from '../storage/checkpoints';
import { downloadBytes } from '../ui/download';
import { notifySeries, resetSeries, trainingSeries } from './train-series';
import { resumeSettings } from '../train/resume-settings';
import { requireClient, toUiError, type LoraForm, type Slice, type TrainSlice } from './types';
import type { AdapterSummary } from '../worker/protocol';

export const DEFAULT_LORA_FORM: LoraForm = {
  r: 8, // rank of the update: capacity of the adapter
  alpha: 16, // scale = alpha / r
  dropout: 0, // tiny datasets rarely need it
  targetModules: ['q_proj', 'v_proj'], // PEFT's default for Llama
  useRslora: false,
};

/** Whether a run can continue this adapter: a LoRA adapter (not a soft prompt or full weights) of the loaded base. */
export function continuable(a: AdapterSummary | null | undefined, baseSource: string | undefined): a is AdapterSummary {
  return a != null && !a.soft && !a.full && a.spec.baseModel === baseSource;
}

export const MEASURED_SPEED_KEY = 'finetune-studio:measured-speed';

function storedSpeed(): MeasuredSpeed | null {
  try {
    const v = JSON.parse(localStorage.getItem(MEASURED_SPEED_KEY) ?? 'null') as MeasuredSpeed | null;
    return v && typeof v.backend === 'string' && Number.isFinite(v.gflops) && v.gflops > 0 ? v : null;
  } catch {
    return null;
  }
}

export const createTrainSlice: Slice<TrainSlice> = (set, get) => {
  /** A step's tokens/s as GFLOP/s on this backend, remembered for the next estimate. */
  function measure(step: StepReport): void {
    const { model, backend, train, lora, fullFineTune, softPrompt } = get();
    if (step.step < FIRST_MEASURED_STEP || !(step.tokensPerSec > 0) || !model?.config || !backend || softPrompt) return;
    // Only supervised steps: the others do work per token the estimate's FLOPs do not count (a
    // reference pass; GRPO's sampling, most of its step), and would leave a rate far too slow.
    if ((train.objective ?? 'sft') !== 'sft') return;
    const e = estimateTraining({
      config: model.config, rank: lora.r, targets: lora.targetModules, batchSize: train.batchSize, seqLen: train.seqLen, gradAccum: train.gradAccum,
      examples: 1, steps: 1, backend: estimateBackendOf(backend), method: fullFineTune ? 'full' : 'lora',
    });
    const speed: MeasuredSpeed = { backend: estimateBackendOf(backend), gflops: measuredGflops(e.flopsPerToken, step.tokensPerSec) };
    localStorage.setItem(MEASURED_SPEED_KEY, JSON.stringify(speed));
    set({ measuredSpeed: speed });
  }
  const listeners = {
    onStep: (step: StepReport) => {
      measure(step);
      trainingSeries.steps.push(step.step);
      trainingSeries.loss.push(step.loss);
      trainingSeries.lr.push(step.lr);
      trainingSeries.gradNorm.push(step.gradNorm);
      trainingSeries.tokensPerSec.push(step.tokensPerSec);
      if (step.dpo) trainingSeries.dpoTrain?.push({ step: step.step, ...step.dpo });
      if (step.figures) trainingSeries.figureTrain?.push({ step: step.step, figures: step.figures });
      notifySeries();
      set({ lastStep: step, totalSteps: step.totalSteps });
    },
    onEval: (e: EvalReport) => {
      trainingSeries.evalSteps.push(e.step);
      trainingSeries.evalLoss.push(e.loss);
      if (e.dpo) trainingSeries.dpoEval?.push({ step: e.step, ...e.dpo });
      notifySeries();
      set({ lastEval: e });
    },
    onSample: (s: SampleReport) => set({ samples: [s, ...get().samples].slice(0, 20) }),
    onCheckpoint: (step: number) => set({ lastCheckpointStep: step }),
  };

  async function drive(call: () => Promise<{ reason: 'completed' | 'stopped' | 'paused'; steps: number; adapter: import('../worker/protocol').AdapterSummary; runId?: string }>) {
    try {
      const r = await call();
      set({ trainResult: { reason: r.reason, steps: r.steps }, adapter: r.adapter });
    } catch (e) {
      set({ trainError: toUiError('Training stopped with an error', e) });
      // The adapter was put back at its last good checkpoint in the worker (divergence), or a reward
      // failed before its step changed a weight (GRPO): either way it stays usable.
      const { lora, model } = get();
      if (e instanceof Error && (e.name === 'TrainingDivergedError' || e.name === 'RewardError') && model?.config) set({ adapter: { spec: { ...lora, baseModel: model.source }, parameters: loraParameterCount(model.config, lora.r, lora.targetModules), origin: 'trained' } });
    } finally {
      set({ training: false, stopping: false, pausing: false });
      await get().refreshRuns();
    }
  }

  return {
    lora: DEFAULT_LORA_FORM,
    train: { ...DEFAULT_TRAIN, steps: 30, batchSize: 4, seqLen: 128, evalEvery: 10, sampleEvery: 10, checkpointEvery: 10 },
    training: false,
    stopping: false,
    pausing: false,
    trainError: null,
    lastStep: null,
    measuredSpeed: storedSpeed(),
    trainResult: null,
    adapter: null,
    currentRunId: null,
    totalSteps: null,
    lastEval: null,
    samples: [],
    lastCheckpointStep: null,
    runs: [],

    setLora: (p) => {
      const lora = { ...get().lora, ...p };
      const a = get().adapter;
      // A different rank, alpha or set of targets is a different adapter: the run then starts fresh.
      const reshaped = get().startFrom === 'current' && a !== null && (lora.r !== a.spec.r || lora.alpha !== a.spec.alpha || lora.useRslora !== a.spec.useRslora || lora.targetModules.join() !== a.spec.targetModules.join());
      set({ lora, ...(reshaped ? { startFrom: 'fresh' as const } : {}) });
    },
    startFrom: 'fresh',
    setStartFrom: (startFrom) => {
      const { adapter, model, lora } = get();
      // Continuing an adapter trains its own rank, alpha and targets: the form shows them.
      if (startFrom === 'current' && continuable(adapter, model?.source)) set({ startFrom, lora: { ...lora, r: adapter.spec.r, alpha: adapter.spec.alpha, targetModules: adapter.spec.targetModules, useRslora: adapter.spec.useRslora } });
      else set({ startFrom });
    },
    setTrain: (p) => set({ train: { ...get().train, ...p } }),
    softPrompt: null,
    setSoftPrompt: (softPrompt) => set({ softPrompt, ...(softPrompt ? { fullFineTune: false } : {}) }),
    fullFineTune: false,
    setFullFineTune: (fullFineTune) => set({ fullFineTune, ...(fullFineTune ? { softPrompt: null } : {}) }),

    async startTraining() {
      const { lora, train, softPrompt, fullFineTune, adapter } = get();
      // Continue the current adapter only where it is a LoRA adapter of this base and the method is LoRA.
      const fromCurrent = get().startFrom === 'current' && continuable(adapter, get().model?.source) && !softPrompt && !fullFineTune;
      set({ training: true, stopping: false, pausing: false, trainError: null, lastStep: null, trainResult: null, shareUrl: null, lastEval: null, samples: [], lastCheckpointStep: null, totalSteps: null });
      resetSeries();
      await drive(async () => {
        const r = await requireClient(get).train(train, lora, listeners.onStep, listeners, softPrompt, fullFineTune, fromCurrent);
        set({ currentRunId: r.runId ?? null });
        return r;
      });
    },

    async resumeRun(runId, micro = null) {
      set({ training: true, stopping: false, pausing: false, trainError: null, trainResult: null, shareUrl: null, lastEval: null, samples: [], currentRunId: runId });
      try {
        const c = await loadCheckpoint(runId);
        resetSeries(c.history);
        const lastIdx = c.history.steps.length - 1;
        set({
          lora: { r: c.lora.r, alpha: c.lora.alpha, dropout: c.lora.dropout, targetModules: c.lora.targetModules, useRslora: c.lora.useRslora },
          train: resumeSettings(c.settings, micro),
          fullFineTune: Boolean(c.full),
          softPrompt: c.soft ? { kind: c.soft.kind, numVirtualTokens: c.soft.numVirtualTokens, init: c.soft.init, initText: c.soft.initText } : null,
          totalSteps: c.totalSteps,
          lastCheckpointStep: c.state.step,
          lastStep: lastIdx >= 0 ? { step: c.history.steps[lastIdx], loss: c.history.loss[lastIdx], lr: c.history.lr[lastIdx], gradNorm: c.history.gradNorm[lastIdx], tokens: 0, tokensPerSec: c.history.tokensPerSec[lastIdx], stepMs: 0, epoch: c.state.position.epoch, totalSteps: c.totalSteps } : null,
        });
      } catch (e) {
        set({ training: false, trainError: toUiError('This run cannot be resumed', e) });
        return;
      }
      await drive(() => requireClient(get).resumeRun(runId, listeners.onStep, listeners, micro));
    },

    async stopTraining() {
      set({ stopping: true });
      await requireClient(get).stop();
    },

    async pauseTraining() {
      set({ pausing: true });
      await requireClient(get).pause();
    },

    async refreshRuns() {
      set({ runs: await listRuns().catch(() => []) });
    },

    async downloadRunAdapter(runId) {
      try {
        const c = await loadCheckpoint(runId);
        const provenance = { trained_with: 'browser-finetune-studio', base_model_fingerprint: c.base.fingerprint, checkpoint_step: String(c.state.step) };
        const config = get().model?.config;
        if (c.full) throw new Error('This run trained every weight, so it has no adapter: resume it to the end, then download the model (Hugging Face folder) in step 4.');
        if (c.soft && (!c.state.soft || !config)) throw new Error('Load the base model this run was trained on to export its soft prompt.');
        const f = c.soft && c.state.soft && config ? toPromptPeftFiles(c.soft, config, c.state.soft, provenance) : toPeftFiles(c.lora, c.state.adapter, provenance);
        downloadBytes(new TextEncoder().encode(f.adapterConfigJson), 'adapter_config.json', 'application/json');
        downloadBytes(f.adapterSafetensors, 'adapter_model.safetensors', 'application/octet-stream');
      } catch (e) {
        set({ trainError: toUiError('Could not export this run’s adapter', e) });
      }
    },

    async deleteRun(runId) {
      await deleteRun(runId);
      await get().refreshRuns();
    },
  };
};
