// The catalog of the Model step: each model with its family, size, licence (gated or not) and
// whether training it likely fits this device; choosing one fills the model field.
import { useMemo } from 'react';
import { useApp } from '../store/app-store';
import { CATALOG, FIT_ASSUMPTION, catalogFacts, deviceBudget } from '../catalog/catalog';
import type { EstimateBackend } from '../train/estimate';
import { formatBytes, formatCount } from './format';

const FIT_WORDS = { yes: 'fits this device', tight: 'tight on this device', no: 'likely too big for this device' } as const;

export function ModelCatalog() {
  const setInput = useApp((s) => s.setModelInput);
  const backend = useApp((s) => s.backend);
  const kind: EstimateBackend = backend?.backend === 'webgpu' ? (/swiftshader|fallback/i.test(backend.adapterDescription ?? '') ? 'webgpu-fallback' : 'webgpu') : (backend?.backend ?? 'wasm');
  const budget = deviceBudget(kind, (navigator as Navigator & { deviceMemory?: number }).deviceMemory);
  const rows = useMemo(() => CATALOG.map((e) => ({ e, f: catalogFacts(e, kind, budget) })), [kind, budget.bytes]);
  return (
    <details>
      <summary>Catalog</summary>
      <p className="muted">
        Fit: training memory on {kind} (rank {FIT_ASSUMPTION.rank}, batch {FIT_ASSUMPTION.batchSize} × {FIT_ASSUMPTION.seqLen} tokens, base as loaded automatically) against {formatBytes(budget.bytes)}, {budget.basis}.
      </p>
      <ul className="catalog" aria-label="Model catalog">
        {rows.map(({ e, f }) => (
          <li key={e.id}>
            <button type="button" className="link" onClick={() => setInput(e.id)}>{e.id}</button>{' '}
            <span className="muted">
              {e.label} · {f.config.family} · {formatCount(f.parameters)} parameters, {formatBytes(f.downloadBytes)} download · {e.licence}
              {e.gated ? ' · gated: accept the licence on its page and add an access token' : ' · open'} · training ≈ {formatBytes(f.trainingBytes)},{' '}
              <span data-fit={f.fits}>{FIT_WORDS[f.fits]}</span>
            </span>
          </li>
        ))}
      </ul>
    </details>
  );
}
