// Live DPO charts (uPlot): rewards of the chosen and rejected answers and their margin, and the
// share of pairs ranked right (accuracy), on training steps (lines) and validation pairs (dots).
// Drawn by SeriesPlot, outside React rendering. Renders nothing for other objectives.
import { useApp } from '../store/app-store';
import { trainingSeries } from '../store/train-series';
import { SeriesPlot, type PlotData, type PlotLine } from './SeriesPlot';
import type { DpoPoint } from '../train/checkpoint';

type Field = 'rewardChosen' | 'rewardRejected' | 'margin' | 'accuracy';

/** The validation points placed on the training steps' x axis (null where there was no evaluation). */
function aligned(steps: number[], points: DpoPoint[], f: Field): (number | null)[] {
  const at = new Map(points.map((p) => [p.step, p[f]]));
  return steps.map((s) => at.get(s) ?? null);
}

/** A DPO chart: the training steps' fields as lines, `eval` lines from the validation points. */
function Plot({ label, series, fields, height }: { label: string; series: PlotLine[]; fields: Field[]; height: number }) {
  const read = (): PlotData => {
    const train = trainingSeries.dpoTrain ?? [];
    const evals = trainingSeries.dpoEval ?? [];
    const steps = train.map((p) => p.step);
    return { x: steps, ys: series.map((s, i) => (s.eval ? aligned(steps, evals, fields[i]) : train.map((p) => p[fields[i]]))), evalPoints: evals.length };
  };
  return <SeriesPlot label={label} lines={series} height={height} read={read} />;
}

export function DpoChart() {
  const objective = useApp((s) => s.train.objective);
  if (objective !== 'dpo') return null;
  return (
    <section aria-label="DPO metrics">
      <Plot
        label="DPO rewards chart"
        height={220}
        fields={['rewardChosen', 'rewardRejected', 'margin', 'margin']}
        series={[
          { label: 'reward chosen', stroke: '#059669' },
          { label: 'reward rejected', stroke: '#dc2626' },
          { label: 'margin', stroke: '#4f46e5' },
          { label: 'validation margin', stroke: '#d97706', eval: true },
        ]}
      />
      <Plot label="DPO accuracy chart" height={140} fields={['accuracy', 'accuracy']} series={[{ label: 'accuracy', stroke: '#4f46e5' }, { label: 'validation accuracy', stroke: '#d97706', eval: true }]} />
      <p className="muted">Rewards are beta × (log p<sub>tuned</sub> − log p<sub>base</sub>) of each answer; accuracy is the share of pairs whose chosen answer out-scores the rejected one. Both start at 0 (the adapter starts equal to the base).</p>
    </section>
  );
}
