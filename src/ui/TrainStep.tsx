// Step 3: a preset chosen from the data, the full LoRA and training settings folded under
// "Advanced settings" (each with a one-line reason), the memory/time estimate (MemoryOptions), the preflight
// findings (serious ones block Start until acknowledged), start / pause / resume / stop, live
// progress, charts, sample generations, the Evaluate view, and the past runs to resume or compare.
import { ChatTurns } from './ChatTurns';
import type { SampleReport } from '../train/training-run';
import { useEffect } from 'react';
import { useApp } from '../store/app-store';
import { StepBadge } from './StepBadge';
import { PresetPicker } from './PresetPicker';
import { PreflightPanel, usePreflight } from './PreflightPanel';
import { EvaluatePanel } from './EvaluatePanel';
import { RunCompare } from './RunCompare';
import { trainingSeries } from '../store/train-series';
import { LINEAR_MODULES, type LinearModule } from '../model/config';
import { TARGET_PRESETS, presetOf, type TargetPreset } from '../train/presets';
import { ErrorBox } from './common';
import { LossChart, MetricChart } from './LossChart';
import { ResumeOffer, RunHistory } from './RunHistory';
import { formatSeconds } from './format';
import { MethodPicker } from './MethodPicker';
import { DpoChart } from './DpoChart';
import { ObjectiveChart } from './ObjectiveChart';
import { MemoryOptions } from './MemoryOptions';
import { NumberField, SelectField } from './fields';
import { DEFAULT_REWARD, rewardProblem } from './GrpoSettings';

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
  const preset = presetOf(lora.targetModules) ?? 'custom';
  const int = (f: (v: number) => void) => (v: number) => f(Math.round(v));
  // The preset chooser stays in view; the twenty fields fold under "Advanced settings".
  return (
    <>
    <PresetPicker disabled={disabled} />
    <details className="advanced">
    <summary>Advanced settings</summary>
    <fieldset disabled={disabled} className="settings">
      <legend>Settings</legend>
      <div className="grid">
        <NumberField label="Rank (r)" value={lora.r} min={1} max={256} onChange={int((r) => setLora({ r }))} hint="Capacity of the adapter; 4–16 is typical." />
        <NumberField label="Alpha" value={lora.alpha} min={1} onChange={(alpha) => setLora({ alpha })} hint="Update scale is alpha / r (alpha / √r with rsLoRA)." />
        <NumberField label="LoRA dropout" value={lora.dropout} min={0} max={0.9} step={0.05} onChange={(dropout) => setLora({ dropout })} hint="Drops inputs of the adapter while training; fights overfitting." />
        <NumberField label="Learning rate" value={train.learningRate} min={0} step={0.0001} onChange={(learningRate) => setTrain({ learningRate })} hint="Peak rate after warmup (AdamW)." />
        <SelectField label="Schedule" value={train.schedule} options={[{ value: 'cosine', label: 'Cosine' }, { value: 'linear', label: 'Linear' }, { value: 'constant', label: 'Constant' }]} onChange={(schedule) => setTrain({ schedule })} hint="How the rate decays after warmup." />
        <NumberField label="Warmup" value={train.warmupSteps} min={0} onChange={int((warmupSteps) => setTrain({ warmupSteps }))} hint="Optimizer steps spent ramping the rate up from 0." />
        <NumberField label="Steps" value={train.steps} min={1} onChange={int((steps) => setTrain({ steps }))} hint="Optimizer steps to run (when Epochs is 0)." />
        <NumberField label="Epochs" value={train.epochs} min={0} step={0.5} onChange={(epochs) => setTrain({ epochs })} hint="Passes over the data; overrides the step count when above 0." />
        <NumberField label="Batch size" value={train.batchSize} min={1} max={64} onChange={int((batchSize) => setTrain({ batchSize }))} hint="Sequences per micro-batch." />
        <NumberField label="Gradient accumulation" value={train.gradAccum} min={1} max={64} onChange={int((gradAccum) => setTrain({ gradAccum }))} hint="Micro-batches averaged per update: a bigger batch in the same memory." />
        <NumberField label="Sequence length" value={train.seqLen} min={8} max={2048} onChange={int((seqLen) => setTrain({ seqLen }))} hint="Tokens per sequence; longer examples are cut." />
        <NumberField label="Weight decay" value={train.adamw.weightDecay} min={0} step={0.01} onChange={(weightDecay) => setTrain({ adamw: { ...train.adamw, weightDecay } })} hint="AdamW's decoupled shrinkage of the adapter weights." />
        <NumberField label="Gradient clipping" value={train.maxGradNorm} min={0} step={0.1} onChange={(maxGradNorm) => setTrain({ maxGradNorm })} hint="Caps the global gradient norm (0: off)." />
        <NumberField label="Seed" value={train.seed} min={0} onChange={int((seed) => setTrain({ seed }))} hint="Fixes initialisation, data order and dropout: same seed, same curve." />
        <NumberField label="Evaluate every" value={train.evalEvery} min={0} onChange={int((evalEvery) => setTrain({ evalEvery }))} hint="Validation loss every N updates (0: never)." />
        <NumberField label="Samples every" value={train.sampleEvery} min={0} onChange={int((sampleEvery) => setTrain({ sampleEvery }))} hint="Generate from fixed dataset openings every N updates." />
        <NumberField label="Checkpoint every" value={train.checkpointEvery} min={0} onChange={int((checkpointEvery) => setTrain({ checkpointEvery }))} hint="Save a resumable checkpoint every N updates (and on pause/stop)." />
      </div>
      <div className="targets" role="group" aria-label="Target modules">
        <SelectField<TargetPreset | 'custom'>
          label="Target preset"
          value={preset}
          options={[...(Object.entries(TARGET_PRESETS) as [TargetPreset, (typeof TARGET_PRESETS)[TargetPreset]][]).map(([value, p]) => ({ value, label: p.label })), ...(preset === 'custom' ? [{ value: 'custom' as const, label: 'Custom' }] : [])]}
          onChange={(p) => { if (p !== 'custom') setLora({ targetModules: [...TARGET_PRESETS[p].modules] }); }}
          hint={preset === 'custom' ? 'Your own choice of layers.' : TARGET_PRESETS[preset].hint}
        />
        <span>Target modules:</span>
        {LINEAR_MODULES.map((m) => (
          <label key={m} className="check">
            <input type="checkbox" checked={lora.targetModules.includes(m)} onChange={(e) => toggle(m, e.target.checked)} /> {m}
          </label>
        ))}
        <label className="check">
          <input type="checkbox" checked={lora.useRslora} onChange={(e) => setLora({ useRslora: e.target.checked })} /> rsLoRA (scale alpha / √r: steadier at high rank)
        </label>
      </div>
    </fieldset>
    </details>
    </>
  );
}

function Status() {
  const step = useApp((s) => s.lastStep);
  const train = useApp((s) => s.train);
  const total = useApp((s) => s.totalSteps) ?? train.steps;
  const training = useApp((s) => s.training);
  const result = useApp((s) => s.trainResult);
  const lastEval = useApp((s) => s.lastEval);
  const ckpt = useApp((s) => s.lastCheckpointStep);
  if (!step && !training && !result) return null;
  // Read on every step render anyway; the series itself lives outside React state.
  const firstLoss = step ? trainingSeries.loss[0] : undefined;
  const tokensPerStep = train.batchSize * train.seqLen * train.gradAccum;
  const elapsedS = trainingSeries.tokensPerSec.reduce((a, tps) => a + (tps > 0 ? tokensPerStep / tps : 0), 0);
  const recent = trainingSeries.tokensPerSec.slice(-10);
  const secPerStep = recent.length ? recent.reduce((a, tps) => a + tokensPerStep / tps, 0) / recent.length : NaN;
  const etaS = step ? (total - step.step) * secPerStep : NaN;
  return (
    <div className="train-status" aria-live="polite">
      <progress aria-label="Training progress" value={step?.step ?? 0} max={total} />
      <dl className="stats">
        <div><dt>Step</dt><dd data-testid="train-step">{step ? `${step.step} / ${total}` : `0 / ${total}`}</dd></div>
        <div><dt>Epoch</dt><dd>{step ? step.epoch.toFixed(2) : '…'}</dd></div>
        <div><dt>Loss</dt><dd data-testid="train-loss">{step ? step.loss.toFixed(4) : '…'}</dd></div>
        <div><dt>First loss</dt><dd data-testid="train-first-loss">{firstLoss !== undefined ? firstLoss.toFixed(4) : '…'}</dd></div>
        <div><dt>Val loss</dt><dd data-testid="eval-loss">{lastEval ? lastEval.loss.toFixed(4) : '…'}</dd></div>
        <div><dt>Val ppl</dt><dd>{lastEval && Number.isFinite(lastEval.perplexity) ? lastEval.perplexity.toFixed(2) : '–'}</dd></div>
        <div><dt>Tokens/s</dt><dd>{step ? Math.round(step.tokensPerSec) : '…'}</dd></div>
        <div><dt>Grad norm</dt><dd>{step ? step.gradNorm.toFixed(3) : '…'}</dd></div>
        <div><dt>LR</dt><dd>{step ? step.lr.toExponential(2) : '…'}</dd></div>
        <div><dt>Elapsed</dt><dd>{formatSeconds(elapsedS)}</dd></div>
        <div><dt>ETA</dt><dd>{training && step ? formatSeconds(etaS) : '–'}</dd></div>
        <div><dt>Checkpoint</dt><dd data-testid="train-checkpoint">{ckpt !== null ? `step ${ckpt}` : '–'}</dd></div>
      </dl>
      {training && !step ? <p className="muted">Compiling GPU kernels and running the first step…</p> : null}
      {result ? (
        <p role="status">
          {result.reason === 'paused'
            ? `Training paused after ${result.steps} steps; a checkpoint is saved. Resume any time, even after a reload.`
            : `Training ${result.reason === 'completed' ? 'finished' : 'stopped'} after ${result.steps} steps. Try the adapter below.`}
        </p>
      ) : null}
    </div>
  );
}

function SampleList({ s }: { s: SampleReport }) {
  return (
    <div>
      <p className="muted">After step {s.step}</p>
      <ul>{s.samples.map((x, i) => <li key={i}>{x.turns ? <ChatTurns turns={x.turns} reply={x.reply} /> : <><strong>{x.prompt}</strong>{x.text.slice(x.prompt.length)}</>}</li>)}</ul>
    </div>
  );
}

function Samples() {
  const samples = useApp((s) => s.samples);
  if (samples.length === 0) return null;
  return (
    <section aria-label="Sample generations" className="samples">
      <h3>Sample generations</h3>
      {samples.slice(0, 1).map((s) => <SampleList key={s.step} s={s} />)}
      {samples.length > 1 ? (
        <details>
          <summary>Earlier samples ({samples.length - 1})</summary>
          {samples.slice(1).map((s) => <SampleList key={s.step} s={s} />)}
        </details>
      ) : null}
    </section>
  );
}

export function TrainStep() {
  const dataset = useApp((s) => s.dataset);
  const training = useApp((s) => s.training);
  const stopping = useApp((s) => s.stopping);
  const pausing = useApp((s) => s.pausing);
  const lora = useApp((s) => s.lora);
  const start = useApp((s) => s.startTraining);
  const stop = useApp((s) => s.stopTraining);
  const pause = useApp((s) => s.pauseTraining);
  const refreshRuns = useApp((s) => s.refreshRuns);
  const error = useApp((s) => s.trainError);
  const model = useApp((s) => s.model);
  const { blocked } = usePreflight();
  const ready = !!dataset && dataset.examples > 0;
  const train = useApp((s) => s.train);
  // GRPO starts only with a usable reward (its own form says what is wrong).
  const rewardBad = train.objective === 'grpo' && rewardProblem(train.grpo?.reward ?? DEFAULT_REWARD) !== null;
  useEffect(() => {
    void refreshRuns();
  }, [refreshRuns, model]);
  return (
    <section id="step-train" tabIndex={-1} aria-labelledby="h-train" className={`step${ready ? '' : ' locked'}`}>
      <StepBadge step="train" />
      <h2 id="h-train">3. Train</h2>
      <p className="muted">LoRA adapters over the frozen base model, trained in a background worker: the page stays responsive.{ready ? '' : ' Load a dataset first.'}</p>
      <ResumeOffer />
      <MethodPicker disabled={training} />
      <Settings disabled={training} />
      <MemoryOptions disabled={training} />
      <PreflightPanel />
      <div className="row">
        <button type="button" className="primary" disabled={!ready || training || blocked || rewardBad || lora.targetModules.length === 0} aria-describedby={blocked ? 'start-blocked' : undefined} onClick={() => void start()}>Start training</button>
        <button type="button" disabled={!training || pausing || stopping} onClick={() => void pause()}>{pausing ? 'Pausing…' : 'Pause'}</button>
        <button type="button" disabled={!training || stopping} onClick={() => void stop()}>{stopping ? 'Stopping…' : 'Stop'}</button>
      </div>
      {blocked && !training ? <p id="start-blocked" className="error-inline">Start is blocked by the serious findings above: fix them, or tick the acknowledgement.</p> : null}
      <ErrorBox error={error} />
      <Status />
      <LossChart />
      <div className="metric-charts" style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(240px, 1fr))', gap: 12 }}>
        <MetricChart metric="lr" label="LR" color="#059669" />
        <MetricChart metric="gradNorm" label="Gradient norm" color="#dc2626" />
        <MetricChart metric="tokensPerSec" label="Tokens per second" color="#2563eb" />
      </div>
      <DpoChart />
      <ObjectiveChart />
      <Samples />
      <EvaluatePanel />
      <RunHistory />
      <RunCompare />
    </section>
  );
}
