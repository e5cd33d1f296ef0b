// The dataset options: format override, loss on prompts, maximum length and what happens past it,
// packing, and the validation split (a percentage or a second file). Changing one re-reads the file.
import { useId } from 'react';
import { useApp } from '../store/app-store';
import { DATASET_FORMATS, FORMAT_EXAMPLES, type DatasetFormat } from '../data/formats';

const FORMAT_NAMES: Record<DatasetFormat, string> = {
  text: 'Plain text',
  'prompt-completion': 'Prompt / completion',
  alpaca: 'Alpaca (instruction / input / output)',
  messages: 'Chat messages (OpenAI / TRL)',
  sharegpt: 'ShareGPT conversations',
  preference: 'Preference pairs (prompt / chosen / rejected, for DPO)',
  prompt: 'Prompts only (for GRPO, which samples the answers)',
};

export function DatasetOptionsForm({ disabled }: { disabled: boolean }) {
  const o = useApp((s) => s.datasetOptions);
  const detected = useApp((s) => s.dataset?.format ?? null);
  const validationFile = useApp((s) => s.validationFile);
  const setOptions = useApp((s) => s.setDatasetOptions);
  const setValidationFile = useApp((s) => s.setValidationFile);
  const ids = { prompt: useId(), max: useId(), pack: useId(), val: useId(), format: useId(), overflow: useId() };
  return (
    <fieldset disabled={disabled} className="settings" aria-label="Dataset options">
      <legend>How the data is read</legend>
      <div className="grid">
        <div className="field">
          {/* A label around a select would fold the option texts into its accessible name. */}
          <label htmlFor={ids.format}>Dataset format</label>
          <select id={ids.format} value={o.format ?? ''} onChange={(e) => void setOptions({ format: (e.target.value || null) as DatasetFormat | null })}>
            <option value="">Detect from the file{detected && !o.format ? ` (${FORMAT_NAMES[detected]})` : ''}</option>
            {DATASET_FORMATS.map((f) => (
              <option key={f} value={f}>{FORMAT_NAMES[f]}</option>
            ))}
          </select>
          <span className="hint">{o.format ? `Forced: ${FORMAT_EXAMPLES[o.format]}` : 'Detected from the first lines.'}</span>
        </div>
        <div className="field">
          <label className="check">
            <input type="checkbox" role="switch" checked={o.trainOnPrompt} aria-describedby={ids.prompt} onChange={(e) => void setOptions({ trainOnPrompt: e.target.checked })} />
            Train on the questions too, not only the answers
          </label>
          <span id={ids.prompt} className="hint">Off: only completions, outputs and assistant turns carry loss. On: prompts, instructions and user turns too.</span>
        </div>
        <div className="field">
          <label>
            Maximum tokens per example
            <input type="number" min={2} max={8192} value={o.maxLength} aria-describedby={ids.max} onChange={(e) => { const v = Math.round(Number(e.target.value)); if (v >= 2) void setOptions({ maxLength: v }); }} />
          </label>
          <span id={ids.max} className="hint">Also sets the training sequence length (this minus one).</span>
        </div>
        <div className="field">
          <label htmlFor={ids.overflow}>Longer examples</label>
          <select id={ids.overflow} value={o.overflow} onChange={(e) => void setOptions({ overflow: e.target.value as 'truncate' | 'drop' })}>
            <option value="truncate">Cut to the maximum</option>
            <option value="drop">Leave out</option>
          </select>
        </div>
        <div className="field">
          <label className="check">
            <input type="checkbox" role="switch" checked={o.packing} aria-describedby={ids.pack} onChange={(e) => void setOptions({ packing: e.target.checked })} />
            Pack short examples together
          </label>
          <span id={ids.pack} className="hint">Several examples share one sequence; attention and positions restart at each example, so none sees another.</span>
        </div>
        <div className="field">
          <label>
            Held out for validation (%)
            <input type="number" min={0} max={50} value={o.validationPercent} disabled={!!validationFile} aria-describedby={ids.val} onChange={(e) => { const v = Number(e.target.value); if (v >= 0 && v <= 50) void setOptions({ validationPercent: v }); }} />
          </label>
          <span id={ids.val} className="hint">{validationFile ? `Using ${validationFile.fileName} instead.` : `Chosen by seed ${o.seed}: the same lines every time.`}</span>
        </div>
        <div className="field">
          <label>
            Validation file (optional; same format and columns)
            <input type="file" accept=".jsonl,.ndjson,.json,.txt,.csv,.tsv,.parquet,.gz" onChange={(e) => { const f = e.target.files?.[0]; if (f) void setValidationFile({ file: f, fileName: f.name }); e.target.value = ''; }} />
          </label>
          {validationFile ? <button type="button" className="link" onClick={() => void setValidationFile(null)}>Use a percentage instead</button> : null}
        </div>
      </div>
    </fieldset>
  );
}
