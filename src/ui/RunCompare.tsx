// Compare runs: pick past runs (IndexedDB) and see their smoothed loss curves overlaid, with their
// final figures side by side; the chart saves as PNG and CSV like the live ones.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { useApp } from '../store/app-store';
import type { ComparedRun } from '../store/types';
import type { RunRecord } from '../train/training-run';
import { smooth } from './LossChart';
import { ChartSaveButtons, saveChartPng, saveCsv } from './chart-export';

type Loaded = ComparedRun & { history: NonNullable<ComparedRun['history']> };

const COLORS = ['#4f46e5', '#d97706', '#059669', '#dc2626', '#0891b2', '#7c3aed'];

function label(r: RunRecord): string {
  return `${new Date(r.createdAt).toLocaleString()} · r=${r.lora.r} · lr ${r.settings.learningRate} · ${r.totalSteps}-step run`;
}

/** One x axis (the union of steps) with each run's smoothed loss on it (null where a run has no step). */
export function alignRuns(runs: Loaded[]): { x: number[]; ys: (number | null)[][] } {
  const x = [...new Set(runs.flatMap((r) => r.history.steps))].sort((a, b) => a - b);
  const ys = runs.map((r) => {
    const at = new Map(r.history.steps.map((s, i) => [s, smooth(r.history.loss)[i]]));
    return x.map((s) => at.get(s) ?? null);
  });
  return { x, ys };
}

function OverlayChart({ runs, names }: { runs: Loaded[]; names: string[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Rebuilt only when the set of runs (or their length) changes, not on every store update.
  const key = runs.map((r) => `${r.runId}:${r.history.steps.length}`).join('|') + names.join('|');
  useEffect(() => {
    const el = box.current!;
    const { x, ys } = alignRuns(runs);
    const p = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 240,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'smoothed loss' }],
        series: [{ label: 'step' }, ...runs.map((_, i) => ({ label: names[i], stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true }))],
      },
      [x, ...ys] as uPlot.AlignedData,
      el,
    );
    plot.current = p;
    const resize = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height: 240 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      p.destroy();
      plot.current = null;
    };
    // runs/names are read through `key`
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return (
    <figure aria-label="Compared runs chart" className="chart" data-runs={runs.length}>
      <div ref={box} />
      <ChartSaveButtons
        name="compared runs chart"
        png={() => plot.current && saveChartPng(plot.current, 'compared-runs.png')}
        csv={() => {
          const { x, ys } = alignRuns(runs);
          saveCsv(['step', ...names], [x, ...ys], 'compared-runs.csv');
        }}
      />
    </figure>
  );
}

export function RunCompare() {
  const runs = useApp((s) => s.runs);
  const compared = useApp((s) => s.comparedRuns);
  const toggle = useApp((s) => s.toggleComparedRun);
  const usable = runs.filter((r) => r.checkpointStep !== null);
  if (usable.length < 1) return null;
  const ticked = compared.filter((c) => usable.some((r) => r.runId === c.runId));
  const picked = ticked.filter((c): c is Loaded => c.history !== null);
  const records = picked.map((c) => usable.find((r) => r.runId === c.runId)!);
  return (
    <details className="compare-runs">
      <summary>Compare runs ({usable.length})</summary>
      <fieldset className="run-picks">
        <legend>Runs to overlay</legend>
        {usable.map((r) => (
          <label key={r.runId} className="check">
            <input type="checkbox" checked={ticked.some((c) => c.runId === r.runId)} onChange={(e) => void toggle(r.runId, e.target.checked)} /> {label(r)}
          </label>
        ))}
      </fieldset>
      {picked.length > 0 ? (
        <>
          <OverlayChart runs={picked} names={records.map((_, i) => `run ${i + 1}`)} />
          <div className="table-scroll">
            <table aria-label="Compared runs">
              <thead><tr><th>Run</th><th>Settings</th><th>Steps</th><th>Final loss</th><th>Val loss</th><th>Status</th></tr></thead>
              <tbody>
                {records.map((r, i) => (
                  <tr key={r.runId}>
                    <td><span className="swatch" style={{ background: COLORS[i % COLORS.length] }} /> run {i + 1}</td>
                    <td className="muted">r={r.lora.r}, alpha={r.lora.alpha}, lr {r.settings.learningRate}, B {r.settings.batchSize}x{r.settings.gradAccum}</td>
                    <td>{r.step} / {r.totalSteps}</td>
                    <td>{r.finalLoss?.toFixed(4) ?? '–'}</td>
                    <td>{r.lastEvalLoss?.toFixed(4) ?? '–'}</td>
                    <td>{r.status}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : <p className="muted">Tick runs to overlay their loss curves.</p>}
    </details>
  );
}
