// What the parsed dataset holds: format and chat template, the counts, the token-length histogram,
// the bad lines (first ones, with their numbers, and the total), and the first examples exactly as
// the model sees them: token by token, the tokens that carry loss highlighted (with a legend).
import { useApp } from '../store/app-store';
import { formatCount } from './format';
import { TokenHistogram } from './TokenHistogram';
import type { DatasetReport as Report } from '../worker/protocol';

function Stat({ label, value, testId }: { label: string; value: string | number; testId: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

function Legend() {
  return (
    <p className="hint" aria-label="Legend">
      Each box is one token. <span className="tok loss">highlighted</span> tokens carry loss (the model learns to predict them);{' '}
      <span className="tok">plain</span> tokens are context only. <code>⏎</code> is a line break.
    </p>
  );
}

function Preview({ d }: { d: Report }) {
  if (d.preview.length === 0) return null;
  return (
    <details open>
      <summary>What the model will see: the first {d.preview.length} example{d.preview.length === 1 ? '' : 's'}</summary>
      <Legend />
      {d.preview.map((ex) => {
        const trained = ex.tokens.filter((t) => t.loss).length;
        return (
          <div key={ex.line}>
            <p className="hint">{d.unit === 'row' ? 'Row' : 'Line'} {ex.line}: {ex.tokens.length} tokens, {trained} carry loss</p>
            <p className="tokens" aria-label={`Example from ${d.unit} ${ex.line}`} data-loss-tokens={trained}>
              {ex.tokens.map((t, i) => (
                <span key={i} className={t.loss ? 'tok loss' : 'tok'} data-loss={t.loss ? '1' : '0'} title={`id ${t.id}${t.loss ? ' · carries loss' : ' · context only'}`}>
                  {t.text.replace(/\n/g, '⏎\n')}
                </span>
              ))}
            </p>
          </div>
        );
      })}
    </details>
  );
}

function BadLines({ d }: { d: Report }) {
  if (d.invalid === 0) return null;
  return (
    <details open>
      <summary data-testid="dataset-errors-summary">
        {d.invalid} invalid {d.unit}{d.invalid === 1 ? '' : 's'} skipped{d.errors.length < d.invalid ? ` (first ${d.errors.length} shown)` : ''}; training uses the {d.valid} valid one{d.valid === 1 ? '' : 's'}
      </summary>
      <ul className="line-errors" aria-label="Invalid lines">
        {d.errors.map((e) => (
          <li key={e.line}>{d.unit === 'row' ? 'Row' : 'Line'} {e.line}: {e.error}</li>
        ))}
      </ul>
    </details>
  );
}

export function DatasetReportCard() {
  const d = useApp((s) => s.dataset);
  if (!d) return null;
  const o = d.options;
  const v = d.validation;
  return (
    <div className="card" aria-label="Dataset summary">
      <p>
        <strong>{d.fileName}</strong>{d.fileKind && d.fileKind !== 'jsonl' ? ` (${d.fileKind.toUpperCase().replace('-', ' ')}${d.gzip ? ', gzip' : ''})` : d.gzip ? ' (gzip)' : ''} · format <strong data-testid="dataset-format">{d.format ?? 'unknown'}</strong> ({d.mapping ? `${d.mapping.source === 'given' ? 'mapped' : 'mapped automatically'} from its columns` : o.format ? 'forced' : 'detected'})
      </p>
      {d.chatTemplate ? (
        <p data-testid="dataset-template">
          Chat template: <strong>{d.chatTemplate.name}</strong>
          {d.chatTemplate.fallback ? ' — this model ships no chat_template, so conversations are written as "User: …" / "Assistant: …" lines, each answer closed by the end-of-sequence token.' : null}
        </p>
      ) : null}
      <dl className="stats">
        <Stat label={d.unit === 'row' ? 'Rows' : 'Lines'} value={d.lines} testId="dataset-lines" />
        <Stat label="Valid" value={d.valid} testId="dataset-valid" />
        <Stat label="Invalid" value={d.invalid} testId="dataset-invalid" />
        <Stat label="Examples" value={d.examples} testId="dataset-examples" />
        <Stat label="Tokens" value={formatCount(d.tokens)} testId="dataset-tokens" />
        <Stat label="Carry loss" value={formatCount(d.trainedTokens)} testId="dataset-trained-tokens" />
        <Stat label={`Cut to ${o.maxLength}`} value={d.truncated} testId="dataset-truncated" />
        <Stat label="Left out" value={d.dropped} testId="dataset-dropped" />
        <Stat label="Training" value={d.train} testId="dataset-train" />
        <Stat label="Validation" value={v.examples} testId="dataset-validation" />
        {o.packing ? <Stat label={`Rows of ${d.packing.rowLength}`} value={d.packing.rows} testId="dataset-packed-rows" /> : null}
      </dl>
      <p className="hint">
        {v.source === 'file' ? `Validation: ${v.examples} examples from ${v.fileName}${v.invalid ? ` (${v.invalid} invalid lines there${v.errors?.length ? `, first: line ${v.errors[0].line}: ${v.errors[0].error}` : ''})` : ''}.` : v.source === 'percent' ? `Validation: ${v.examples} examples held out (${o.validationPercent}%, seed ${o.seed}).` : 'No validation set.'}{' '}
        {o.packing
          ? `Packing: ${d.packing.examples} examples in ${d.packing.rows} rows of ${d.packing.rowLength} tokens, ${Math.round(100 * d.packing.fill)}% full.`
          : `Unpacked, rows would be ${Math.round((100 * d.packing.tokens) / Math.max(1, d.packing.examples * d.packing.rowLength))}% full; packing would need ${d.packing.rows} rows instead of ${d.packing.examples}.`}
        {d.dropped > 0 ? ` ${d.dropped} example${d.dropped === 1 ? ' was' : 's were'} left out (${o.overflow === 'drop' ? 'longer than the maximum, or ' : ''}no token left to learn from).` : ''}
      </p>
      {d.lengths ? <TokenHistogram h={d.lengths} maxLength={o.maxLength} /> : null}
      <BadLines d={d} />
      <Preview d={d} />
    </div>
  );
}
