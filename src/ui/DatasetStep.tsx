// Step 2: drop or pick a dataset file (JSONL, gzip JSONL, a JSON array, CSV/TSV, Parquet) or load an
// example, and choose how it is read. The worker streams, validates and tokenizes it (the page never
// holds it as a string); a progress bar shows rows and bytes, the column mapper shows columns that are
// not a known format, then DatasetReport shows counts, histogram, bad rows and the highlighted preview.
import { useState } from 'react';
import { useApp } from '../store/app-store';
import { StepBadge } from './StepBadge';
import { ErrorBox, Progress } from './common';
import { formatBytes, formatCount } from './format';
import { DatasetOptionsForm } from './DatasetOptionsForm';
import { DatasetReportCard } from './DatasetReport';
import { DatasetChecks } from './PreflightPanel';
import { ColumnMapper } from './ColumnMapper';
import { HubDatasetForm } from './HubDatasetForm';

const EXAMPLES = [
  { file: 'stories-dragon.jsonl', label: 'Example: short stories about Zed the dragon ({"text"})' },
  { file: 'qa-prompt-completion.jsonl', label: 'Example: questions and answers ({"prompt","completion"})' },
];

function DatasetProgress() {
  const p = useApp((s) => s.datasetProgress);
  if (!p || p.task !== 'parse') return null;
  return (
    <div data-testid="dataset-progress" data-bytes={p.bytesDone} data-lines={p.lines}>
      <Progress label="Reading dataset" value={p.bytesDone} max={p.bytesTotal} detail={`${p.file ? `${p.file}: ` : ''}${formatCount(p.lines)} lines · ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`} />
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
    <section id="step-dataset" tabIndex={-1} aria-labelledby="h-dataset" className={`step${model ? '' : ' locked'}`}>
      <StepBadge step="dataset" />
      <h2 id="h-dataset">2. Dataset</h2>
      <p className="muted">
        A JSONL file, one JSON object per line: <code>{'{"text": …}'}</code>, <code>{'{"prompt": …, "completion": …}'}</code>, Alpaca, OpenAI messages or ShareGPT;
        or the same rows as CSV/TSV (a header row), Parquet, a JSON array, or gzip-compressed JSONL. Other column names can be mapped.
        {model ? null : ' Load a model first: its tokenizer reads the data.'}
      </p>
      <div
        className={`dropzone${over ? ' over' : ''}`}
        role="group"
        aria-label="Drop a dataset file here"
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
        <p>Drop a .jsonl, .csv, .tsv, .parquet, .json or .jsonl.gz file here, or</p>
        <label className="button">
          Choose a dataset file
          <input
            type="file"
            accept=".jsonl,.ndjson,.json,.txt,.csv,.tsv,.parquet,.gz,application/jsonl,application/json,text/plain,text/csv,text/tab-separated-values,application/gzip"
            aria-label="Dataset file (JSONL), or CSV, TSV, Parquet, a JSON array, gzip"
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
      <HubDatasetForm disabled={disabled} />
      <DatasetOptionsForm disabled={!model || busy} />
      <DatasetProgress />
      <ErrorBox error={error} />
      <ColumnMapper />
      <DatasetReportCard />
      <DatasetChecks />
    </section>
  );
}
