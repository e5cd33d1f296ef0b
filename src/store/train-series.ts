// Training curves outside React state: appended once per step, read by the charts through a
// subscription, so a new point costs a chart update and never a re-render of the tree.
export const trainingSeries: { steps: number[]; loss: number[]; tokensPerSec: number[] } = { steps: [], loss: [], tokensPerSec: [] };

type SeriesListener = () => void;
const listeners = new Set<SeriesListener>();

export function subscribeSeries(l: SeriesListener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function notifySeries(): void {
  listeners.forEach((l) => l());
}

export function resetSeries(): void {
  trainingSeries.steps = [];
  trainingSeries.loss = [];
  trainingSeries.tokensPerSec = [];
  notifySeries();
}
