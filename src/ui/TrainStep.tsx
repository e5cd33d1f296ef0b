// Step 3: LoRA and training settings, start/stop, live progress and the loss chart.
import { useId } from 'react';
import { useApp } from '../store/app-store';
import { trainingSeries } from '../store/train-series';
import { LINEAR_MODULES, type LinearModule } from '../model/config';
import { ErrorBox } from './common';
import { LossChart } from './LossChart';

function NumberField({ label, value, onChange, min, max, step, hint }: { label: string; value: number; onChange: (v: number) => void; min: number; max?: number; step?: number; hint: string }) {
  const hintId = useId();
  return (
    <div className="field">
      <label>
        {label}
        <input type="number" value={value} min={min} max={max} step={step ?? 1} aria-describedby={hintId} onChange={(e) => { const v = Number(e.target.value); if (Number.isFinite(v)) onChange(v); }} />
      </label>
      <span id={hintId} className="hint">{hint}</span>
    </div>
  );
}

function Settings({ disabled }: { disabled: boolean }) {
  const lora = useApp((s) => s.lora);
  const train = useApp((s) => s.train);
  const setLora = useApp((s) => s.setLora);
  const setTrain = useApp((s) => s.setTrain);
  const toggle = (m: LinearModule, on: boolean) => {
    const set = new Set(lora.targetModules);
    if (on) set.add(m);
    else set.delete(m);
    setLora({ targetModules: LINEAR_MODULES.filter((x) => set.has(x)) });
  };
  return (
    <fieldset disabled={disabled} className="settings">
      <legend>Settings</legend>
      <div className="grid">
        <NumberField label="Rank (r)" value={lora.r} min={1} max={256} onChange={(r) => setLora({ r })} hint="Capacity of the adapter; 4–16 is typical." />
        <NumberField label="Alpha" value={lora.alpha} min={1} onChange={(alpha) => setLora({ alpha })} hint="Update scale is alpha / r." />
        <NumberField label="Learning rate" value={train.learningRate} min={0} step={0.0001} onChange={(learningRate) => setTrain({ learningRate })} hint="Peak rate after warmup (AdamW, cosine decay)." />
        <NumberField label="Steps" value={train.steps} min={1} onChange={(steps) => setTrain({ steps: Math.round(steps) })} hint="Optimizer steps to run." />
        <NumberField label="Batch size" value={train.batchSize} min={1} max={64} onChange={(batchSize) => setTrain({ batchSize: Math.round(batchSize) })} hint="Sequences per step." />
        <NumberField label="Sequence length" value={train.seqLen} min={8} max={2048} onChange={(seqLen) => setTrain({ seqLen: Math.round(seqLen) })} hint="Tokens per sequence; longer examples are cut." />
      </div>
      <div className="targets" role="group" aria-label="Target modules">
        <span>Target modules:</span>
        {LINEAR_MODULES.map((m) => (
          <label key={m} className="check">
            <input type="checkbox" checked={lora.targetModules.includes(m)} onChange={(e) => toggle(m, e.target.checked)} /> {m}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function Status() {
  const step = useApp((s) => s.lastStep);
  const train = useApp((s) => s.train);
  const training = useApp((s) => s.training);
  const result = useApp((s) => s.trainResult);
  if (!step && !training && !result) return null;
  // Read on every step render anyway; the series itself lives outside React state.
  const firstLoss = step ? trainingSeries.loss[0] : undefined;
  return (
    <div className="train-status" aria-live="polite">
      <progress aria-label="Training progress" value={step?.step ?? 0} max={train.steps} />
      <dl className="stats">
        <div><dt>Step</dt><dd data-testid="train-step">{step ? `${step.step} / ${train.steps}` : `0 / ${train.steps}`}</dd></div>
        <div><dt>Loss</dt><dd data-testid="train-loss">{step ? step.loss.toFixed(4) : '…'}</dd></div>
        <div><dt>First loss</dt><dd data-testid="train-first-loss">{firstLoss !== undefined ? firstLoss.toFixed(4) : '…'}</dd></div>
        <div><dt>Tokens/s</dt><dd>{step ? Math.round(step.tokensPerSec) : '…'}</dd></div>
        <div><dt>Grad norm</dt><dd>{step ? step.gradNorm.toFixed(3) : '…'}</dd></div>
        <div><dt>LR</dt><dd>{step ? step.lr.toExponential(2) : '…'}</dd></div>
      </dl>
      {training && !step ? <p className="muted">Compiling GPU kernels and running the first step…</p> : null}
      {result ? <p role="status">Training {result.reason === 'completed' ? 'finished' : 'stopped'} after {result.steps} steps. Try the adapter below.</p> : null}
    </div>
  );
}

export function TrainStep() {
  const dataset = useApp((s) => s.dataset);
  const training = useApp((s) => s.training);
  const stopping = useApp((s) => s.stopping);
  const lora = useApp((s) => s.lora);
  const start = useApp((s) => s.startTraining);
  const stop = useApp((s) => s.stopTraining);
  const error = useApp((s) => s.trainError);
  const ready = !!dataset && dataset.examples > 0;
  return (
    <section id="step-train" aria-labelledby="h-train" className={`step${ready ? '' : ' locked'}`}>
      <h2 id="h-train">3. Train</h2>
      <p className="muted">LoRA adapters over the frozen base model, trained in a background worker: the page stays responsive.{ready ? '' : ' Load a dataset first.'}</p>
      <Settings disabled={training} />
      <div className="row">
        <button type="button" className="primary" disabled={!ready || training || lora.targetModules.length === 0} onClick={() => void start()}>Start training</button>
        <button type="button" disabled={!training || stopping} onClick={() => void stop()}>{stopping ? 'Stopping…' : 'Stop'}</button>
      </div>
      <ErrorBox error={error} />
      <Status />
      <LossChart />
    </section>
  );
}
