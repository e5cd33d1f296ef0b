// Run presets from the data: Quick look / Balanced / Thorough pick rank, learning rate, passes,
// batch, accumulation and evaluation cadence from the number of training examples and the model's
// size, with one line saying why for each choice. Pure: the page and tests call the same function.
// The field's advice it follows: low LoRA learning rates (lower for bigger models), 1 to 5 epochs
// (fewer on big sets), a larger effective batch on larger sets, micro-batches small enough for a
// browser's memory (SmolLM2-135M at batch 4 x 128 exhausts the wasm heap, DESIGN.md section 3).

export type RunPreset = 'quick' | 'balanced' | 'thorough';
export const RUN_PRESETS: RunPreset[] = ['quick', 'balanced', 'thorough'];

export const RUN_PRESET_LABELS: Record<RunPreset, { label: string; hint: string }> = {
  quick: { label: 'Quick look', hint: 'One pass, to see that the data and settings work.' },
  balanced: { label: 'Balanced', hint: 'A few passes: the usual choice.' },
  thorough: { label: 'Thorough', hint: 'More passes and capacity, with frequent evaluation.' },
};

export interface PresetInput {
  /** Training examples (after the validation split). */
  trainExamples: number;
  /** Parameters of the base model. */
  modelParameters: number;
}

/** What a preset sets: the LoRA rank/alpha and the training loop's knobs. */
export interface PresetSettings {
  r: number;
  alpha: number;
  learningRate: number;
  /** Optimizer steps: the preset's passes over the data, as a step count (which stays editable). */
  steps: number;
  batchSize: number;
  gradAccum: number;
  warmupSteps: number;
  evalEvery: number;
  sampleEvery: number;
  checkpointEvery: number;
}

export interface PresetChoice {
  preset: RunPreset;
  /** Passes over the training set that `settings.steps` makes. */
  epochs: number;
  settings: PresetSettings;
  /** One line per choice, in the order a person reads them. */
  reasons: { field: keyof PresetSettings; text: string }[];
}

/** Peak LoRA learning rate by model size: small models take (and need) larger steps. */
function learningRateFor(params: number): { lr: number; why: string } {
  if (params < 10e6) return { lr: 3e-3, why: 'a model under 10M parameters tolerates a high LoRA rate' };
  if (params < 200e6) return { lr: 1e-3, why: 'a model of 10M–200M parameters: a moderate LoRA rate' };
  if (params < 1e9) return { lr: 5e-4, why: 'a model of 200M–1B parameters: a lower rate keeps what it knows' };
  return { lr: 2e-4, why: "1B parameters or more: QLoRA's 2e-4" };
}

/** Sequences per micro-batch that fit a browser's memory at this model size. */
function microBatchFor(params: number): number {
  if (params > 100e6) return 1;
  if (params > 20e6) return 2;
  return 4;
}

const EPOCHS: Record<RunPreset, [small: number, medium: number, large: number]> = {
  quick: [1, 1, 1],
  balanced: [3, 2, 1],
  thorough: [5, 3, 2],
};
const EFFECTIVE_BATCH: Record<RunPreset, [small: number, medium: number, large: number]> = {
  quick: [4, 8, 8],
  balanced: [4, 8, 16],
  thorough: [8, 16, 32],
};
/** Evaluations per run: enough points to see the validation curve turn. */
const EVALS: Record<RunPreset, number> = { quick: 3, balanced: 6, thorough: 12 };

/** The preset's settings for this data and model, with a reason for each. */
export function choosePreset(preset: RunPreset, x: PresetInput): PresetChoice {
  const n = Math.max(1, x.trainExamples);
  const size = n < 200 ? 0 : n < 5000 ? 1 : 2;
  const sizeWords = ['a small set (under 200 examples)', 'a medium set (200–5,000 examples)', 'a large set (over 5,000 examples)'][size];
  const r = preset === 'thorough' ? (n > 5000 ? 32 : 16) : n > 2000 && preset === 'balanced' ? 16 : 8;
  const { lr: baseLr, why: lrWhy } = learningRateFor(x.modelParameters);
  // More passes at a slightly lower rate: the same distance, less noise.
  const learningRate = preset === 'thorough' ? baseLr / 2 : baseLr;
  const epochs = EPOCHS[preset][size];
  const micro = microBatchFor(x.modelParameters);
  // Never an effective batch larger than the data (a tiny set would take one step per epoch).
  const effective = Math.max(micro, Math.min(EFFECTIVE_BATCH[preset][size], 2 ** Math.floor(Math.log2(Math.max(1, n / 4)))));
  const batchSize = Math.min(micro, effective);
  const gradAccum = Math.max(1, Math.round(effective / batchSize));
  const steps = Math.max(1, Math.ceil((epochs * n) / (batchSize * gradAccum)));
  const warmupSteps = Math.min(Math.max(1, Math.round(steps * 0.05)), 100);
  const evalEvery = Math.max(1, Math.round(steps / EVALS[preset]));
  const settings: PresetSettings = { r, alpha: 2 * r, learningRate, steps, batchSize, gradAccum, warmupSteps, evalEvery, sampleEvery: evalEvery, checkpointEvery: evalEvery };
  return {
    preset,
    epochs,
    settings,
    reasons: [
      { field: 'steps', text: `${epochs} pass${epochs > 1 ? 'es' : ''} over ${n.toLocaleString('en')} examples (${steps} steps): ${preset === 'quick' ? 'a first look' : sizeWords}${size === 2 ? ' needs fewer passes' : size === 0 && preset !== 'quick' ? ' needs a few passes, not dozens' : ''}.` },
      { field: 'learningRate', text: `Learning rate ${learningRate}: ${lrWhy}${preset === 'thorough' ? ', halved for the longer run' : ''}.` },
      { field: 'r', text: `Rank ${r}, alpha ${2 * r} (scale 2): ${r > 8 ? 'more capacity for more data' : 'enough for a style or a small task'}.` },
      { field: 'batchSize', text: `Batch ${batchSize} x ${gradAccum} accumulated = ${batchSize * gradAccum} examples per update: ${batchSize === 1 ? 'one sequence at a time fits a browser at this model size' : 'micro-batches that fit memory'}${gradAccum > 1 ? ', accumulated for steadier steps' : ''}.` },
      { field: 'warmupSteps', text: `${warmupSteps} warmup step${warmupSteps > 1 ? 's' : ''} (about 5% of the run): no large first steps from a cold optimizer.` },
      { field: 'evalEvery', text: `Validation every ${evalEvery} steps (${EVALS[preset]} times): enough points to see overfitting start.` },
    ],
  };
}

/** The preset whose settings the current ones equal, or null (the person changed something). */
export function matchingPreset(current: PresetSettings, x: PresetInput): RunPreset | null {
  for (const p of RUN_PRESETS) {
    const s = choosePreset(p, x).settings;
    if ((Object.keys(s) as (keyof PresetSettings)[]).every((k) => s[k] === current[k])) return p;
  }
  return null;
}
