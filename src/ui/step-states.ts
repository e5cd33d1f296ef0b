// Each step's state at a glance (done / next / running / blocked, and why), from the store's values:
// one pure function so the step bar and each section's heading say the same thing.

export type StepStatus = 'done' | 'next' | 'running' | 'blocked';
export interface StepState {
  status: StepStatus;
  /** A few words: what was done, or what to do, or what it waits for. */
  why: string;
}

export interface StepInputs {
  model: { architecture: string } | null;
  modelBusy: boolean;
  dataset: { examples: number; fileName: string } | null;
  datasetBusy: boolean;
  training: boolean;
  adapter: object | null;
  /** Serious preflight findings not yet acknowledged. */
  preflightBlocked: boolean;
  evaluated: boolean;
}

export type StepId = 'model' | 'dataset' | 'train' | 'use';

export function stepStates(x: StepInputs): Record<StepId, StepState> {
  const model: StepState = x.modelBusy ? { status: 'running', why: 'loading…' } : x.model ? { status: 'done', why: x.model.architecture.replace(/ForCausalLM$/, '') } : { status: 'next', why: 'pick a model' };
  const dataset: StepState = !x.model
    ? { status: 'blocked', why: 'needs a model' }
    : x.datasetBusy
      ? { status: 'running', why: 'reading…' }
      : x.dataset && x.dataset.examples > 0
        ? { status: 'done', why: `${x.dataset.examples.toLocaleString('en')} examples` }
        : { status: 'next', why: x.dataset ? 'no usable example yet' : 'add a dataset file' };
  const train: StepState = !x.dataset || x.dataset.examples === 0
    ? { status: 'blocked', why: 'needs a dataset' }
    : x.training
      ? { status: 'running', why: 'training…' }
      : x.preflightBlocked
        ? { status: 'blocked', why: 'review the serious findings' }
        : x.adapter
          ? { status: 'done', why: x.evaluated ? 'trained and evaluated' : 'adapter ready' }
          : { status: 'next', why: 'start training' };
  const use: StepState = !x.model ? { status: 'blocked', why: 'needs a model' } : x.adapter ? { status: 'next', why: 'compare, download, share' } : { status: 'blocked', why: 'needs an adapter' };
  return { model, dataset, train, use };
}

export const STATUS_LABEL: Record<StepStatus, string> = { done: 'Done', next: 'Next', running: 'Working', blocked: 'Blocked' };
