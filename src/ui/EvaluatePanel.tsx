// The Evaluate view: during training, the validation loss so far; after it, held-out loss and
// perplexity base vs tuned (and per evaluation step of the run), the forgetting check on general
// text, and side-by-side generations on validation prompts with an adapter-strength slider.
import { ChatTurns } from './ChatTurns';
import { useEffect, useRef, useState } from 'react';
import { useApp } from '../store/app-store';
import { trainingSeries } from '../store/train-series';
import type { GenerationRow } from '../eval/evaluate';
import type { GenerationScores } from '../eval/generations';
import { ErrorBox } from './common';

const fmt = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const signed = (x: number, d = 4) => (x > 0 ? `+${x.toFixed(d)}` : x.toFixed(d));

function Scores({ s }: { s: GenerationScores }) {
  const item = (ok: boolean, label: string) => <li className={ok ? 'yes' : 'no'}>{ok ? '✓' : '✗'} {label}</li>;
  return <ul className="scores">{item(s.exact, 'exact match')}{item(s.startsLike, 'starts like the answer')}{item(s.stopped, 'stopped by itself')}</ul>;
}

function Generations({ rows, strength }: { rows: GenerationRow[]; strength: number }) {
  return (
    <div className="generations">
      {rows.map((r, i) => (
        <div key={r.index} className="gen-row" role="group" aria-label={`Held-out example ${i + 1}`}>
          {r.turns ? (
            <div className="gen-prompt"><p className="muted">{r.line ? `Line ${r.line}` : 'Conversation'}</p><ChatTurns turns={r.turns} /></div>
          ) : (
            <p className="gen-prompt"><span className="muted">{r.line ? `Line ${r.line}: ` : ''}</span><strong>{r.prompt}</strong>…</p>
          )}
          <div className="gen-cols">
            <figure><figcaption>Base</figcaption><output aria-label={`Base answer ${i + 1}`}>{r.base.text}</output><Scores s={r.base.scores} /></figure>
            <figure><figcaption>Tuned{strength !== 1 ? ` at strength ${strength}` : ''}</figcaption><output aria-label={`Tuned answer ${i + 1}`}>{r.tuned.text}</output><Scores s={r.tuned.scores} /></figure>
            <figure><figcaption>Dataset’s answer</figcaption><output aria-label={`Reference answer ${i + 1}`}>{r.reference}</output></figure>
          </div>
        </div>
      ))}
    </div>
  );
}

function StrengthSlider() {
  const strength = useApp((s) => s.strength);
  const setStrength = useApp((s) => s.setStrength);
  const [value, setValue] = useState(strength);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => setValue(strength), [strength]);
  const commit = (v: number) => {
    setValue(v);
    if (timer.current) clearTimeout(timer.current);
    // One regeneration per settled value, not one per pixel of a drag.
    timer.current = setTimeout(() => void setStrength(v), 250);
  };
  return (
    <div className="strength">
      <label>
        Adapter strength
        <input type="range" min={0} max={1.5} step={0.05} value={value} aria-describedby="strength-hint" onChange={(e) => commit(Number(e.target.value))} />
      </label>
      <output aria-label="Adapter strength value">{value.toFixed(2)}</output>
      <span id="strength-hint" className="hint">0 is the base model exactly, 1 the adapter as trained; the tuned column regenerates.</span>
    </div>
  );
}

export function EvaluatePanel() {
  const adapter = useApp((s) => s.adapter);
  const training = useApp((s) => s.training);
  const lastEval = useApp((s) => s.lastEval);
  const evaluation = useApp((s) => s.evaluation);
  const evaluatedAdapter = useApp((s) => s.evaluatedAdapter);
  const busy = useApp((s) => s.evalBusy);
  const progress = useApp((s) => s.evalProgress);
  const error = useApp((s) => s.evalError);
  const run = useApp((s) => s.runEvaluation);
  const prompts = useApp((s) => s.evalPrompts);
  const maxNew = useApp((s) => s.evalMaxNewTokens);
  const setOpts = useApp((s) => s.setEvalOptions);
  const strength = useApp((s) => s.strength);
  const strengthRows = useApp((s) => s.strengthRows);
  const genRunning = useApp((s) => s.generation.running);
  const current = evaluation && evaluatedAdapter === adapter ? evaluation : null;
  const rows = current ? (strengthRows ?? current.generations) : [];
  return (
    <section aria-label="Evaluate" className="evaluate">
      <h3>Evaluate</h3>
      {training ? (
        <p className="muted" aria-live="polite">{lastEval ? `Held-out loss so far: ${fmt(lastEval.loss)} (perplexity ${fmt(lastEval.perplexity, 2)}) at step ${lastEval.step}.` : 'The held-out loss appears here at each evaluation step.'} The full comparison runs when training ends.</p>
      ) : (
        <p className="muted">Held-out loss base vs tuned, what the tuning did to ordinary text, and answers side by side.</p>
      )}
      <div className="row">
        <label className="field small">
          Answers to compare
          <input type="number" min={1} max={16} value={prompts} onChange={(e) => setOpts({ evalPrompts: Math.min(16, Math.max(1, Math.round(Number(e.target.value) || 1))) })} />
        </label>
        <label className="field small">
          Tokens per answer
          <input type="number" min={1} max={256} value={maxNew} onChange={(e) => setOpts({ evalMaxNewTokens: Math.min(256, Math.max(1, Math.round(Number(e.target.value) || 1))) })} />
        </label>
        <button type="button" className="primary" disabled={!adapter || training || busy || genRunning} onClick={() => void run()}>{busy && !current ? 'Evaluating…' : 'Evaluate base vs tuned'}</button>
      </div>
      {busy && progress ? <p className="muted" aria-live="polite">Measuring {progress.phase} ({progress.done}/{progress.total})…</p> : null}
      <ErrorBox error={error} />
      {evaluation && !current ? <p className="muted">The last evaluation was of another adapter: evaluate again.</p> : null}
      {current ? (
        <>
          <div className="eval-tables">
            {current.heldOut ? (
              <table aria-label="Held-out loss">
                <caption>Held-out loss ({current.heldOut.examples} examples, {current.heldOut.base.tokens.toLocaleString()} tokens)</caption>
                <thead><tr><th /><th>Loss</th><th>Perplexity</th></tr></thead>
                <tbody>
                  <tr><th>Base</th><td data-testid="eval-base-loss" data-value={current.heldOut.base.loss}>{fmt(current.heldOut.base.loss)}</td><td>{fmt(current.heldOut.base.perplexity, 2)}</td></tr>
                  <tr><th>Tuned</th><td data-testid="eval-tuned-loss" data-value={current.heldOut.tuned.loss}>{fmt(current.heldOut.tuned.loss)}</td><td>{fmt(current.heldOut.tuned.perplexity, 2)}</td></tr>
                  <tr><th>Change</th><td>{signed(current.heldOut.tuned.loss - current.heldOut.base.loss)}</td><td>{signed(current.heldOut.tuned.perplexity - current.heldOut.base.perplexity, 2)}</td></tr>
                </tbody>
              </table>
            ) : <p className="muted">No held-out examples (validation share 0): only the general-text check.</p>}
            {current.general ? (
              <table aria-label="Forgetting">
                <caption>Forgetting: loss on general text ({current.general.paragraphs} paragraphs)</caption>
                <thead><tr><th /><th>Loss</th><th>Perplexity</th></tr></thead>
                <tbody>
                  <tr><th>Base</th><td data-testid="general-base-loss" data-value={current.general.base.loss}>{fmt(current.general.base.loss)}</td><td>{fmt(current.general.base.perplexity, 2)}</td></tr>
                  <tr><th>Tuned</th><td data-testid="general-tuned-loss" data-value={current.general.tuned.loss}>{fmt(current.general.tuned.loss)}</td><td>{fmt(current.general.tuned.perplexity, 2)}</td></tr>
                  <tr><th>Change</th><td data-testid="general-change">{signed(current.general.change)} ({signed(current.general.changePercent, 1)}%)</td><td>{current.general.change > 0.05 * current.general.base.loss ? 'worse at ordinary text' : current.general.change > 0 ? 'about the same' : 'no loss'}</td></tr>
                </tbody>
              </table>
            ) : null}
            {current.heldOut && trainingSeries.evalSteps.length > 0 ? (
              <table aria-label="Held-out loss per evaluation step">
                <caption>During the run</caption>
                <thead><tr><th>Step</th><th>Loss</th><th>Perplexity</th></tr></thead>
                <tbody>
                  <tr><td>0 (base)</td><td>{fmt(current.heldOut.base.loss)}</td><td>{fmt(current.heldOut.base.perplexity, 2)}</td></tr>
                  {trainingSeries.evalSteps.map((s, i) => <tr key={s}><td>{s}</td><td>{fmt(trainingSeries.evalLoss[i])}</td><td>{fmt(Math.exp(trainingSeries.evalLoss[i]), 2)}</td></tr>)}
                </tbody>
              </table>
            ) : null}
          </div>
          {rows.length > 0 ? (
            <>
              <h4>Answers on validation prompts</h4>
              <p className="muted" data-testid="eval-scores">
                Base: {current.scores.base.exact}/{current.scores.base.of} exact, {current.scores.base.startsLike} start like the answer, {current.scores.base.stopped} stopped by themselves · Tuned (strength 1): {current.scores.tuned.exact}/{current.scores.tuned.of} exact, {current.scores.tuned.startsLike} start like the answer, {current.scores.tuned.stopped} stopped by themselves.
              </p>
              <StrengthSlider />
              {busy ? <p className="muted" aria-live="polite">Regenerating at strength {strength}…</p> : null}
              <Generations rows={rows} strength={strengthRows ? strength : 1} />
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
