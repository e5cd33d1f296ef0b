// Training curves outside React state: appended once per step, read by the charts through a
// subscription, so a new point costs a chart update and never a re-render of the tree.
import type { TrainHistory } from '../train/checkpoint';

export const trainingSeries: TrainHistory = { steps: [], loss: [], lr: [], gradNorm: [], tokensPerSec: [], evalSteps: [], evalLoss: [], dpoTrain: [], dpoEval: [], figureTrain: [] };

type SeriesListener = () => void;
const listeners = new Set<SeriesListener>();

export function subscribeSeries(l: SeriesListener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function notifySeries(): void {
  listeners.forEach((l) => l());
}

/** Replaces every curve (empty for a new run, a checkpoint's history for a resumed one). */
export function resetSeries(from?: TrainHistory): void {
  const curves = ['steps', 'loss', 'lr', 'gradNorm', 'tokensPerSec', 'evalSteps', 'evalLoss'] as const;
  for (const k of curves) trainingSeries[k] = from ? [...from[k]] : [];
  // DPO reward points (absent in supervised runs' histories).
  trainingSeries.dpoTrain = [...(from?.dpoTrain ?? [])];
  trainingSeries.dpoEval = [...(from?.dpoEval ?? [])];
  trainingSeries.figureTrain = [...(from?.figureTrain ?? [])]; // KTO / ORPO figures
  notifySeries();
}
