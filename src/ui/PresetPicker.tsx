// The preset chooser at the top of the Train step: Quick look / Balanced / Thorough, computed from
// the training set's size and the model's (src/train/run-presets.ts), with each choice's reason.
// The full settings stay under "Advanced settings"; changing one there makes the choice "Custom".
import { useApp } from '../store/app-store';
import { RUN_PRESETS, RUN_PRESET_LABELS, choosePreset, matchingPreset, type RunPreset } from '../train/run-presets';

export function PresetPicker({ disabled }: { disabled: boolean }) {
  const dataset = useApp((s) => s.dataset);
  const model = useApp((s) => s.model);
  const lora = useApp((s) => s.lora);
  const train = useApp((s) => s.train);
  const setLora = useApp((s) => s.setLora);
  const setTrain = useApp((s) => s.setTrain);
  if (!dataset || !model) return null;
  const input = { trainExamples: dataset.train, modelParameters: model.parameters };
  const current = train.epochs > 0 ? null : matchingPreset({ r: lora.r, alpha: lora.alpha, learningRate: train.learningRate, steps: train.steps, batchSize: train.batchSize, gradAccum: train.gradAccum, warmupSteps: train.warmupSteps, evalEvery: train.evalEvery, sampleEvery: train.sampleEvery, checkpointEvery: train.checkpointEvery }, input);
  const apply = (p: RunPreset) => {
    const { settings: s } = choosePreset(p, input);
    setLora({ r: s.r, alpha: s.alpha });
    setTrain({ learningRate: s.learningRate, steps: s.steps, epochs: 0, batchSize: s.batchSize, gradAccum: s.gradAccum, warmupSteps: s.warmupSteps, evalEvery: s.evalEvery, sampleEvery: s.sampleEvery, checkpointEvery: s.checkpointEvery });
  };
  const shown = current ? choosePreset(current, input) : null;
  return (
    <fieldset className="presets" disabled={disabled}>
      <legend>Preset for {dataset.train.toLocaleString()} training examples</legend>
      <div className="preset-options">
        {RUN_PRESETS.map((p) => (
          <label key={p} className={`preset${current === p ? ' chosen' : ''}`}>
            <input type="radio" name="run-preset" checked={current === p} onChange={() => apply(p)} />
            <span><strong>{RUN_PRESET_LABELS[p].label}</strong>{p === 'balanced' ? ' (recommended)' : ''}<br /><span className="hint">{RUN_PRESET_LABELS[p].hint}</span></span>
          </label>
        ))}
      </div>
      {shown ? (
        <ul className="reasons" aria-label="Why these settings">
          {shown.reasons.map((r) => <li key={r.field}>{r.text}</li>)}
        </ul>
      ) : (
        <p className="muted">Custom settings{train.epochs > 0 ? ` (${train.epochs} epochs)` : ''}: pick a preset to set rank, learning rate, steps, batch and evaluation from your data, or adjust them under Advanced settings.</p>
      )}
    </fieldset>
  );
}
