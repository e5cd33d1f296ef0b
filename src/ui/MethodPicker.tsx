// The training method and objective: what gets trained (LoRA over an fp32 or NF4 base, a soft prompt
// by prompt or prefix tuning, or every weight, offered when the estimate fits this device) and what for
// (supervised next-token loss, DPO / ORPO on preference pairs, KTO on rated answers, GRPO with a reward), each with one line on when it is the right
// choice and the trainable memory it needs. Mounted by TrainStep with one line.
import { useId } from 'react';
import { useApp } from '../store/app-store';
import type { Objective } from '../train/settings';
import { DEFAULT_DPO } from '../train/dpo';
import { DEFAULT_GRPO, DEFAULT_KTO } from '../train/settings';
import { DEFAULT_REWARD, GrpoSettingsForm } from './GrpoSettings';
import { DEFAULT_ORPO_LAMBDA } from '../train/objectives/orpo';
import { parameterCount, type ModelConfig } from '../model/config';
import { deviceTrainingBudget, estimateTraining, fullFineTuneFit, loraParameterCount, type EstimateBackend } from '../train/estimate';
import { softPromptWidth, type SoftPromptKind } from '../adapters/soft-prompt-types';
import { formatBytes } from './format';
import { continuable } from '../store/train-slice';

type Method = 'lora' | SoftPromptKind | 'full';

const OBJECTIVES: { value: Objective; label: string; hint: string }[] = [
  { value: 'sft', label: 'Supervised (next-token loss)', hint: 'Teach answers by example: any dataset format; loss only on the answers.' },
  {
    value: 'dpo',
    label: 'Preference (DPO)',
    hint: 'Teach which of two answers is better: needs {"prompt","chosen","rejected"} pairs. Each step also runs the base alone (the reference): about 2x the activations and 3x the time of supervised tuning.',
  },
  {
    value: 'kto',
    label: 'Thumbs up / down (KTO)',
    hint: 'Teach from answers marked good or bad, no pairs needed: {"prompt","completion","label": true|false} lines with both labels. Each step also runs the base alone and mismatched answers for its KL baseline: about 4x the time of supervised tuning.',
  },
  {
    value: 'orpo',
    label: 'Preference without a reference (ORPO)',
    hint: 'Supervised tuning on the chosen answers plus a push away from the rejected ones: needs {"prompt","chosen","rejected"} pairs; no reference pass, so about 2x the time of supervised tuning.',
  },
  {
    value: 'grpo',
    label: 'Reward you write (GRPO)',
    hint: 'Samples several answers to each prompt, scores them with your reward function, and moves towards the better ones of each group: needs prompts ({"prompt": "..."} lines, or prompt / completion rows). LoRA only. Sampling dominates: a step takes G x (completion length) generation steps per prompt.',
  },
];

/** What each objective's data must look like, as the dataset summary names formats. */
const NEEDS_FORMAT: Partial<Record<Objective, { format: string; what: string }>> = {
  dpo: { format: 'preference', what: 'DPO needs a preference dataset (prompt / chosen / rejected lines)' },
  orpo: { format: 'preference', what: 'ORPO needs a preference dataset (prompt / chosen / rejected lines)' },
  kto: { format: 'prompt-completion', what: 'KTO needs prompt / completion / label lines' },
};

/** GRPO reads plain-text prompts: a file of prompts, or prompt / completion rows. */
const GRPO_FORMATS = ['prompt', 'prompt-completion'];

/** Trainable values of a method: what its weights, gradients and two AdamW moments cost (4 fp32 copies). */
function trainableValues(method: Method, cfg: ModelConfig, rank: number, targets: Parameters<typeof loraParameterCount>[2], virtualTokens: number): number {
  if (method === 'lora') return loraParameterCount(cfg, rank, targets);
  if (method === 'full') return parameterCount(cfg);
  return virtualTokens * softPromptWidth(cfg, method);
}

const HINTS: Record<Method, string> = {
  lora: 'Low-rank adapters on chosen layers, the base frozen: the usual choice; strong results for little memory.',
  'prompt-tuning': 'Learns N virtual input tokens, every weight frozen: the fewest numbers (N x hidden); good for steering style or a task on larger models, weaker on tiny ones.',
  'prefix-tuning': 'Learns N virtual keys and values in every layer: more capacity than prompt tuning (N x layers x 2 x kv width), still no weight changed.',
  full: 'Every weight trained (fp32 master weights, gradients and AdamW moments: 16 bytes per parameter, plus the base kept to compare with): the most capacity, for small models; exports a whole model folder, not an adapter.',
};

/** Why full fine-tuning is not offered with this model, device and settings, or null when it is. */
function fullUnavailable(nf4: boolean, cfg: ModelConfig | undefined, backend: { backend: string; adapterDescription: string | null } | null, train: { batchSize: number; seqLen: number; gradAccum: number; steps: number }, examples: number): string | null {
  if (!cfg || !backend) return 'load a model first';
  if (nf4) return 'it trains every weight in fp32, and this base is loaded as NF4 (load it in fp32 in step 1)';
  const kind: EstimateBackend = backend.backend === 'webgpu' ? (/swiftshader|fallback/i.test(backend.adapterDescription ?? '') ? 'webgpu-fallback' : 'webgpu') : (backend.backend as EstimateBackend);
  const e = estimateTraining({ config: cfg, rank: 0, targets: [], batchSize: train.batchSize, seqLen: train.seqLen, gradAccum: train.gradAccum, examples, steps: train.steps, backend: kind, method: 'full' });
  const deviceMemoryGiB = (globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory;
  const fit = fullFineTuneFit(e, deviceTrainingBudget({ backend: kind, deviceMemoryGiB }));
  return fit.ok ? null : fit.reason;
}

export function MethodPicker({ disabled }: { disabled: boolean }) {
  const train = useApp((s) => s.train);
  const setTrain = useApp((s) => s.setTrain);
  const lora = useApp((s) => s.lora);
  const soft = useApp((s) => s.softPrompt);
  const setSoft = useApp((s) => s.setSoftPrompt);
  const model = useApp((s) => s.model);
  const dataset = useApp((s) => s.dataset);
  const adapter = useApp((s) => s.adapter);
  const startFrom = useApp((s) => s.startFrom);
  const setStartFrom = useApp((s) => s.setStartFrom);
  const ids = { start: useId(), startSelect: useId(), method: useId(), methodSelect: useId(), objectiveSelect: useId(), objective: useId(), beta: useId(), tokens: useId(), text: useId() };
  const objective = train.objective ?? 'sft';
  const o = OBJECTIVES.find((x) => x.value === objective)!;
  const nf4 = model?.basePrecision === 'nf4';
  const fullOn = useApp((s) => s.fullFineTune);
  const setFull = useApp((s) => s.setFullFineTune);
  const backend = useApp((s) => s.backend);
  const method: Method = fullOn ? 'full' : soft ? soft.kind : 'lora';
  const N = soft?.numVirtualTokens ?? 8;
  const cfg = model?.config;
  const memory = (m: Method) => (cfg ? ` Its trainable values take ${formatBytes(4 * 4 * trainableValues(m, cfg, lora.r, lora.targetModules, N))} (weights, gradients and two AdamW moments).` : '');
  const pick = (m: Method) => {
    if (m === 'full') setFull(true);
    else if (m === 'lora') {
      setSoft(null);
      setFull(false);
    } else setSoft({ kind: m, numVirtualTokens: N, init: m === 'prompt-tuning' ? (soft?.init ?? 'random') : 'random', initText: m === 'prompt-tuning' ? (soft?.initText ?? null) : null });
  };
  const fullWhyNot = fullUnavailable(nf4, cfg, backend, train, dataset?.examples ?? 1);
  const needs = NEEDS_FORMAT[objective];
  const pairsMissing = needs !== undefined && dataset !== null && dataset.format !== needs.format;
  const promptsMissing = objective === 'grpo' && dataset !== null && !GRPO_FORMATS.includes(dataset.format ?? '');
  const answersMissing = objective !== 'grpo' && dataset?.format === 'prompt';
  const pickObjective = (v: Objective) => setTrain({ objective: v, ...(v === 'grpo' && !train.grpo?.reward ? { grpo: { ...DEFAULT_GRPO, ...train.grpo, reward: DEFAULT_REWARD } } : {}) });
  return (
    <fieldset disabled={disabled} className="settings" aria-label="Training method">
      <legend>Method and objective</legend>
      <div className="grid">
        <div className="field">
          {/* Label beside (not around) the select: its option texts ("Prompt tuning") must not become the label's text. */}
          <label htmlFor={ids.methodSelect}>Method</label>
          <select id={ids.methodSelect} value={method} aria-describedby={ids.method} onChange={(e) => pick(e.target.value as Method)}>
              <option value="lora">{nf4 ? 'QLoRA (LoRA over the NF4 base)' : 'LoRA'}</option>
              <option value="prompt-tuning">Prompt tuning</option>
              <option value="prefix-tuning">Prefix tuning</option>
              <option value="full" disabled={fullWhyNot !== null && !fullOn}>{fullWhyNot ? 'Full fine-tuning (not offered here)' : 'Full fine-tuning'}</option>
          </select>
          <span id={ids.method} className="hint" data-testid="method-line">
            {HINTS[method]}
            {method === 'lora' && !nf4 ? ' For QLoRA, load the model with the NF4 base in step 1.' : ''}
            {memory(method)}
          </span>
          {fullWhyNot ? <span className="hint" data-testid="full-why-not">Full fine-tuning is not offered: {fullWhyNot}.</span> : null}
        </div>
        {method === 'lora' && continuable(adapter, model?.source) ? (
          <div className="field">
            <label htmlFor={ids.startSelect}>Start from</label>
            <select id={ids.startSelect} value={startFrom} aria-describedby={ids.start} onChange={(e) => setStartFrom(e.target.value as 'fresh' | 'current')}>
              <option value="fresh">A fresh adapter</option>
              <option value="current">The current adapter (rank {adapter.spec.r} on {adapter.spec.targetModules.join(', ')})</option>
            </select>
            <span id={ids.start} className="hint">
              {startFrom === 'current'
                ? `The run continues the ${adapter.origin === 'shared' ? 'shared' : 'trained'} adapter's weights, with its rank, alpha and target modules; DPO, KTO and GRPO still compare with the base model (the adapter switched off).`
                : 'A new adapter, initialised as PEFT does: it starts equal to the base model.'}
            </span>
          </div>
        ) : null}
        {soft ? (
          <div className="field">
            <label>
              Virtual tokens
              <input type="number" min={1} max={512} value={N} aria-describedby={ids.tokens} onChange={(e) => { const v = Math.round(Number(e.target.value)); if (v >= 1) setSoft({ ...soft, numVirtualTokens: v }); }} />
            </label>
            <span id={ids.tokens} className="hint">How many learned tokens go before each input (PEFT's num_virtual_tokens); each takes one position of the context.</span>
          </div>
        ) : null}
        {soft?.kind === 'prompt-tuning' ? (
          <div className="field">
            <label>
              Initial text
              <input type="text" value={soft.initText ?? ''} placeholder="(random start)" aria-describedby={ids.text} onChange={(e) => setSoft({ ...soft, init: e.target.value.trim() ? 'text' : 'random', initText: e.target.value.trim() ? e.target.value : null })} />
            </label>
            <span id={ids.text} className="hint">Start the virtual tokens as this text's embeddings (PEFT's TEXT init), e.g. a description of the task; empty starts random.</span>
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={ids.objectiveSelect}>Objective</label>
          <select id={ids.objectiveSelect} value={objective} aria-describedby={ids.objective} onChange={(e) => pickObjective(e.target.value as Objective)}>
            {OBJECTIVES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
          </select>
          <span id={ids.objective} className="hint">{o.hint}</span>
        </div>
        {objective === 'dpo' ? (
          <div className="field">
            <label>
              DPO beta
              <input type="number" min={0.001} step={0.01} value={train.dpoBeta ?? DEFAULT_DPO.beta} aria-describedby={ids.beta} onChange={(e) => { const v = Number(e.target.value); if (v > 0) setTrain({ dpoBeta: v }); }} />
            </label>
            <span id={ids.beta} className="hint">How far the tuned model may move from the base: smaller lets it move more (TRL's default 0.1).</span>
          </div>
        ) : null}
        {objective === 'kto' ? (
          <div className="field">
            <label>
              KTO beta
              <input type="number" min={0.001} step={0.01} value={train.kto?.beta ?? DEFAULT_KTO.beta} aria-describedby={ids.beta} onChange={(e) => { const v = Number(e.target.value); if (v > 0) setTrain({ kto: { ...(train.kto ?? DEFAULT_KTO), beta: v } }); }} />
            </label>
            <span id={ids.beta} className="hint">Scale of the implicit reward log(p / p_base): smaller lets the model move further (TRL's default 0.1).</span>
          </div>
        ) : null}
        {objective === 'orpo' ? (
          <div className="field">
            <label>
              ORPO lambda
              <input type="number" min={0} step={0.05} value={train.orpoLambda ?? DEFAULT_ORPO_LAMBDA} aria-describedby={ids.beta} onChange={(e) => { const v = Number(e.target.value); if (v >= 0) setTrain({ orpoLambda: v }); }} />
            </label>
            <span id={ids.beta} className="hint">Weight of the odds-ratio push beside the chosen answers' loss (TRL's default 0.1).</span>
          </div>
        ) : null}
      </div>
      {pairsMissing ? <p role="alert" className="error">{needs?.what}; the loaded file is {dataset?.format ?? 'of unknown format'}.</p> : null}
      {promptsMissing ? <p role="alert" className="error">GRPO needs plain-text prompts (prompt lines, or prompt / completion rows); the loaded file is {dataset?.format ?? 'of unknown format'}.</p> : null}
      {answersMissing ? <p role="alert" className="error">The loaded file holds prompts only: pick GRPO, which samples the answers, or load a file with answers.</p> : null}
      {objective === 'grpo' ? <GrpoSettingsForm /> : null}
    </fieldset>
  );
}
