// People's feedback in the Use step: compare two answers to a prompt and pick the better one (keys
// 1-4 while the panel has focus), thumbs up/down with an optional corrected answer on any single
// answer, the stored ratings listed (edit, delete), downloaded in TRL's formats, and trained on.
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useApp } from '../store/app-store';
import { PAIR_VERDICTS, toPreferencePairs, toUnpairedRows, type FeedbackRecord, type PairVerdict, type RatedAnswer, type ThumbVerdict } from '../data/feedback';
import type { AnswerContext } from '../store/types';
import { ErrorBox } from './common';

export const COMPARE_PANEL_ID = 'feedback-compare';

const fromLabel = (a: RatedAnswer) => `${a.from === 'base' ? 'base model' : 'with adapter'}, ${a.temperature === 0 ? 'greedy' : `temperature ${a.temperature}, seed ${a.seed}`}`;

/** Thumbs up/down on one answer; once rated, an optional corrected answer. `label` names the answer. */
export function Thumbs({ label, ctx, answer, disabled }: { label: string; ctx: AnswerContext | null; answer: RatedAnswer | null; disabled?: boolean }) {
  const rate = useApp((s) => s.rateAnswer);
  const edit = useApp((s) => s.editFeedback);
  const [id, setId] = useState<string | null>(null);
  const record = useApp((s) => (id ? s.feedback.find((r) => r.id === id) : undefined));
  const [draft, setDraft] = useState('');
  // A new answer is a new rating (the component stays mounted while the text changes).
  useEffect(() => {
    setId(null);
    setDraft('');
  }, [answer?.text, ctx?.prompt]);
  const verdict = record?.kind === 'single' ? record.verdict : null;
  const off = disabled || !ctx || !answer || answer.text.trim() === '';
  const thumb = async (v: ThumbVerdict) => {
    if (!ctx || !answer) return;
    if (record) await edit(record.id, { verdict: v });
    else setId(await rate(ctx, answer, v));
  };
  return (
    <div className="thumbs">
      <div className="row tight" role="group" aria-label={`Rate ${label}`}>
        <button type="button" aria-pressed={verdict === 'up'} aria-label={`Good answer: ${label}`} disabled={off} onClick={() => void thumb('up')}>👍 Good</button>
        <button type="button" aria-pressed={verdict === 'down'} aria-label={`Bad answer: ${label}`} disabled={off} onClick={() => void thumb('down')}>👎 Bad</button>
        {record ? <span className="muted" role="status">Saved in Your feedback.</span> : null}
      </div>
      {record && record.kind === 'single' ? (
        <form
          className="correction"
          onSubmit={(e) => {
            e.preventDefault();
            void edit(record.id, { correction: draft });
          }}
        >
          <label>
            Corrected answer for {label} (optional)
            <textarea rows={2} value={draft} onChange={(e) => setDraft(e.target.value)} />
          </label>
          <button type="submit" aria-label={`Save correction for ${label}`} disabled={draft === record.correction}>Save correction</button>
        </form>
      ) : null}
    </div>
  );
}

function ComparePanel() {
  const model = useApp((s) => s.model);
  const adapter = useApp((s) => s.adapter);
  const usePrompt = useApp((s) => s.prompt);
  const comparePrompt = useApp((s) => s.comparePrompt);
  const setComparePrompt = useApp((s) => s.setComparePrompt);
  const mode = useApp((s) => s.compareMode);
  const temperature = useApp((s) => s.compareTemperature);
  const setOpts = useApp((s) => s.setCompareOptions);
  const c = useApp((s) => s.comparison);
  const compare = useApp((s) => s.compareAnswers);
  const rate = useApp((s) => s.rateComparison);
  const verdict = useApp((s) => (s.comparison?.recordId ? s.feedback.find((r) => r.id === s.comparison?.recordId) : undefined));
  const busy = useApp((s) => s.generation.running || s.training || s.evalBusy || s.modelBusy);
  const running = c?.running === true;
  const ready = c !== null && !running && (c.a.text.trim() !== '' || c.b.text.trim() !== '');
  const chosen = verdict?.kind === 'pair' ? verdict.verdict : null;
  // The Compare button is disabled while it runs, which drops keyboard focus on the page: bring it
  // back to the panel so the verdict is one key away.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) {
      const panel = document.getElementById(COMPARE_PANEL_ID);
      if (document.activeElement === document.body || document.activeElement === null) panel?.focus({ preventScroll: true });
    }
    wasRunning.current = running;
  }, [running]);
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const t = e.target as HTMLElement;
    if (t.closest('input, textarea, select') || e.altKey || e.ctrlKey || e.metaKey) return;
    const v = PAIR_VERDICTS.find((p) => p.key === e.key);
    if (v && ready) {
      e.preventDefault();
      void rate(v.value);
    }
  };
  return (
    <div id={COMPARE_PANEL_ID} className="compare-panel" role="group" aria-labelledby="h-compare" aria-describedby="compare-keys" tabIndex={-1} onKeyDown={onKey}>
      <h4 id="h-compare">Compare two answers</h4>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void compare();
        }}
      >
        <label className="field">
          Input for both answers
          <textarea rows={2} value={comparePrompt ?? usePrompt} onChange={(e) => setComparePrompt(e.target.value)} />
        </label>
        {comparePrompt !== null && comparePrompt !== usePrompt ? (
          <button type="button" className="link" onClick={() => setComparePrompt(null)}>Use the Use step's prompt again</button>
        ) : null}
        <div className="row">
          <label className="field">
            Answer sources
            <select value={mode} onChange={(e) => setOpts({ compareMode: e.target.value as typeof mode })}>
              <option value="samples">Two samples of the {adapter ? 'tuned' : 'base'} model</option>
              <option value="base-vs-tuned" disabled={!adapter}>Base vs tuned{adapter ? '' : ' (needs an adapter)'}</option>
            </select>
          </label>
          <label className="field small">
            Compare temperature
            <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setOpts({ compareTemperature: Math.max(0, Number(e.target.value) || 0) })} />
          </label>
          <button type="submit" className="primary" disabled={!model || busy || running}>{running ? 'Generating…' : 'Compare two answers'}</button>
        </div>
        {mode === 'samples' && temperature === 0 ? <p className="muted">At temperature 0 both samples are the same answer: raise it to compare.</p> : null}
      </form>
      {c ? (
        <>
          <p className="muted">Prompt{c.chat ? ' (sent as a chat turn)' : ''}: <strong>{c.prompt}</strong></p>
          <div className="compare">
            {(['a', 'b'] as const).map((side) => (
              <figure key={side}>
                <figcaption>{side.toUpperCase()} <span className="muted">· {fromLabel(c[side])}</span></figcaption>
                <output aria-label={`Answer ${side.toUpperCase()}`}>{c[side].text}</output>
                <Thumbs label={`answer ${side.toUpperCase()}`} ctx={running ? null : c} answer={c[side]} />
              </figure>
            ))}
          </div>
          <div className="row verdicts" role="group" aria-label="Which answer is better?">
            {PAIR_VERDICTS.map((v) => (
              <button key={v.value} type="button" aria-keyshortcuts={v.key} aria-pressed={chosen === v.value} disabled={!ready} onClick={() => void rate(v.value)}>
                <kbd>{v.key}</kbd> {v.label}
              </button>
            ))}
          </div>
          {chosen ? <p className="hint" role="status">Saved: {PAIR_VERDICTS.find((v) => v.value === chosen)?.label}.</p> : null}
        </>
      ) : null}
      <p id="compare-keys" className="hint">Keys 1–4 pick a verdict (A better, B better, tie, both bad) while this panel has focus.</p>
    </div>
  );
}

const VERDICT_LABEL: Record<PairVerdict | ThumbVerdict, string> = { a: 'A is better', b: 'B is better', tie: 'Tie', 'both-bad': 'Both bad', up: 'Good', down: 'Bad' };

function FeedbackItem({ r, n }: { r: FeedbackRecord; n: number }) {
  const edit = useApp((s) => s.editFeedback);
  const remove = useApp((s) => s.removeFeedback);
  const [draft, setDraft] = useState(r.kind === 'single' ? r.correction : '');
  useEffect(() => setDraft(r.kind === 'single' ? r.correction : ''), [r]);
  const options = r.kind === 'pair' ? (['a', 'b', 'tie', 'both-bad'] as const) : (['up', 'down'] as const);
  return (
    <li aria-label={`Feedback ${n}`} className="feedback-item">
      <p className="feedback-prompt"><strong>{r.prompt}</strong>{r.chat ? <span className="muted"> (chat turn)</span> : null}</p>
      {r.kind === 'pair' ? (
        <div className="compare small">
          <p><span className="muted">A ({fromLabel(r.a)}):</span> {r.a.text}</p>
          <p><span className="muted">B ({fromLabel(r.b)}):</span> {r.b.text}</p>
        </div>
      ) : (
        <p><span className="muted">Answer ({fromLabel(r.answer)}):</span> {r.answer.text}</p>
      )}
      <p className="muted">{r.modelSource}{r.adapter ? ` · ${r.adapter}` : ''} · {new Date(r.createdAtMs).toLocaleString()}</p>
      <div className="row">
        <label className="field">
          Verdict
          <select value={r.verdict} onChange={(e) => void edit(r.id, { verdict: e.target.value as PairVerdict | ThumbVerdict })}>
            {options.map((o) => <option key={o} value={o}>{VERDICT_LABEL[o]}</option>)}
          </select>
        </label>
        <button type="button" aria-label={`Delete feedback ${n}`} onClick={() => void remove(r.id)}>Delete</button>
      </div>
      {r.kind === 'single' ? (
        <form
          className="correction"
          onSubmit={(e) => {
            e.preventDefault();
            void edit(r.id, { correction: draft });
          }}
        >
          <label>
            Corrected answer
            <textarea rows={2} value={draft} onChange={(e) => setDraft(e.target.value)} />
          </label>
          <button type="submit" aria-label={`Save correction ${n}`} disabled={draft === r.correction}>Save correction</button>
        </form>
      ) : null}
    </li>
  );
}

function FeedbackList() {
  const feedback = useApp((s) => s.feedback);
  const download = useApp((s) => s.downloadFeedback);
  const train = useApp((s) => s.trainOnFeedback);
  const note = useApp((s) => s.feedbackNote);
  const training = useApp((s) => s.training);
  const datasetBusy = useApp((s) => s.datasetBusy);
  // A model load replaces the dataset: the pairs would be dropped as soon as they were read.
  const modelBusy = useApp((s) => s.modelBusy);
  const pairs = toPreferencePairs(feedback).length;
  const unpaired = toUnpairedRows(feedback).length;
  const trainOn = async (objective: 'dpo' | 'kto') => {
    if (await train(objective)) {
      const el = document.getElementById('step-train');
      el?.scrollIntoView({ behavior: 'smooth' });
      el?.focus({ preventScroll: true });
    }
  };
  return (
    <section aria-labelledby="h-feedback" className="feedback-list">
      <h4 id="h-feedback">Your feedback ({feedback.length})</h4>
      {feedback.length === 0 ? <p className="muted">No ratings yet: compare two answers, or rate one with 👍 / 👎.</p> : (
        <ol>{feedback.map((r, i) => <FeedbackItem key={r.id} r={r} n={i + 1} />)}</ol>
      )}
      <div className="row">
        <button type="button" disabled={pairs === 0} onClick={() => download('pairs')}>Download preference pairs ({pairs})</button>
        <button type="button" disabled={unpaired === 0} onClick={() => download('unpaired')}>Download unpaired rows ({unpaired})</button>
        <button type="button" className="primary" disabled={training || datasetBusy || modelBusy} onClick={() => void trainOn('dpo')}>
          Train on this feedback
        </button>
        <button type="button" disabled={training || datasetBusy || modelBusy} onClick={() => void trainOn('kto')}>
          Train on the ratings (KTO)
        </button>
      </div>
      <p className="hint">Pairs are TRL's {'{"prompt","chosen","rejected"}'} rows (DPO); unpaired rows are {'{"prompt","completion","label"}'} (KTO). "Train on this feedback" trains DPO on the pairs; "Train on the ratings" trains KTO on every rated answer, good and bad.</p>
      {note ? <p role="status" className="error-inline">{note}</p> : null}
    </section>
  );
}

export function FeedbackPanel() {
  const refresh = useApp((s) => s.refreshFeedback);
  const error = useApp((s) => s.feedbackError);
  useEffect(() => void refresh(), [refresh]);
  return (
    <section aria-label="Feedback" className="feedback">
      <h3>Feedback</h3>
      <p className="muted">Rate answers to teach the model what you prefer. Ratings stay in this browser, across reloads and models.</p>
      <ComparePanel />
      <ErrorBox error={error} />
      <FeedbackList />
    </section>
  );
}
