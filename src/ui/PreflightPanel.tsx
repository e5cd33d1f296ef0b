// Preflight in the page: the data findings (from the worker's parse) plus the settings findings
// (computed here as the settings change), each with its lines, an example and the fix. Serious
// findings block "Start training" until the person acknowledges them; nothing changes the data.
import { useApp } from '../store/app-store';
import { settingsFindings, seriousKey, type PreflightFinding, type TrainMethod } from '../data/preflight';
import { totalSteps } from '../train/settings';

const SEVERITY_LABEL = { serious: 'Serious', warning: 'Warning', info: 'Note' } as const;

/** All findings for the current dataset and settings, and whether they block training. */
export function usePreflight(): { findings: PreflightFinding[]; key: string; blocked: boolean } {
  const dataset = useApp((s) => s.dataset);
  const train = useApp((s) => s.train);
  const ack = useApp((s) => s.preflightAck);
  const soft = useApp((s) => s.softPrompt);
  if (!dataset) return { findings: [], key: '', blocked: false };
  const steps = totalSteps(train, dataset.train);
  // The usual learning rates follow what is trained: a soft prompt or LoRA (DPO here trains one of
  // those too, and the shipped tiny-model DPO example needs LoRA-like rates, so no 'dpo' range yet).
  const method: TrainMethod = soft ? 'prompt' : 'lora';
  const findings = [...(dataset.preflight ?? []), ...settingsFindings({ trainExamples: dataset.train, steps, batchSize: train.batchSize, gradAccum: train.gradAccum, learningRate: train.learningRate, method })];
  const key = seriousKey(findings);
  return { findings, key, blocked: key !== '' && ack !== key };
}

function lineList(f: PreflightFinding): string | null {
  if (f.lines.length === 0) return null;
  const more = f.count - f.lines.length;
  return `${f.lines.length === 1 ? 'Line' : 'Lines'} ${f.lines.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

export function FindingList({ findings }: { findings: PreflightFinding[] }) {
  return (
    <ul className="findings">
      {findings.map((f) => (
        <li key={f.id} className={`finding ${f.severity}`} aria-label={`${SEVERITY_LABEL[f.severity]}: ${f.id}`}>
          <p><span className={`badge ${f.severity}`}>{SEVERITY_LABEL[f.severity]}</span> {f.message}</p>
          {lineList(f) ? <p className="muted">{lineList(f)}{f.example ? <> · e.g. <q>{f.example}</q></> : null}</p> : null}
          <p className="fix"><strong>Fix:</strong> {f.fix}</p>
        </li>
      ))}
    </ul>
  );
}

/** In the Dataset step: what the data itself shows. */
export function DatasetChecks() {
  const dataset = useApp((s) => s.dataset);
  if (!dataset) return null;
  const findings = dataset.preflight ?? [];
  return (
    <section aria-label="Dataset checks" className="preflight">
      <h3>Dataset checks</h3>
      {findings.length === 0 ? <p className="ok-line">No problems found in {dataset.examples.toLocaleString()} examples: stop tokens trained, nothing cut, no duplicates.</p> : <FindingList findings={findings} />}
    </section>
  );
}

/** In the Train step, above Start: everything, and the acknowledgement serious findings need. */
export function PreflightPanel() {
  const { findings, key, blocked } = usePreflight();
  const ack = useApp((s) => s.preflightAck);
  const acknowledge = useApp((s) => s.acknowledgePreflight);
  const training = useApp((s) => s.training);
  if (findings.length === 0) return null;
  const serious = findings.filter((f) => f.severity === 'serious').length;
  return (
    <section aria-label="Preflight checks" className={`preflight${blocked ? ' blocking' : ''}`}>
      <h3>Before you train{serious ? `: ${serious} serious finding${serious > 1 ? 's' : ''}` : ''}</h3>
      <FindingList findings={findings} />
      {key !== '' ? (
        <label className="check ack">
          <input type="checkbox" disabled={training} checked={ack === key} onChange={(e) => acknowledge(e.target.checked ? key : null)} />
          I have read the serious findings and want to train anyway
        </label>
      ) : null}
    </section>
  );
}
