// Labelled form fields with a one-line hint each (the hint is the input's description): the Train
// step's settings and the GRPO reward settings use them.
import { useId } from 'react';

export function NumberField({ label, value, onChange, min, max, step, hint }: { label: string; value: number; onChange: (v: number) => void; min: number; max?: number; step?: number; hint: string }) {
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

export function SelectField<T extends string>({ label, value, options, onChange, hint }: { label: string; value: T; options: { value: T; label: string }[]; onChange: (v: T) => void; hint: string }) {
  const hintId = useId();
  return (
    <div className="field">
      <label>
        {label}
        <select value={value} aria-describedby={hintId} onChange={(e) => onChange(e.target.value as T)}>
          {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
        </select>
      </label>
      <span id={hintId} className="hint">{hint}</span>
    </div>
  );
}
