// Past training runs from IndexedDB: settings, status and final losses of each, with Resume for a
// run that was paused or interrupted (reload, crash, closed tab), and any run's adapter downloadable.
import { useApp } from '../store/app-store';
import { isResumable } from '../storage/checkpoints';
import { smallerMicroBatch } from '../train/resume-settings';
import type { RunRecord } from '../train/training-run';

function describe(r: RunRecord): string {
  const s = r.settings;
  const objective = s.objective && s.objective !== 'sft' ? `${s.objective.toUpperCase()}, ` : '';
  const continued = r.startedFrom ? `, continued from ${r.startedFrom}` : '';
  return `${objective}r=${r.lora.r}, alpha=${r.lora.alpha}${r.lora.useRslora ? ' (rsLoRA)' : ''}, ${r.lora.targetModules.join('+')}, lr ${s.learningRate} ${s.schedule}, B ${s.batchSize}x${s.gradAccum}, T ${s.seqLen}, seed ${s.seed}${continued}`;
}

/** The newest run that can be resumed, for the offer at the top of the training step. */
export function ResumeOffer() {
  const runs = useApp((s) => s.runs);
  const training = useApp((s) => s.training);
  const model = useApp((s) => s.model);
  const resume = useApp((s) => s.resumeRun);
  const run = runs.find(isResumable);
  if (!run || training) return null;
  const sameModel = model?.fingerprint === run.base.fingerprint;
  // Out of memory: the same examples per step in smaller pieces (the largest batch below this one).
  const smaller = run.outOfMemory ? smallerMicroBatch(run.settings) : null;
  const s = run.settings;
  return (
    <div className="notice" role="region" aria-label="Unfinished run">
      <p>
        A training run stopped at step {run.checkpointStep} of {run.totalSteps} ({run.outOfMemory ? 'out of memory' : run.status === 'paused' ? 'paused' : run.status === 'diverged' ? 'diverged' : 'interrupted'}).
        {!sameModel ? ` Load ${run.base.source} to continue it.` : smaller ? ` It ran batch ${s.batchSize} x ${s.gradAccum}; batch ${smaller.batchSize} x ${smaller.gradAccum} accumulation takes the same ${s.batchSize * s.gradAccum} examples per step with less memory.` : ' It can continue exactly where it was.'}
      </p>
      {smaller ? (
        <button type="button" className="primary" disabled={!sameModel} onClick={() => void resume(run.runId, smaller)}>
          Resume with batch {smaller.batchSize} x {smaller.gradAccum} accumulation
        </button>
      ) : null}
      <button type="button" className={smaller ? undefined : 'primary'} disabled={!sameModel} onClick={() => void resume(run.runId)}>Resume training</button>
    </div>
  );
}

export function RunHistory() {
  const runs = useApp((s) => s.runs);
  const training = useApp((s) => s.training);
  const model = useApp((s) => s.model);
  const resume = useApp((s) => s.resumeRun);
  const download = useApp((s) => s.downloadRunAdapter);
  const remove = useApp((s) => s.deleteRun);
  if (runs.length === 0) return null;
  return (
    <details className="runs">
      <summary>Past runs ({runs.length})</summary>
      <table aria-label="Past runs">
        <thead>
          <tr><th>Started</th><th>Settings</th><th>Status</th><th>Step</th><th>Final loss</th><th>Val loss</th><th /></tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.runId}>
              <td>{new Date(r.createdAt).toLocaleString()}</td>
              <td className="muted">{describe(r)}</td>
              <td title={r.message ?? undefined}>{r.status}</td>
              <td>{r.step} / {r.totalSteps}</td>
              <td>{r.finalLoss?.toFixed(4) ?? '–'}</td>
              <td>{r.lastEvalLoss?.toFixed(4) ?? '–'}</td>
              <td className="row">
                {isResumable(r) ? <button type="button" disabled={training || model?.fingerprint !== r.base.fingerprint} onClick={() => void resume(r.runId)}>Resume</button> : null}
                {r.checkpointStep !== null ? <button type="button" onClick={() => void download(r.runId)}>Download adapter</button> : null}
                <button type="button" disabled={training} onClick={() => void remove(r.runId)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
