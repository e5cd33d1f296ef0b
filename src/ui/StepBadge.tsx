// The state of the four steps, read from the store once (useStepStates) and shown as a badge in
// each step's heading and in the step bar.
import { useApp } from '../store/app-store';
import { usePreflight } from './PreflightPanel';
import { STATUS_LABEL, stepStates, type StepId, type StepState } from './step-states';

export function useStepStates(): Record<StepId, StepState> {
  const model = useApp((s) => s.model);
  const modelBusy = useApp((s) => s.modelBusy);
  const dataset = useApp((s) => s.dataset);
  const datasetBusy = useApp((s) => s.datasetBusy);
  const training = useApp((s) => s.training);
  const adapter = useApp((s) => s.adapter);
  const evaluatedAdapter = useApp((s) => s.evaluatedAdapter);
  const { blocked } = usePreflight();
  return stepStates({ model, modelBusy, dataset, datasetBusy, training, adapter, preflightBlocked: blocked, evaluated: !!adapter && evaluatedAdapter === adapter });
}

export function StepBadge({ step }: { step: StepId }) {
  const s = useStepStates()[step];
  return (
    <span className={`state ${s.status}`} data-testid={`state-${step}`}>
      {STATUS_LABEL[s.status]}<span className="why">: {s.why}</span>
    </span>
  );
}
