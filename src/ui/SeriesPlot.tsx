// One live uPlot chart over the training series: `read` turns trainingSeries into x (steps) and one
// column per line; the chart redraws on every notifySeries, outside React rendering. Lines marked
// `eval` are validation points (dots, gaps spanned). Used by the DPO and the KTO / ORPO charts.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { subscribeSeries } from '../store/train-series';

export interface PlotLine {
  label: string;
  stroke: string;
  eval?: boolean;
}

export interface PlotData {
  x: number[];
  /** One column per line, aligned with x (null: no point there). */
  ys: (number | null)[][];
  evalPoints?: number;
}

export function SeriesPlot({ label, lines, height, read }: { label: string; lines: PlotLine[]; height: number; read: () => PlotData }) {
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
        series: [{ label: 'step' }, ...lines.map((s) => (s.eval ? { label: s.label, stroke: s.stroke, width: 2, spanGaps: true, points: { show: true, size: 6 } } : { label: s.label, stroke: s.stroke, width: 1.5 }))],
      },
      [[], ...lines.map(() => [])],
      el,
    );
    const update = () => {
      const d = read();
      plot.setData([d.x, ...d.ys] as uPlot.AlignedData);
      figure.current?.setAttribute('data-points', String(d.x.length));
      figure.current?.setAttribute('data-eval-points', String(d.evalPoints ?? 0));
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
    // lines and read are constant per chart
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <figure ref={figure} aria-label={label} data-points="0" data-eval-points="0" className="chart">
      <div ref={box} />
    </figure>
  );
}
