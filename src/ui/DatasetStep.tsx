// Step 2: drop or pick a JSONL file (or load an example). The worker streams and validates it;
// this shows the counts, the bad lines with their numbers, and the first examples token by token
// with the tokens that carry loss highlighted.
import { useState } from 'react';
import { useApp } from '../store/app-store';
import { ErrorBox, Progress } from './common';
import { formatBytes, formatCount } from './format';

const EXAMPLES = [
  { file: 'stories-dragon.jsonl', label: 'Example: short stories about Zed the dragon ({"text"})' },
  { file: 'qa-prompt-completion.jsonl', label: 'Example: questions and answers ({"prompt","completion"})' },
];

function DatasetProgress() {
  const p = useApp((s) => s.datasetProgress);
  if (!p || p.task !== 'parse') return null;
  return <Progress label="Reading dataset" value={p.bytesDone} max={p.bytesTotal} detail={`${formatCount(p.lines)} lines · ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`} />;
}

function Report() {
  const d = useApp((s) => s.dataset);
  if (!d) return null;
  return (
    <div className="card" aria-label="Dataset summary">
      <p>
        <strong>{d.fileName}</strong> · format <strong>{d.format ?? 'unknown'}</strong>
        {d.chatTemplate ? <> · template {d.chatTemplate.name}</> : null}
      </p>
      <dl className="stats">
        <div><dt>Lines</dt><dd data-testid="dataset-lines">{d.lines}</dd></div>
        <div><dt>Valid</dt><dd data-testid="dataset-valid">{d.valid}</dd></div>
        <div><dt>Invalid</dt><dd data-testid="dataset-invalid">{d.invalid}</dd></div>
        <div><dt>Examples</dt><dd>{d.examples}</dd></div>
        <div><dt>Tokens</dt><dd>{formatCount(d.tokens)}</dd></div>
        <div><dt>Truncated</dt><dd>{d.truncated}</dd></div>
      </dl>
      {d.errors.length > 0 ? (
        <details open>
          <summary>{d.invalid} invalid line{d.invalid === 1 ? '' : 's'} skipped{d.errors.length < d.invalid ? ` (first ${d.errors.length} shown)` : ''}</summary>
          <ul className="line-errors" aria-label="Invalid lines">
            {d.errors.map((e) => (
              <li key={e.line}>Line {e.line}: {e.error}</li>
            ))}
          </ul>
        </details>
      ) : null}
      {d.preview.length > 0 ? (
        <details open>
          <summary>What the model will see (highlighted tokens carry loss)</summary>
          {d.preview.map((ex) => (
            <p key={ex.line} className="tokens" aria-label={`Example from line ${ex.line}`}>
              {ex.tokens.map((t, i) => (
                <span key={i} className={t.loss ? 'tok loss' : 'tok'} title={`id ${t.id}${t.loss ? ' · trained' : ''}`}>{t.text}</span>
              ))}
            </p>
          ))}
        </details>
      ) : null}
    </div>
  );
}

export function DatasetStep() {
  const model = useApp((s) => s.model);
  const busy = useApp((s) => s.datasetBusy);
  const error = useApp((s) => s.datasetError);
  const loadDataset = useApp((s) => s.loadDataset);
  const [over, setOver] = useState(false);
  const disabled = !model || busy;
  const loadExample = async (file: string) => {
    const r = await fetch(`${import.meta.env.BASE_URL}examples/${file}`);
    if (!r.ok) {
      useApp.setState({ datasetError: { title: 'Example not available', message: `${file}: HTTP ${r.status}` } });
      return;
    }
    await loadDataset(await r.blob(), file);
  };
  return (
    <section id="step-dataset" aria-labelledby="h-dataset" className={`step${model ? '' : ' locked'}`}>
      <h2 id="h-dataset">2. Dataset</h2>
      <p className="muted">
        A JSONL file, one JSON object per line: <code>{'{"text": …}'}</code>, <code>{'{"prompt": …, "completion": …}'}</code>, Alpaca, OpenAI messages or ShareGPT.
        {model ? null : ' Load a model first: its tokenizer reads the data.'}
      </p>
      <div
        className={`dropzone${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          if (!disabled) setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const f = e.dataTransfer.files[0];
          if (f && !disabled) void loadDataset(f, f.name);
        }}
      >
        <p>Drop a .jsonl file here, or</p>
        <label className="button">
          Choose a JSONL file
          <input
            type="file"
            accept=".jsonl,.json,.txt,application/jsonl,application/json,text/plain"
            aria-label="Dataset file (JSONL)"
            disabled={disabled}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void loadDataset(f, f.name);
              e.target.value = '';
            }}
          />
        </label>
      </div>
      <div className="row">
        {EXAMPLES.map((x) => (
          <button key={x.file} type="button" disabled={disabled} onClick={() => void loadExample(x.file)}>{x.label}</button>
        ))}
      </div>
      <DatasetProgress />
      <ErrorBox error={error} />
      <Report />
    </section>
  );
}
