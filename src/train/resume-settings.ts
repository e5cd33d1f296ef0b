// Resuming a run with a smaller micro-batch (after it ran out of memory): the examples per
// optimizer step (batch x accumulation) stay what the run was started with, so its step count,
// schedule and data order are unchanged; only how many rows go through the model at once shrinks.
import type { TrainSettings } from './settings';

export interface MicroBatch {
  batchSize: number;
  gradAccum: number;
}

export class ResumeSettingsError extends Error {
  override name = 'ResumeSettingsError';
}

/** The stored settings with `micro` applied, refused when it would change the examples per step. */
export function resumeSettings(stored: TrainSettings, micro?: MicroBatch | null): TrainSettings {
  if (!micro) return stored;
  const per = stored.batchSize * stored.gradAccum;
  const { batchSize, gradAccum } = micro;
  if (!Number.isInteger(batchSize) || !Number.isInteger(gradAccum) || batchSize < 1 || gradAccum < 1) {
    throw new ResumeSettingsError(`A resumed run needs a whole batch and accumulation of at least 1 (got batch ${batchSize}, accumulation ${gradAccum}).`);
  }
  if (batchSize * gradAccum !== per) {
    throw new ResumeSettingsError(`This run takes ${per} examples per optimizer step (batch ${stored.batchSize} x accumulation ${stored.gradAccum}); resume it with batch x accumulation = ${per} (got ${batchSize} x ${gradAccum}).`);
  }
  return { ...stored, batchSize, gradAccum };
}

/** The largest micro-batch below the current one that keeps the examples per step, or null at batch 1. */
export function smallerMicroBatch(s: Pick<TrainSettings, 'batchSize' | 'gradAccum'>): MicroBatch | null {
  const per = s.batchSize * s.gradAccum;
  for (let b = s.batchSize - 1; b >= 1; b--) if (per % b === 0) return { batchSize: b, gradAccum: per / b };
  return null;
}
