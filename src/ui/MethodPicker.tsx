// The training method and objective: what gets trained (LoRA on an fp32 or NF4 base today) and
// what it is trained for (supervised next-token loss, or DPO on preference pairs), each with one line
// on when it is the right choice and what it costs in memory. Mounted by TrainStep with one line.
import { useId } from 'react';
import { useApp } from '../store/app-store';
import type { Objective } from '../train/trainer';
import { DEFAULT_DPO } from '../train/dpo';

const OBJECTIVES: { value: Objective; label: string; hint: string }[] = [
  { value: 'sft', label: 'Supervised (next-token loss)', hint: 'Teach answers by example: any dataset format; loss only on the answers.' },
  {
    value: 'dpo',
    label: 'Preference (DPO)',
    hint: 'Teach which of two answers is better: needs {"prompt","chosen","rejected"} pairs. Each step runs the base twice more (the reference), about 2x the memory and 3x the time of supervised tuning.',
  },
];

export function MethodPicker({ disabled }: { disabled: boolean }) {
  const train = useApp((s) => s.train);
  const setTrain = useApp((s) => s.setTrain);
  const model = useApp((s) => s.model);
  const dataset = useApp((s) => s.dataset);
  const objectiveHint = useId();
  const betaHint = useId();
  const objective = train.objective ?? 'sft';
  const o = OBJECTIVES.find((x) => x.value === objective)!;
  const nf4 = model?.basePrecision === 'nf4';
  const pairsMissing = objective === 'dpo' && dataset !== null && dataset.format !== 'preference';
  return (
    <fieldset disabled={disabled} className="settings" aria-label="Training method">
      <legend>Method and objective</legend>
      <p className="muted" data-testid="method-line">
        Method: <strong>{nf4 ? 'QLoRA' : 'LoRA'}</strong>{' '}
        {nf4
          ? '— low-rank adapters over the 4-bit (NF4) base: the least memory, for models that do not fit in fp32.'
          : '— low-rank adapters over the frozen fp32 base: a few thousand trainable numbers per layer, the base untouched. Pick the NF4 base in step 1 for QLoRA.'}
      </p>
      <div className="grid">
        <div className="field">
          <label>
            Objective
            <select value={objective} aria-describedby={objectiveHint} onChange={(e) => setTrain({ objective: e.target.value as Objective })}>
              {OBJECTIVES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
            </select>
          </label>
          <span id={objectiveHint} className="hint">{o.hint}</span>
        </div>
        {objective === 'dpo' ? (
          <div className="field">
            <label>
              DPO beta
              <input type="number" min={0.001} step={0.01} value={train.dpoBeta ?? DEFAULT_DPO.beta} aria-describedby={betaHint} onChange={(e) => { const v = Number(e.target.value); if (v > 0) setTrain({ dpoBeta: v }); }} />
            </label>
            <span id={betaHint} className="hint">How far the tuned model may move from the base: smaller lets it move more (TRL's default 0.1).</span>
          </div>
        ) : null}
      </div>
      {pairsMissing ? <p role="alert" className="error">DPO needs a preference dataset (prompt / chosen / rejected lines); the loaded file is {dataset?.format ?? 'of unknown format'}.</p> : null}
    </fieldset>
  );
}
