// "Take it anywhere": exports the base, the adapter or both merged as GGUF (llama.cpp, LM Studio),
// an Ollama folder, a merged Hugging Face folder, or a bundle that continues the run on a cluster. Shows each file's exact size before writing,
// progress while the worker streams it, then where it went and the command to run (Ollama).
import { useEffect } from 'react';
import { useApp } from '../store/app-store';
import { canPickFolder } from '../store/export-slice';
import { NEEDS_ADAPTER, PANEL_FORMATS, PANEL_LABELS, type PanelFormat } from '../export/formats';
import { type GgufWeightType } from '../export/gguf/constants';
import { ErrorBox, Progress } from './common';
import { formatBytes } from './format';

const USES_TYPE: Record<PanelFormat, boolean> = { 'gguf-adapter': false, gguf: true, 'gguf-merged': true, ollama: true, 'ollama-merged': true, merged: false, bundle: false };
const USES_ADAPTER_TYPE: Record<PanelFormat, boolean> = { 'gguf-adapter': true, gguf: false, 'gguf-merged': false, ollama: true, 'ollama-merged': false, merged: false, bundle: false };
const TYPES: { value: GgufWeightType; label: string }[] = [
  { value: 'f16', label: 'F16 (half the size of F32, near-lossless)' },
  { value: 'q8_0', label: 'Q8_0 (8-bit, about a quarter of F32)' },
  // k-quants need rows of 256 weights; other rows fall back as llama-quantize does (the size above says what it comes to).
  { value: 'q6_k', label: 'Q6_K (6-bit k-quant, near Q8_0 quality)' },
  { value: 'q5_k_m', label: 'Q5_K_M (5-bit k-quant mix, as llama-quantize makes it)' },
  { value: 'q4_k_m', label: 'Q4_K_M (4-bit k-quant mix, the usual local choice)' },
  { value: 'q5_0', label: 'Q5_0 (5-bit, legacy blocks)' },
  { value: 'q4_0', label: 'Q4_0 (4-bit, legacy blocks)' },
  { value: 'bf16', label: 'BF16' },
  { value: 'f32', label: 'F32 (exact)' },
];

export function ExportPanel() {
  const model = useApp((s) => s.model);
  const adapter = useApp((s) => s.adapter);
  const training = useApp((s) => s.training);
  const choice = useApp((s) => s.exportChoice);
  const plan = useApp((s) => s.exportPlan);
  const progress = useApp((s) => s.exportProgress);
  const result = useApp((s) => s.exportResult);
  const error = useApp((s) => s.exportError);
  const exporting = useApp((s) => s.exporting);
  const setChoice = useApp((s) => s.setExportChoice);
  const planExport = useApp((s) => s.planExport);
  const runExport = useApp((s) => s.runExport);

  useEffect(() => {
    if (model) void planExport();
  }, [model, adapter, planExport]);

  const blocked = !model || training || exporting || (NEEDS_ADAPTER[choice.format] && !adapter);
  return (
    <section aria-labelledby="h-export" className="card">
      <h3 id="h-export">Take it anywhere</h3>
      <div className="row">
        <label className="field">
          Export format
          <select value={choice.format} onChange={(e) => setChoice({ format: e.target.value as PanelFormat })}>
            {PANEL_FORMATS.map((f) => (
              <option key={f} value={f} disabled={NEEDS_ADAPTER[f] && !adapter}>{PANEL_LABELS[f]}</option>
            ))}
          </select>
        </label>
        {USES_TYPE[choice.format] ? (
          <label className="field">
            GGUF tensor type
            <select value={choice.type} onChange={(e) => setChoice({ type: e.target.value as GgufWeightType })}>
              {TYPES.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
            </select>
          </label>
        ) : null}
        {USES_ADAPTER_TYPE[choice.format] ? (
          <label className="field">
            Adapter tensor type
            <select value={choice.adapterType} onChange={(e) => setChoice({ adapterType: e.target.value as 'f32' | 'f16' })}>
              <option value="f32">F32 (as llama.cpp's converter writes it)</option>
              <option value="f16">F16</option>
            </select>
          </label>
        ) : null}
      </div>
      {plan ? (
        <ul aria-label="Files to export" className="muted">
          {plan.map((f) => <li key={f.name}>{f.name}: {formatBytes(f.bytes)}</li>)}
        </ul>
      ) : null}
      <div className="row">
        <button type="button" disabled={blocked} onClick={() => void runExport(false)}>{exporting ? 'Exporting…' : 'Export (download)'}</button>
        {canPickFolder() ? <button type="button" disabled={blocked} onClick={() => void runExport(true)}>Export to a folder…</button> : null}
      </div>
      {progress ? <Progress label="Export progress" value={progress.loaded} max={progress.total} detail={`${progress.file}: ${formatBytes(progress.loaded)} of ${formatBytes(progress.total)}`} /> : null}
      {result ? (
        <div role="status">
          <p>Exported {result.files.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(', ')} to {result.where}.</p>
          {result.command ? (
            <p>
              In the folder holding these files, run: <code aria-label="Command to run">{result.command}</code>
            </p>
          ) : null}
        </div>
      ) : null}
      <ErrorBox error={error} />
    </section>
  );
}
