// Live training-loss chart (uPlot). It subscribes to the store's step series outside React
// rendering, so a new point costs one setData call, not a re-render of the tree.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { subscribeSeries, trainingSeries } from '../store/train-series';

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

export function LossChart() {
  const box = useRef<HTMLDivElement>(null);
  const figure = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = box.current!;
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 260,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [
          { label: 'step' },
          { label: 'loss', stroke: 'rgba(79, 70, 229, 0.45)', width: 1 },
          { label: 'smoothed', stroke: '#4f46e5', width: 2 },
        ],
      },
      [[], [], []],
      el,
    );
    const update = () => {
      const { steps, loss } = trainingSeries;
      plot.setData([steps, loss, smooth(loss)]);
      figure.current?.setAttribute('data-points', String(steps.length));
    };
    update();
    const unsubscribe = subscribeSeries(update);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 260 }));
    resize.observe(el);
    return () => {
      unsubscribe();
      resize.disconnect();
      plot.destroy();
    };
  }, []);
  return (
    <figure ref={figure} aria-label="Training loss chart" data-points="0" className="chart">
      <div ref={box} />
      <figcaption className="muted">Training loss per step (thin) and smoothed (thick).</figcaption>
    </figure>
  );
}
