// Memory controls of the Train step: activation recomputation (auto / on / off) and the memory plan
// for the chosen settings: how much backend memory a step takes at its peak, whether 'auto' turns
// recomputation on, and, when the step will not fit, the largest batch that does (one click to use it).
import { useId } from 'react';
import { useApp } from '../store/app-store';
import { memoryPlan } from '../train/memory-plan';
import type { EstimateBackend } from '../train/estimate';
import { formatBytes } from './format';

type Recompute = 'auto' | 'on' | 'off';

export function MemoryOptions({ disabled }: { disabled: boolean }) {
  const id = useId();
  const model = useApp((s) => s.model);
  const backend = useApp((s) => s.backend);
  const lora = useApp((s) => s.lora);
  const train = useApp((s) => s.train);
  const setTrain = useApp((s) => s.setTrain);
  const recompute: Recompute = train.recompute ?? 'auto';
  const kind: EstimateBackend | null = backend ? (backend.backend === 'webgpu' ? 'webgpu' : backend.backend) : null;
  const plan = model?.config && kind
    ? memoryPlan({
        config: model.config, precision: model.basePrecision, head: 'fp32', backend: kind, rank: lora.r, targets: lora.targetModules,
        batchSize: train.batchSize, seqLen: train.seqLen, gradAccum: train.gradAccum, recompute, loss: train.loss ?? 'fused', examples: 1, steps: 1,
      })
    : null;
  return (
    <div className="memory-options" role="group" aria-label="Memory">
      <label htmlFor={id}>Recompute activations</label>{' '}
      <select id={id} value={recompute} disabled={disabled} onChange={(e) => setTrain({ recompute: e.target.value as Recompute })}>
        <option value="auto">Automatic (when memory is tight)</option>
        <option value="on">On: keep one input per layer, recompute the rest</option>
        <option value="off">Off: keep every activation (faster, more memory)</option>
      </select>
      {plan ? (
        <p className="muted" aria-label="Memory plan">
          About {formatBytes(plan.estimate.memory.peakBackend)} of {kind} memory at a step's peak; recomputation {plan.recompute ? 'on' : 'off'}
          {recompute === 'auto' ? ' (automatic)' : ''}.
        </p>
      ) : null}
      {plan && !plan.fits ? (
        <p role="alert" className="error-inline">
          This batch will not fit: about {formatBytes(plan.estimate.memory.peakBackend)} needed, {formatBytes(plan.budgetBytes)} available.
          {plan.suggestion ? (
            <>
              {' '}Batch {plan.suggestion.batchSize} with accumulation {plan.suggestion.gradAccum} fits.{' '}
              <button type="button" disabled={disabled} onClick={() => setTrain({ batchSize: plan.suggestion!.batchSize, gradAccum: plan.suggestion!.gradAccum, recompute: 'on' })}>
                Use batch {plan.suggestion.batchSize} x {plan.suggestion.gradAccum}
              </button>
            </>
          ) : ' Even batch 1 does not fit: shorten the sequence length.'}
        </p>
      ) : null}
    </div>
  );
}
