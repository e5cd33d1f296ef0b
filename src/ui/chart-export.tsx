// Saving a chart: the uPlot canvas as a PNG (on white, so it reads in any viewer) and its series as
// CSV (one row per x, empty cells where a series has no point).
import type uPlot from 'uplot';
import { downloadBytes } from './download';

export function saveChartPng(plot: uPlot, fileName: string): void {
  const src = plot.ctx.canvas;
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(src, 0, 0);
  c.toBlob((b) => {
    if (b) void b.arrayBuffer().then((buf) => downloadBytes(new Uint8Array(buf), fileName, 'image/png'));
  }, 'image/png');
}

/** CSV text of columns under headers; null and undefined become empty cells. */
export function toCsv(headers: string[], columns: ArrayLike<number | null | undefined>[]): string {
  const n = Math.max(0, ...columns.map((c) => c.length));
  const rows = [headers.map((h) => (/[",\n]/.test(h) ? `"${h.replace(/"/g, '""')}"` : h)).join(',')];
  for (let i = 0; i < n; i++) rows.push(columns.map((c) => (c[i] === null || c[i] === undefined ? '' : String(c[i]))).join(','));
  return rows.join('\n') + '\n';
}

export function saveCsv(headers: string[], columns: ArrayLike<number | null | undefined>[], fileName: string): void {
  downloadBytes(new TextEncoder().encode(toCsv(headers, columns)), fileName, 'text/csv');
}

/** Save PNG / Save CSV buttons for one chart. */
export function ChartSaveButtons({ name, png, csv }: { name: string; png: () => void; csv: () => void }) {
  return (
    <div className="row chart-save" role="group" aria-label={`Save ${name}`}>
      <button type="button" className="small" onClick={png}>Save PNG</button>
      <button type="button" className="small" onClick={csv}>Save CSV</button>
    </div>
  );
}
