// Token-length histogram of the dataset, shown before training: one bar per length bin, the maximum
// length marked, and the same numbers as a table for screen readers and for anyone who wants figures.
import type { LengthHistogram } from '../data/histogram';

export function TokenHistogram({ h, maxLength }: { h: LengthHistogram; maxLength: number }) {
  const peak = Math.max(...h.counts, 1);
  const over = h.counts.reduce((n, c, i) => (h.edges[i] >= maxLength ? n + c : n), 0);
  const label = `Token lengths of ${h.examples} examples: shortest ${h.shortest}, median ${h.p50}, 95th percentile ${h.p95}, longest ${h.longest}; maximum length ${maxLength}.`;
  return (
    <figure className="histogram" aria-label="Token length histogram" style={{ margin: '10px 0' }}>
      <figcaption className="hint">
        Tokens per example: shortest {h.shortest}, median {h.p50}, 95% ≤ {h.p95}, longest {h.longest}. Bars past the maximum length ({maxLength}) are red.
      </figcaption>
      <div role="img" aria-label={label} style={{ display: 'flex', alignItems: 'flex-end', gap: 2, height: 90, borderBottom: '1px solid var(--line)', marginTop: 6 }}>
        {h.counts.map((c, i) => {
          const hi = h.edges[i + 1] - 1;
          const beyond = h.edges[i] >= maxLength;
          return (
            <div
              key={i}
              data-testid="histogram-bar"
              title={`${h.edges[i]}${hi > h.edges[i] ? `–${hi}` : ''} tokens: ${c} example${c === 1 ? '' : 's'}`}
              style={{ flex: 1, height: `${(100 * c) / peak}%`, minHeight: c > 0 ? 2 : 0, background: beyond ? 'var(--error)' : 'var(--accent)', borderRadius: '2px 2px 0 0' }}
            />
          );
        })}
      </div>
      <div className="hint" style={{ display: 'flex', justifyContent: 'space-between' }}>
        <span>{h.shortest}</span>
        <span>{h.edges[h.edges.length - 1] - 1} tokens</span>
      </div>
      {over > 0 ? <p className="hint">About {over} example{over === 1 ? ' is' : 's are'} longer than the maximum length.</p> : null}
      <details>
        <summary className="hint">Histogram as a table</summary>
        <table aria-label="Token length table" style={{ fontSize: '0.85rem', fontVariantNumeric: 'tabular-nums' }}>
          <thead>
            <tr><th scope="col">Tokens</th><th scope="col">Examples</th></tr>
          </thead>
          <tbody>
            {h.counts.map((c, i) => (
              <tr key={i}><td>{h.edges[i]}–{h.edges[i + 1] - 1}</td><td>{c}</td></tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
