// Step 1: pick a model from the catalog or paste a URL; it streams into IndexedDB with progress and
// loads from there on the next visit.
import type { Nf4VariantChoice } from '../gpu/variant-choice';
import type { AttentionChoice, AttentionVariant } from '../gpu/attention-choice';
import { useApp } from '../store/app-store';
import { StepBadge } from './StepBadge';
import { ErrorBox, Progress } from './common';
import { formatBytes, formatCount } from './format';
import { CATALOG } from '../catalog/catalog';
import { ModelCatalog } from './ModelCatalog';
import { HubTokenField } from './HubTokenField';

function ModelProgress() {
  const p = useApp((s) => s.modelProgress);
  if (!p) return null;
  if (p.task === 'download') {
    return (
      <>
        <Progress label="Download (all files)" value={p.overallLoaded} max={p.overallTotal} detail={`${formatBytes(p.overallLoaded)} / ${formatBytes(p.overallTotal)}`} />
        <Progress label={`Download ${p.file}`} value={p.loaded} max={p.total} detail={`${formatBytes(p.loaded)} / ${formatBytes(p.total)}`} />
      </>
    );
  }
  if (p.task === 'load') return <Progress label="Loading weights" value={p.loaded} max={p.total} detail={`${p.loaded} / ${p.total} tensors`} />;
  return null;
}

const PATH_WORDS: Record<string, string> = {
  dense: 'fp32 matmuls',
  fused: 'fused NF4 WGSL kernels',
  'gpu-dequant': 'NF4 decoded on the GPU, then matmul',
  'js-dequant': 'NF4, decoded block by block inside the matrix product (per layer without SIMD)',
  custom: 'custom storage',
};

/** Base-precision choice for the next load, with what it means. */
function PrecisionControl({ disabled }: { disabled: boolean }) {
  const value = useApp((s) => s.basePrecision);
  const setValue = useApp((s) => s.setBasePrecision);
  return (
    <div className="row">
      <label>
        Base precision
        <select value={value} disabled={disabled} onChange={(e) => setValue(e.target.value as typeof value)} aria-describedby="base-precision-help">
          <option value="auto">Automatic (NF4 above 4 MB)</option>
          <option value="fp32">fp32</option>
          <option value="nf4">NF4 4-bit</option>
        </select>
      </label>
      <p id="base-precision-help" className="muted grow">
        NF4 keeps the frozen linear weights in 4 bits (about 1/7 of fp32, QLoRA-style) so larger models fit; embeddings, head and norms stay fp32.
      </p>
    </div>
  );
}

/** Which NF4 kernel this GPU runs, and the timing that chose it. */
function Nf4VariantLine({ v }: { v: Nf4VariantChoice }) {
  const name = (x: string) => (x === 'fused' ? 'fused NF4 kernel' : 'dequantize-then-matmul');
  return (
    <span data-testid="nf4-variant">
      {' '}· NF4 kernel: {name(v.choice)}{v.choice === 'fused' ? ` with ${v.tile}×${v.tile} tiles` : ''}, {v.fusedMs.toFixed(1)} ms fused vs {v.unfusedMs.toFixed(1)} ms dequantize-then-matmul for a {v.shape.M}×{v.shape.K} · {v.shape.K}×{v.shape.N} product and its gradient
      {' '}(fused by tile: {Object.entries(v.fusedMsByTile).sort(([a], [b]) => Number(a) - Number(b)).map(([t, ms]) => `${t}×${t} ${ms.toFixed(1)} ms`).join(', ')})
      {v.cached ? ', measured on an earlier visit' : ', measured now'} on {v.adapter}
      {v.software ? ' (a software adapter: these are not GPU figures)' : ''}
    </span>
  );
}

/** Which attention this GPU runs, and the timings that chose it. */
function AttentionLine({ a }: { a: AttentionChoice }) {
  const name = (v: AttentionVariant) => (v === 'dense' ? 'dense' : `flash ${v.slice(6)}×${v.slice(6)}`);
  const s = a.shape;
  return (
    <span data-testid="attention-variant">
      {' '}· Attention: {a.choice === 'dense' ? 'dense scores (flash kernels for long sequences)' : `flash kernels, ${name(a.choice).slice(6)} tiles`}, measured for {s.T} tokens
      {' '}({(Object.entries(a.ms) as [AttentionVariant, number][]).map(([v, ms]) => `${name(v)} ${ms.toFixed(1)} ms`).join(', ')}; forward and backward of one layer)
      {a.cached ? ', measured on an earlier visit' : ', measured now'} on {a.adapter}
      {a.software ? ' (a software adapter: these are not GPU figures)' : ''}
    </span>
  );
}

/** The loaded base's memory in both precisions, and which one is in use. */
function BaseMemoryLine({ model }: { model: NonNullable<ReturnType<typeof useApp.getState>['model']> }) {
  const m = model.baseMemory;
  return (
    <p aria-label="Base memory">
      Base in <strong data-testid="base-precision">{model.basePrecision === 'nf4' ? 'NF4 4-bit' : 'fp32'}</strong> (
      <span data-testid="linear-path">{PATH_WORDS[model.linearPath] ?? model.linearPath}</span>) · memory: fp32 {formatBytes(m.linearFp32Bytes + m.otherBytes)} · NF4{' '}
      {formatBytes(m.linearNf4Bytes + m.otherBytes)} (linear layers {formatBytes(m.linearFp32Bytes)} → {formatBytes(m.linearNf4Bytes)}, other {formatBytes(m.otherBytes)})
      {model.basePrecision === 'nf4' ? ` · ${model.quantizedFromCache > 0 ? `${model.quantizedFromCache} layers from the quantized cache` : `${model.quantizedNow} layers quantized now and cached`}` : ''}
      {model.nf4Variant ? <Nf4VariantLine v={model.nf4Variant} /> : null}
      {model.attention ? <AttentionLine a={model.attention} /> : null}
    </p>
  );
}

export function ModelStep() {
  const input = useApp((s) => s.modelInput);
  const setInput = useApp((s) => s.setModelInput);
  const load = useApp((s) => s.loadModel);
  const busy = useApp((s) => s.modelBusy);
  const model = useApp((s) => s.model);
  const error = useApp((s) => s.modelError);
  const stored = useApp((s) => s.storedModels);
  const backend = useApp((s) => s.backend);
  return (
    <section id="step-model" tabIndex={-1} aria-labelledby="h-model" className="step">
      <StepBadge step="model" />
      <h2 id="h-model">1. Model</h2>
      <p className="muted">A small model in Hugging Face format: Llama 3.x, SmolLM2, Mistral, Qwen2/2.5, Qwen3 or Gemma 3 (text). It is saved in this browser, so the next visit needs no download.</p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label className="grow">
          Model URL or Hugging Face repo
          <input type="text" value={input} onChange={(e) => setInput(e.target.value)} list="model-catalog" placeholder="org/name or https://…" spellCheck={false} />
        </label>
        <datalist id="model-catalog">
          {CATALOG.map((m) => (
            <option key={m.id} value={m.id}>{m.label}</option>
          ))}
        </datalist>
        <button type="submit" disabled={busy || !backend}>{busy ? 'Loading…' : 'Load model'}</button>
      </form>
      <PrecisionControl disabled={busy} />
      <HubTokenField />
      <ModelCatalog />
      <ModelProgress />
      <ErrorBox error={error} />
      {model ? (
        <div className="card" aria-label="Loaded model">
          <p>
            <strong>{model.source}</strong> loaded from {model.from === 'indexeddb' ? 'this browser (IndexedDB, no network)' : 'the network, now saved in this browser'}.
          </p>
          <p className="muted">
            {model.architecture}{model.config ? ` (${model.config.family} family)` : ""} · {formatCount(model.parameters)} parameters · {model.layers} layers · hidden {model.hidden} · vocabulary {model.vocab} · base weights {formatBytes(model.baseWeightBytes)} in {backend?.backend ?? ''} memory
          </p>
          <BaseMemoryLine model={model} />
        </div>
      ) : null}
      {stored.length > 0 ? (
        <details>
          <summary>Saved in this browser ({stored.length})</summary>
          <ul className="catalog">
            {stored.map((m) => (
              <li key={m.source}>
                <button type="button" className="link" disabled={busy} onClick={() => void load(m.source)}>{m.source}</button>{' '}
                <span className="muted">{formatBytes(m.bytes)}{m.complete ? '' : ' · incomplete, loading resumes the download'}</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}
