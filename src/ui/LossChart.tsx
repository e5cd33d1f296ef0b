// Live training charts (uPlot): loss (raw, smoothed, validation) and a small chart per metric
// (learning rate, gradient norm, tokens/s). They subscribe to the step series outside React
// rendering, so a new point costs one setData call, not a re-render of the tree.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { subscribeSeries, trainingSeries } from '../store/train-series';
import { ChartSaveButtons, saveChartPng, saveCsv } from './chart-export';

/** Exponential moving average, as TensorBoard's smoothing slider does (debiased). */
export function smooth(values: number[], weight = 0.8): number[] {
  const out: number[] = [];
  let last = 0;
  values.forEach((v, i) => {
    last = last * weight + (1 - weight) * v;
    out.push(last / (1 - weight ** (i + 1)));
  });
  return out;
}

/** Validation losses placed on the training steps' x axis (null where there was no evaluation). */
function alignEval(steps: number[], evalSteps: number[], evalLoss: number[]): (number | null)[] {
  const at = new Map(evalSteps.map((s, i) => [s, evalLoss[i]]));
  return steps.map((s) => at.get(s) ?? null);
}

function usePlot(make: (el: HTMLDivElement) => uPlot, update: (plot: uPlot) => void, height: number) {
  const box = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const plot = make(el);
    plotRef.current = plot;
    const run = () => update(plot);
    run();
    const unsubscribe = subscribeSeries(run);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      unsubscribe();
      resize.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
    // make/update are stable per chart
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { box, plotRef };
}

export function LossChart() {
  const figure = useRef<HTMLElement>(null);
  const { box, plotRef } = usePlot(
    (el) =>
      new uPlot(
        {
          width: Math.max(200, el.clientWidth),
          height: 260,
          scales: { x: { time: false } },
          axes: [{ label: 'step' }, { label: 'loss' }],
          series: [
            { label: 'step' },
            { label: 'loss', stroke: 'rgba(79, 70, 229, 0.45)', width: 1 },
            { label: 'smoothed', stroke: '#4f46e5', width: 2 },
            { label: 'validation', stroke: '#d97706', width: 2, spanGaps: true, points: { show: true, size: 6 } },
          ],
        },
        [[], [], [], []],
        el,
      ),
    (plot) => {
      const { steps, loss, evalSteps, evalLoss } = trainingSeries;
      plot.setData([steps, loss, smooth(loss), alignEval(steps, evalSteps, evalLoss)] as uPlot.AlignedData);
      figure.current?.setAttribute('data-points', String(steps.length));
      figure.current?.setAttribute('data-eval-points', String(evalSteps.length));
    },
    260,
  );
  return (
    <figure ref={figure} aria-label="Training loss chart" data-points="0" data-eval-points="0" className="chart">
      <div ref={box} />
      <figcaption className="muted">Training loss per step (thin), smoothed (thick), and validation loss (dots).</figcaption>
      <ChartSaveButtons
        name="loss chart"
        png={() => plotRef.current && saveChartPng(plotRef.current, 'training-loss.png')}
        csv={() => {
          const { steps, loss, evalSteps, evalLoss } = trainingSeries;
          saveCsv(['step', 'loss', 'smoothed', 'validation_loss'], [steps, loss, smooth(loss), alignEval(steps, evalSteps, evalLoss)], 'training-loss.csv');
        }}
      />
    </figure>
  );
}

type Metric = 'lr' | 'gradNorm' | 'tokensPerSec';

export function MetricChart({ metric, label, color }: { metric: Metric; label: string; color: string }) {
  const { box, plotRef } = usePlot(
    (el) =>
      new uPlot(
        {
          width: Math.max(200, el.clientWidth),
          height: 140,
          scales: { x: { time: false } },
          legend: { show: false },
          axes: [{}, { size: 60 }],
          series: [{ label: 'step' }, { label, stroke: color, width: 1.5 }],
        },
        [[], []],
        el,
      ),
    (plot) => plot.setData([trainingSeries.steps, trainingSeries[metric]]),
    140,
  );
  return (
    <figure aria-label={`${label} chart`} className="chart small-chart">
      <figcaption className="muted">{label}</figcaption>
      <div ref={box} />
      <ChartSaveButtons name={`${label} chart`} png={() => plotRef.current && saveChartPng(plotRef.current, `${metric}.png`)} csv={() => saveCsv(['step', metric], [trainingSeries.steps, trainingSeries[metric]], `${metric}.csv`)} />
    </figure>
  );
}
