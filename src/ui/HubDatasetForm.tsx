// A dataset from the Hugging Face hub: its id, then a config and split from the hub's Parquet listing
// (and a file when a split has several), downloaded once into IndexedDB with a progress bar and read
// like a dropped Parquet file. The saved access token (Model step) is sent to huggingface.co only.
import { useId, useState } from 'react';
import { useApp } from '../store/app-store';
import { readHubToken } from '../storage/hub-token';
import { HUB_URL, datasetFileName, listParquetFiles, loadHubDatasetFile, parseDatasetId, type ParquetListing } from '../storage/hub-dataset';
import { Progress } from './common';
import { formatBytes } from './format';

/** The hub's base URL: ?hub=<url> points the page at a local hub (tests); no token ever goes there. */
function hubUrl(): string {
  return new URLSearchParams(location.search).get('hub') ?? HUB_URL;
}

export function HubDatasetForm({ disabled }: { disabled: boolean }) {
  const loadDataset = useApp((s) => s.loadDataset);
  const [input, setInput] = useState('');
  const [listed, setListed] = useState<{ id: string; listing: ParquetListing } | null>(null);
  const [config, setConfig] = useState('');
  const [split, setSplit] = useState('');
  const [file, setFile] = useState(0);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<{ loaded: number; total: number | null; name: string } | null>(null);
  const ids = { id: useId(), config: useId(), split: useId(), file: useId() };
  const fail = (title: string, e: unknown) => useApp.setState({ datasetError: { title, message: (e as Error).message } });

  const list = async () => {
    setBusy(true);
    try {
      const id = parseDatasetId(input);
      const listing = await listParquetFiles(id, { hubUrl: hubUrl(), token: await readHubToken() });
      const c = Object.keys(listing)[0];
      const splits = Object.keys(listing[c]);
      setListed({ id, listing });
      setConfig(c);
      setSplit(splits.includes('train') ? 'train' : splits[0]);
      setFile(0);
      useApp.setState({ datasetError: null });
    } catch (e) {
      setListed(null);
      fail('Hub dataset not available', e);
    } finally {
      setBusy(false);
    }
  };

  const load = async () => {
    if (!listed) return;
    const url = listed.listing[config]?.[split]?.[file];
    if (!url) return;
    const ref = { id: listed.id, config, split, url };
    const name = datasetFileName(ref);
    setBusy(true);
    try {
      const { blob } = await loadHubDatasetFile(ref, { token: await readHubToken(), onProgress: (loaded, total) => setProgress({ loaded, total, name }) });
      setProgress(null);
      await loadDataset(blob, name);
    } catch (e) {
      fail(`${name} could not be downloaded`, e);
    } finally {
      setProgress(null);
      setBusy(false);
    }
  };

  const splits = listed ? Object.keys(listed.listing[config] ?? {}) : [];
  const files = listed ? (listed.listing[config]?.[split] ?? []) : [];
  return (
    <fieldset className="settings" disabled={disabled || busy} aria-label="Dataset from the Hugging Face hub">
      <legend>Or a dataset from the Hugging Face hub</legend>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void list();
        }}
      >
        <label htmlFor={ids.id}>Hub dataset id</label>
        <input id={ids.id} type="text" value={input} placeholder="owner/name" spellCheck={false} onChange={(e) => setInput(e.target.value)} />
        <button type="submit" disabled={!input.trim()}>List splits</button>
      </form>
      {listed ? (
        <div className="grid">
          <div className="field">
            <label htmlFor={ids.config}>Config</label>
            <select id={ids.config} value={config} onChange={(e) => {
              const c = e.target.value;
              setConfig(c);
              setSplit(Object.keys(listed.listing[c])[0]);
              setFile(0);
            }}>
              {Object.keys(listed.listing).map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.split}>Split</label>
            <select id={ids.split} value={split} onChange={(e) => {
              setSplit(e.target.value);
              setFile(0);
            }}>
              {splits.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </div>
          {files.length > 1 ? (
            <div className="field">
              <label htmlFor={ids.file}>File of this split</label>
              <select id={ids.file} value={file} onChange={(e) => setFile(Number(e.target.value))}>
                {files.map((u, i) => <option key={u} value={i}>{`${i + 1} of ${files.length}: ${decodeURIComponent(u.split('/').pop() ?? u)}`}</option>)}
              </select>
            </div>
          ) : null}
          <div className="field">
            <button type="button" onClick={() => void load()}>Load from the hub</button>
          </div>
        </div>
      ) : null}
      {progress ? (
        <div data-testid="hub-dataset-progress">
          <Progress label="Downloading dataset" value={progress.loaded} max={progress.total} detail={`${progress.name}: ${formatBytes(progress.loaded)} / ${formatBytes(progress.total)}`} />
        </div>
      ) : null}
    </fieldset>
  );
}
