// The page: a header with the compute backend, then the four steps of the flow, each a section
// that unlocks when the step before it is done.
import { useApp } from '../store/app-store';
import { ModelStep } from './ModelStep';
import { DatasetStep } from './DatasetStep';
import { TrainStep } from './TrainStep';
import { UseStep } from './UseStep';
import { ThreadsNote } from './ThreadsNote';

function BackendBadge() {
  const backend = useApp((s) => s.backend);
  const gpuError = useApp((s) => s.gpuError);
  if (!backend) return <p className="backend" aria-live="polite">Starting the compute engine…</p>;
  const name = backend.backend === 'webgpu' ? 'WebGPU' : backend.backend === 'wasm' ? 'WebAssembly' : 'CPU (JavaScript)';
  return (
    <div className="backend" aria-label="Compute backend">
      <p>
        Compute: <strong data-testid="backend-name">{name}</strong>
        {backend.adapterDescription && backend.backend === 'webgpu' ? <span> on {backend.adapterDescription}</span> : null}
      </p>
      <ThreadsNote backend={backend} />
      <p className="muted">{backend.reason.startsWith('forced') ? `Chosen in the address (?backend=${backend.backend}).` : `Chosen automatically: ${backend.reason}.`}</p>
      <p className="muted">
        Switch:{' '}
        <a href="?backend=webgpu">WebGPU</a> · <a href="?backend=wasm">WebAssembly</a> · <a href="?">automatic</a>
      </p>
      {gpuError ? <p role="alert" className="error-inline">GPU error: {gpuError}</p> : null}
    </div>
  );
}

function StepNav() {
  const model = useApp((s) => s.model);
  const dataset = useApp((s) => s.dataset);
  const adapter = useApp((s) => s.adapter);
  const steps = [
    { id: 'step-model', label: 'Model', done: !!model },
    { id: 'step-dataset', label: 'Dataset', done: !!dataset },
    { id: 'step-train', label: 'Train', done: !!adapter },
    { id: 'step-use', label: 'Use & share', done: false },
  ];
  return (
    <nav aria-label="Workflow">
      <ol className="steps">
        {steps.map((s, i) => (
          <li key={s.id} className={s.done ? 'done' : ''}>
            <a href={`#${s.id}`} onClick={(e) => { e.preventDefault(); document.getElementById(s.id)?.scrollIntoView({ behavior: 'smooth' }); }}>
              <span className="step-number">{s.done ? '✓' : i + 1}</span> {s.label}
            </a>
          </li>
        ))}
      </ol>
    </nav>
  );
}

export function App() {
  return (
    <div className="app">
      <header>
        <div>
          <h1>Fine-tune Studio</h1>
          <p className="tagline">Train a LoRA adapter for a small language model on your own GPU. Your data never leaves this browser.</p>
        </div>
        <BackendBadge />
      </header>
      <StepNav />
      <main>
        <ModelStep />
        <DatasetStep />
        <TrainStep />
        <UseStep />
      </main>
    </div>
  );
}
