// The page: a header with the compute backend, then the four steps of the flow, each a section
// that unlocks when the step before it is done.
import { useApp } from '../store/app-store';
import { useStepStates } from './StepBadge';
import { STATUS_LABEL } from './step-states';
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
      {backend.wasmHeapLimitBytes ? <p className="muted">Memory for training is limited to {Math.round(backend.wasmHeapLimitBytes / 2 ** 20)} MB (?wasm-heap-limit-mb in the address).</p> : null}
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
  const states = useStepStates();
  const steps = [
    { id: 'step-model', label: 'Model', state: states.model },
    { id: 'step-dataset', label: 'Dataset', state: states.dataset },
    { id: 'step-train', label: 'Train', state: states.train },
    { id: 'step-use', label: 'Use & share', state: states.use },
  ];
  return (
    <nav aria-label="Workflow">
      <ol className="steps">
        {steps.map((s, i) => (
          <li key={s.id} className={s.state.status}>
            <a
              href={`#${s.id}`}
              onClick={(e) => {
                e.preventDefault();
                const el = document.getElementById(s.id);
                el?.scrollIntoView({ behavior: 'smooth' });
                // Keyboard users land in the step, not just scroll to it.
                el?.focus({ preventScroll: true });
              }}
            >
              {/* The link's name is its visible text ("Model Done: ..."); the number is decoration. */}
              <span className="step-number" aria-hidden="true">{s.state.status === 'done' ? '✓' : i + 1}</span>
              <span className="step-text">
                <span>{s.label}</span>{' '}
                <span className="step-why">{STATUS_LABEL[s.state.status]}: {s.state.why}</span>
              </span>
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
          <p className="tagline">Fine-tune a small language model on your own GPU or processor: LoRA and QLoRA adapters, soft prompts or every weight, trained on examples or on preferences. Your data never leaves this browser.</p>
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
