// Learning-rate schedules as one pure function of the step (nanoGPT's get_lr, llm.c's schedulers.h):
// linear warmup to the peak, then constant, linear or cosine decay to peakLr * minLrRatio.
// The training loop only calls learningRate(step, schedule); the UI plots the same function.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  /** Learning rate at the end of warmup (the largest the schedule reaches). */
  peakLr: number;
  /** Optimizer steps spent ramping up from ~0 to peakLr; 0 starts at the peak. */
  warmupSteps: number;
  /** Length of the run in optimizer steps; the decay reaches its floor here. */
  totalSteps: number;
  kind: ScheduleKind;
  /** Floor of the decay as a fraction of peakLr (0 decays to zero, like Hugging Face's schedulers). Ignored by 'constant'. */
  minLrRatio?: number;
}

export const DEFAULT_SCHEDULE: LrSchedule = {
  peakLr: 2e-4, // the usual LoRA learning rate (PEFT / TRL examples)
  warmupSteps: 10, // a few steps so Adam's second moment settles before full-size updates
  totalSteps: 200,
  kind: 'cosine',
  minLrRatio: 0.1, // keep learning a little at the end rather than stalling
};

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/**
 * The learning rate for optimizer step `step`, counted from 0 (step 0 is the first update).
 * Warmup: step s < warmupSteps uses peakLr * (s + 1) / warmupSteps, so the first update is already
 * non-zero (unlike Hugging Face's, whose first step has lr 0) and step warmupSteps - 1 reaches the peak.
 * Decay: progress p = (s - warmupSteps) / (totalSteps - warmupSteps), clamped to [0, 1];
 * linear: min + (peak - min) * (1 - p); cosine: min + (peak - min) * (1 + cos(pi * p)) / 2.
 * Steps at or past totalSteps get the floor (constant: the peak).
 */
export function learningRate(step: number, s: LrSchedule): number {
  checkSchedule(s);
  if (!Number.isInteger(step) || step < 0) throw new ScheduleError(`step must be a non-negative integer, got ${step}`);
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  if (s.kind === 'constant') return s.peakLr;
  const minLr = s.peakLr * (s.minLrRatio ?? 0);
  const decaySteps = s.totalSteps - s.warmupSteps;
  const p = decaySteps <= 0 ? 1 : Math.min(1, (step - s.warmupSteps) / decaySteps);
  switch (s.kind) {
    case 'linear': return minLr + (s.peakLr - minLr) * (1 - p);
    case 'cosine': return minLr + (s.peakLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
    default: return assertNever(s.kind);
  }
}

/** Throws ScheduleError naming the field when a schedule (e.g. from the UI or a URL) is unusable. */
export function checkSchedule(s: LrSchedule): void {
  if (!(Number.isFinite(s.peakLr) && s.peakLr >= 0)) throw new ScheduleError(`peakLr must be a finite number >= 0, got ${s.peakLr}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new ScheduleError(`warmupSteps must be a non-negative integer, got ${s.warmupSteps}`);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new ScheduleError(`totalSteps must be a positive integer, got ${s.totalSteps}`);
  if (s.warmupSteps > s.totalSteps) throw new ScheduleError(`warmupSteps (${s.warmupSteps}) must not exceed totalSteps (${s.totalSteps})`);
  const r = s.minLrRatio ?? 0;
  if (!(r >= 0 && r <= 1)) throw new ScheduleError(`minLrRatio must be in [0, 1], got ${s.minLrRatio}`);
  if (!['constant', 'linear', 'cosine'].includes(s.kind)) throw new ScheduleError(`kind must be constant, linear or cosine, got ${JSON.stringify(s.kind)}`);
}

function assertNever(x: never): never {
  throw new ScheduleError(`unknown schedule kind ${JSON.stringify(x)}`);
}
