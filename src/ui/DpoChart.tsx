// Live DPO charts (uPlot): rewards of the chosen and rejected answers and their margin, and the
// share of pairs ranked right (accuracy), on training steps (lines) and validation pairs (dots).
// Like the loss chart it subscribes to the series outside React rendering. Renders nothing for supervised runs.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { useApp } from '../store/app-store';
import { subscribeSeries, trainingSeries } from '../store/train-series';
import type { DpoPoint } from '../train/checkpoint';

type Field = 'rewardChosen' | 'rewardRejected' | 'margin' | 'accuracy';

/** The validation points placed on the training steps' x axis (null where there was no evaluation). */
function aligned(steps: number[], points: DpoPoint[], f: Field): (number | null)[] {
  const at = new Map(points.map((p) => [p.step, p[f]]));
  return steps.map((s) => at.get(s) ?? null);
}

function Plot({ label, series, fields, height }: { label: string; series: { label: string; stroke: string; eval?: boolean }[]; fields: Field[]; height: number }) {
  const box = useRef<HTMLDivElement>(null);
  const figure = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = box.current!;
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, {}],
        series: [{ label: 'step' }, ...series.map((s) => (s.eval ? { label: s.label, stroke: s.stroke, width: 2, spanGaps: true, points: { show: true, size: 6 } } : { label: s.label, stroke: s.stroke, width: 1.5 }))],
      },
      [[], ...series.map(() => [])],
      el,
    );
    const update = () => {
      const train = trainingSeries.dpoTrain ?? [];
      const evals = trainingSeries.dpoEval ?? [];
      const steps = train.map((p) => p.step);
      plot.setData([steps, ...series.map((s, i) => (s.eval ? aligned(steps, evals, fields[i]) : train.map((p) => p[fields[i]])))] as uPlot.AlignedData);
      figure.current?.setAttribute('data-points', String(train.length));
      figure.current?.setAttribute('data-eval-points', String(evals.length));
    };
    update();
    const unsubscribe = subscribeSeries(update);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      unsubscribe();
      resize.disconnect();
      plot.destroy();
    };
    // series/fields are constant per chart
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <figure ref={figure} aria-label={label} data-points="0" data-eval-points="0" className="chart">
      <div ref={box} />
    </figure>
  );
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
