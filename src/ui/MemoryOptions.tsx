// Memory and time of the Train step, from one model (train/memory-plan.ts over train/estimate.ts):
// the recomputation setting, then one estimate (backend memory at a step's peak, time per step and
// epoch) with what it assumes (base storage, loss, attention path, layers recomputed, the speed:
// measured on this device when a run has been, else the backend's typical rate; unpacked rows shorter
// than the sequence length: memory at the longest batch, time at the average one), and, when the step
// will not fit, the largest batch that does (one click to use it).
import { useId } from 'react';
import { useApp } from '../store/app-store';
import { memoryPlan, type RecomputeSetting } from '../train/memory-plan';
import { totalSteps } from '../train/settings';
import { estimateBackendOf } from '../train/measured-speed';
import { runBatchLengths } from '../train/row-lengths';
import { formatBytes, formatSeconds } from './format';


export function MemoryOptions({ disabled }: { disabled: boolean }) {
  const id = useId();
  const model = useApp((s) => s.model);
  const backend = useApp((s) => s.backend);
  const dataset = useApp((s) => s.dataset);
  const lora = useApp((s) => s.lora);
  const train = useApp((s) => s.train);
  const fullFineTune = useApp((s) => s.fullFineTune);
  const softPrompt = useApp((s) => s.softPrompt);
  const measured = useApp((s) => s.measuredSpeed);
  const setTrain = useApp((s) => s.setTrain);
  const recompute: RecomputeSetting = train.recompute ?? 'auto';
  const kind = backend ? estimateBackendOf(backend) : null;
  const speed = measured && measured.backend === kind ? measured : null;
  const method = fullFineTune ? 'full' : softPrompt ? 'soft' : 'lora';
  const steps = dataset ? totalSteps(train, dataset.examples) : train.steps;
  // Unpacked rows shorter than the sequence length run shorter batches (each as long as its longest row).
  const rows = method === 'lora' || method === 'full' ? runBatchLengths(dataset?.paddedRows, { seqLen: train.seqLen, batchSize: train.batchSize, packed: dataset?.packing.enabled ?? false, objective: train.objective }) : null;
  const plan = model?.config && kind
    ? memoryPlan({
        config: model.config, precision: model.basePrecision, head: 'fp32', backend: kind, rank: lora.r, targets: lora.targetModules,
        batchSize: train.batchSize, seqLen: train.seqLen, gradAccum: train.gradAccum, recompute, loss: train.loss ?? 'fused',
        examples: dataset?.examples ?? 1, steps, method, gflops: speed?.gflops, rows,
      })
    : null;
  const e = plan?.estimate;
  const L = model?.config?.numLayers ?? 0;
  return (
    <div className="memory-options" role="group" aria-label="Memory">
      <label htmlFor={id}>Recompute activations</label>{' '}
      <select id={id} value={typeof recompute === 'number' ? 'auto' : recompute} disabled={disabled || method !== 'lora'} onChange={(ev) => setTrain({ recompute: ev.target.value as RecomputeSetting })}>
        <option value="auto">Automatic (the fewest layers that fit)</option>
        <option value="on">All layers: keep one input per layer, recompute the rest</option>
        <option value="off">Off: keep every activation (faster, more memory)</option>
      </select>
      {plan && e && kind ? (
        <p className="muted" aria-label="Training estimate">
          About <strong>{formatBytes(e.memory.peakBackend)}</strong> of {kind} memory at a step's peak (base {formatBytes(e.memory.baseBackend)}
          {e.memory.baseBackend < e.memory.base ? ` of its ${formatBytes(e.memory.base)}, the rest held in JS` : ''}, adapter + optimizer {formatBytes(e.memory.trainable)},
          activations {formatBytes(e.memory.activations)}, loss {formatBytes(e.memory.logits)}{e.memory.transient ? `, weights decoded per product ${formatBytes(e.memory.transient)}` : ''});{' '}
          {formatSeconds(e.secondsPerStep)} per step{dataset ? <>, <strong>{formatSeconds(e.secondsPerEpoch)} per epoch</strong> ({e.stepsPerEpoch} steps)</> : null}, {formatSeconds(e.secondsTotal)} for {steps} steps;
          {' '}{e.loraParameters.toLocaleString()} trainable parameters.
          <br />
          Assumes {model!.basePrecision === 'nf4' ? 'an NF4' : 'an fp32'} base, {train.loss === 'plain' ? 'the plain' : 'the fused'} loss, {e.attention} attention,
          {' '}{plan.rows ? `batches as long as their longest row (about ${Math.round(plan.rows.mean)} tokens on average, at most ${plan.rows.peak} of ${train.seqLen}),` : `rows of ${train.seqLen} tokens,`}
          {' '}{method === 'lora' ? `${plan.recomputeLayers} of ${L} layers recomputed${recompute === 'auto' ? ' (automatic)' : ''}` : 'no recomputation'}, and
          {' '}{speed ? `${speed.gflops.toFixed(1)} GFLOP/s measured on this device` : `${e.gflops} GFLOP/s, typical for ${kind} (no run measured here yet)`}; the live tokens/s below is the truth.
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
