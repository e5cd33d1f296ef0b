// npm run train: the browser's trainer in Node. Reads a model and a dataset file, trains an adapter
// (LoRA, prompt or prefix tuning) or every weight, prints one JSON line per step and writes PEFT files
// (or a model folder) and resumable checkpoints. Flags, output and exit status: SPEC below
// (`npm run train -- --help`).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseCli, type CliOption, type CliSpec } from './usage';
import { initNodeBackend, openModelFiles } from './node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { parseDataset, splitTrainValidation, type DatasetSummary } from '../src/data/dataset';
import { ColumnMappingError, parseColumnsFlag, type ColumnMapping } from '../src/data/columns';
import { openDatasetFile } from './dataset-file';
import { LoraAdapter } from '../src/train/lora';
import { SoftPromptAdapter } from '../src/train/soft-prompt';
import { toPromptPeftFiles } from '../src/adapters/peft-prompt';
import type { SoftPromptSpec } from '../src/adapters/soft-prompt-types';
import type { ModelConfig } from '../src/model/config';
import { Trainer, TrainingDivergedError, type TrainerState } from '../src/train/trainer';
import { DEFAULT_TRAIN, type RewardSource, type TrainSettings } from '../src/train/settings';
import { parseTargets } from '../src/train/presets';
import {
  CHECKPOINT_FORMAT, CHECKPOINT_JSON_FILE, CHECKPOINT_TENSORS_FILE, checkpointFromFiles, checkpointToFiles, emptyHistory, examplesFingerprint, type TrainCheckpoint,
} from '../src/train/checkpoint';
import { parseConfig } from '../src/model/config';
import { toPeftFiles, familyProvenance, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../src/adapters/peft';
import type { LoraSpec } from '../src/adapters/lora-types';
import type { DpoMetrics } from '../src/train/dpo';
import { runReward, writeRunRecord } from './run-record-files';
import { defaultPrecision, type BasePrecision } from '../src/model/load';
import { memoryPlan, memoryPlanMessage, type RecomputeSetting } from '../src/train/memory-plan';
import { isOutOfMemory } from '../src/train/out-of-memory';
import { resumeSettings, type MicroBatch } from '../src/train/resume-settings';
import { FullFineTune, fullExportTensors, type FullSpec } from '../src/train/full-finetune';
import { writeHfModel, type HfModelOptions } from '../src/export/hf-model';
import type { ModelFileSet } from '../src/model/files';
import { NodeFolderSink } from './file-sink';
import { OBJECTIVE_OPTIONS, figureFields, objectiveSettings, rewardScorer } from './objective-flags';
import { parsePromptRowStream, promptColumnFlag } from '../src/data/prompt-rows';
import { DatasetLineError } from '../src/data/formats';
import { labelFindings, promptRoomFindings, rewardFindings } from '../src/data/preflight-objectives';
import type { PreflightFinding } from '../src/data/preflight';
import { RewardError, type RewardScorer } from '../src/train/objectives/reward';

class UsageError extends Error {
  override name = 'UsageError';
}

/** --columns as a mapping; a malformed one is a usage error. */
function columnsOption(flag: string): ColumnMapping {
  try {
    return parseColumnsFlag(flag, { answers: true });
  } catch (e) {
    throw e instanceof ColumnMappingError ? new UsageError(e.message) : e;
  }
}
class BadDataError extends Error {
  override name = 'BadDataError';
}

const KEEP_CHECKPOINTS = 3;

const SPEC = {
  command: 'npm run train --',
  summary: 'Trains on a dataset file as the Train step does, in Node: LoRA (default), prompt or prefix tuning, or full fine-tuning;\nSFT, DPO, KTO, ORPO or GRPO. Writes the PEFT adapter (or a model folder for --method full) in --out.',
  options: {
    model: { type: 'string', value: '<folder|base URL>', help: 'Hugging Face model folder or base URL (required).' },
    data: { type: 'string', value: '<file>', help: 'Training data: .jsonl, .jsonl.gz, .json (array), .csv, .tsv or .parquet (required unless --dry-run).' },
    out: { type: 'string', value: '<folder>', help: 'Where the adapter (or model folder) and the checkpoints go (required unless --dry-run).' },
    columns: { type: 'string', value: 'field=column,...', help: 'Map the file\'s columns to a format\'s fields, e.g. prompt=question,completion=answer (GRPO: prompt=<column> only).' },
    steps: { type: 'string', value: 'N', help: `Optimizer steps (default ${DEFAULT_TRAIN.steps}); not with --epochs.` },
    epochs: { type: 'string', value: 'E', help: 'Passes over the training rows; decides the step count.' },
    seed: { type: 'string', value: 'S', help: `Fixes initialisation, data order and dropout (default ${DEFAULT_TRAIN.seed}).` },
    method: { type: 'string', value: 'lora|prompt-tuning|prefix-tuning|full', help: 'What is trained (default lora).' },
    rank: { type: 'string', value: 'R', help: 'LoRA rank (default 8).' },
    alpha: { type: 'string', value: 'A', help: 'LoRA alpha (default 16).' },
    dropout: { type: 'string', value: 'P', help: 'LoRA dropout (default 0).' },
    rslora: { type: 'boolean', default: false, help: 'Scale by alpha / sqrt(rank) (rsLoRA) instead of alpha / rank.' },
    targets: { type: 'string', value: 'q_proj,v_proj|qv|attention|all-linear', help: 'Modules that get LoRA (default q_proj,v_proj).' },
    'virtual-tokens': { type: 'string', value: 'N', help: 'Prompt/prefix tuning: virtual tokens (default 8).' },
    'init-text': { type: 'string', value: '"..."', help: 'Prompt tuning: start the virtual tokens from this text.' },
    dtype: { type: 'string', value: 'auto|F32|F16|BF16', help: 'Full fine-tuning: dtype of the written model (default: the checkpoint\'s).' },
    lr: { type: 'string', value: 'X', help: `Peak learning rate (default ${DEFAULT_TRAIN.learningRate}).` },
    schedule: { type: 'string', value: 'cosine|linear|constant', help: `Learning-rate schedule after warmup (default ${DEFAULT_TRAIN.schedule}).` },
    warmup: { type: 'string', value: 'N', help: `Warmup steps (default ${DEFAULT_TRAIN.warmupSteps}).` },
    'weight-decay': { type: 'string', value: 'W', help: `AdamW weight decay (default ${DEFAULT_TRAIN.adamw.weightDecay}).` },
    'max-grad-norm': { type: 'string', value: 'G', help: `Clip the global gradient norm; 0 disables (default ${DEFAULT_TRAIN.maxGradNorm}).` },
    batch: { type: 'string', value: 'B', help: `Sequences per micro-batch (default ${DEFAULT_TRAIN.batchSize}).` },
    'grad-accum': { type: 'string', value: 'K', help: 'Micro-batches per optimizer step (default 1).' },
    'max-len': { type: 'string', value: 'T', help: `Tokens per sequence; longer rows are cut (default ${DEFAULT_TRAIN.seqLen}).` },
    'eval-every': { type: 'string', value: 'N', help: 'Evaluate on the held-out rows every N steps and after the last (default 0: never).' },
    'val-percent': { type: 'string', value: 'P', help: 'Percent of the rows held out for validation (default 10 with --eval-every, else 0).' },
    'checkpoint-every': { type: 'string', value: 'N', help: 'Write <out>/checkpoint-<step>/ every N steps (the last 3 are kept; always at the end).' },
    resume: { type: 'string', value: '<checkpoint folder>', help: 'Continue a run from its checkpoint (only --batch/--grad-accum may change).' },
    'stop-at': { type: 'string', value: 'K', help: 'Stop (resumably) after step K.' },
    'skip-bad-lines': { type: 'boolean', default: false, help: 'Train on the good rows when some are malformed (default: stop and name them).' },
    ...OBJECTIVE_OPTIONS,
    backend: { type: 'string', default: 'wasm', value: 'wasm|cpu', help: 'tfjs backend.' },
    precision: { type: 'string', default: 'auto', value: 'fp32|nf4|auto', help: 'Frozen base precision (auto: NF4 above 4 MB of weights).' },
    head: { type: 'string', default: 'fp32', value: 'fp32|int8', help: 'Frozen output head: fp32, or an int8 table (less memory).' },
    recompute: { type: 'string', default: 'auto', value: 'auto|on|off|N', help: 'Recompute layers in the backward pass: auto (the fewest that fit the budget), all, none, or the first N.' },
    loss: { type: 'string', default: 'fused', value: 'fused|plain', help: 'Cross-entropy fused with the head in chunks, or over full logits.' },
    'dry-run': { type: 'boolean', default: false, help: 'Print the memory plan as JSON and exit before reading weights.' },
    'ignore-memory-limit': { type: 'boolean', default: false, help: 'Start even when the plan says the step will not fit.' },
  },
  examples: [
    'npm run train -- --model ../shared/models/stories260K --data data.jsonl --out out/run1 --steps 30',
    'npm run train -- --model ./smollm2 --data hub.parquet --columns prompt=question,completion=answer --out out/qa --epochs 1',
    'npm run train -- --model ./smollm2 --data pairs.jsonl --objective dpo --beta 0.1 --out out/dpo',
    'npm run train -- --model ./smollm2 --data prompts.jsonl --objective grpo --reward builtin:json --out out/grpo',
    'npm run train -- --model ./smollm2 --batch 8 --max-len 512 --dry-run',
  ],
  notes: [
    'stdout: one JSON line per optimizer step {"step","loss","lr","grad_norm","tokens", ...the objective\'s figures},',
    'and {"eval_loss","eval_perplexity","step"} when evaluating. Writes <out>/checkpoint-<step>/ (resumable state + PEFT adapter).',
    'A configuration the plan says will not fit stops with the largest batch that does, unless --ignore-memory-limit.',
    'Exit status: 0 done or stopped, 1 bad input or usage, 3 diverged, 4 out of memory mid-run, 5 --dry-run plan does not fit, 130 interrupted.',
  ],
  usageStatus: 1,
} satisfies CliSpec<Record<string, CliOption>>;

function num(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag}: expected a number, got "${v}"`);
  return n;
}

/** The PEFT files of a LoRA run, or of a soft-prompt run when `soft` is given. */
async function writeAdapter(dir: string, spec: LoraSpec, state: TrainerState, fingerprint: string, soft: { spec: SoftPromptSpec; config: ModelConfig } | null, family: Record<string, string>): Promise<void> {
  const provenance = { trained_with: 'browser-finetune-studio cli', base_model_fingerprint: fingerprint, ...family };
  const f = soft && state.soft ? toPromptPeftFiles(soft.spec, soft.config, state.soft, provenance) : toPeftFiles(spec, state.adapter, provenance);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, ADAPTER_CONFIG_FILE), f.adapterConfigJson);
  await writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), f.adapterSafetensors);
}

/** A full fine-tuning run's result (the weights in `state`) as a Hugging Face model folder: config.json, model.safetensors, tokenizer files. */
async function writeFullModel(dir: string, files: ModelFileSet, state: TrainerState, dtype: NonNullable<HfModelOptions['dtype']>): Promise<void> {
  if (!state.full) throw new Error('writeFullModel: the state holds no full fine-tuning weights');
  await writeHfModel(new NodeFolderSink(dir), { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tensors: await fullExportTensors(files, state.full) }, {
    dtype, metadata: { trained_with: 'browser-finetune-studio cli', base_model_fingerprint: files.fingerprint },
  });
}

/** TRL's names for the DPO metrics (rewards/chosen ...), as JSON fields. */
function dpoFields(m: DpoMetrics, prefix = ''): Record<string, number> {
  return { [`${prefix}rewards_chosen`]: m.rewardChosen, [`${prefix}rewards_rejected`]: m.rewardRejected, [`${prefix}rewards_margin`]: m.margin, [`${prefix}rewards_accuracy`]: m.accuracy };
}

async function main(): Promise<number> {
  const { values: v } = parseCli(SPEC);
  const choice = <T extends string>(flag: string, value: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: expected ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
  const precisionFlag = choice('precision', v.precision!, ['fp32', 'nf4', 'auto'] as const);
  const head = choice('head', v.head!, ['fp32', 'int8'] as const);
  const recomputeFlag: RecomputeSetting = /^\d+$/.test(v.recompute!) ? Number(v.recompute) : choice('recompute', v.recompute!, ['on', 'off', 'auto'] as const);
  const lossFlag = choice('loss', v.loss!, ['fused', 'plain'] as const);
  if (!v.model || (!v['dry-run'] && (!v.data || !v.out))) throw new UsageError('--model <folder or base URL>, --data <file.jsonl> and --out <folder> are required (--dry-run needs only --model)');
  // Checked before any weight is read. GRPO reads one column, the prompt (--columns prompt=<column>).
  const grpo = v.objective === 'grpo';
  const columns = v.columns === undefined || grpo ? null : columnsOption(v.columns);
  const promptColumn = grpo && v.columns !== undefined ? grpoPromptColumn(v.columns) : 'prompt';
  if (v.steps && v.epochs) throw new UsageError('give --steps or --epochs, not both');
  const backend = await initNodeBackend(v.backend === 'cpu' ? 'cpu' : 'wasm');
  process.stderr.write(`backend: ${backend}\n`);

  const resumed: TrainCheckpoint | null = v.resume
    ? await checkpointFromFiles(await readFile(path.join(v.resume, CHECKPOINT_JSON_FILE), 'utf8'), new Uint8Array(await readFile(path.join(v.resume, CHECKPOINT_TENSORS_FILE))), v.resume)
    : null;
  const schedule = v.schedule ?? 'cosine';
  if (!['cosine', 'linear', 'constant'].includes(schedule)) throw new UsageError(`--schedule: expected cosine, linear or constant, got "${schedule}"`);
  const objectiveFlags = objectiveSettings(v);
  const settings: TrainSettings = resumed
    ? resumeSettings(resumed.settings, v.batch ? resumedMicroBatch(resumed.settings, v.batch, v['grad-accum']) : null)
    : {
        ...DEFAULT_TRAIN,
        steps: Math.round(num(v.steps, 'steps', DEFAULT_TRAIN.steps)),
        epochs: num(v.epochs, 'epochs', 0),
        seed: Math.round(num(v.seed, 'seed', DEFAULT_TRAIN.seed)),
        learningRate: num(v.lr, 'lr', DEFAULT_TRAIN.learningRate),
        schedule: schedule as TrainSettings['schedule'],
        warmupSteps: Math.round(num(v.warmup, 'warmup', DEFAULT_TRAIN.warmupSteps)),
        maxGradNorm: num(v['max-grad-norm'], 'max-grad-norm', DEFAULT_TRAIN.maxGradNorm),
        adamw: { ...DEFAULT_TRAIN.adamw, weightDecay: num(v['weight-decay'], 'weight-decay', DEFAULT_TRAIN.adamw.weightDecay) },
        batchSize: Math.round(num(v.batch, 'batch', DEFAULT_TRAIN.batchSize)),
        gradAccum: Math.round(num(v['grad-accum'], 'grad-accum', 1)),
        seqLen: Math.round(num(v['max-len'], 'max-len', DEFAULT_TRAIN.seqLen)),
        evalEvery: Math.round(num(v['eval-every'], 'eval-every', 0)),
        checkpointEvery: Math.round(num(v['checkpoint-every'], 'checkpoint-every', 0)),
        ...objectiveFlags,
      };
  if (resumed && (v.steps || v.epochs || v.lr || v.rank || v.targets || v.seed)) process.stderr.write('note: resuming uses the checkpoint\'s settings (only --batch / --grad-accum may change, keeping batch x accumulation); other training flags are ignored\n');

  // The plan needs only config.json, so a dry run works on a folder (or URL) without weights.
  const cfg = parseConfig(JSON.parse(/^https?:\/\//.test(v.model) ? await (await fetch(`${v.model.replace(/\/+$/, '')}/config.json`)).text() : await readFile(path.join(v.model, 'config.json'), 'utf8')));
  const precision: BasePrecision = precisionFlag === 'auto' ? defaultPrecision(cfg) : precisionFlag;
  settings.recompute = resumed ? (settings.recompute ?? recomputeFlag) : recomputeFlag;
  settings.loss = resumed ? (settings.loss ?? lossFlag) : lossFlag;
  const targetsForPlan = resumed ? resumed.lora.targetModules : parseTargets(v.targets ?? 'q_proj,v_proj');
  const plan = memoryPlan({
    config: cfg, precision, head, backend: backend === 'cpu' ? 'cpu' : 'wasm', rank: resumed ? resumed.lora.r : Math.round(num(v.rank, 'rank', 8)), targets: targetsForPlan,
    batchSize: settings.batchSize, seqLen: settings.seqLen, gradAccum: settings.gradAccum, recompute: settings.recompute, loss: settings.loss, examples: 1, steps: settings.steps,
  });
  const planJson = { precision, head, loss: settings.loss, recompute: plan.recompute, recompute_layers: plan.recomputeLayers, fits: plan.fits, budget_bytes: plan.budgetBytes, memory: plan.estimate.memory, suggestion: plan.suggestion, seconds_per_step: plan.estimate.secondsPerStep };
  if (v['dry-run']) {
    process.stdout.write(JSON.stringify(planJson) + '\n');
    return plan.fits ? 0 : 5;
  }
  process.stderr.write(`memory plan: ${precision} base, ${head} head, ${settings.loss} loss, recompute ${plan.recomputeLayers} of ${cfg.numLayers} layers, about ${(plan.estimate.memory.peakBackend / 1024 ** 2).toFixed(0)} MB of backend memory at the peak\n`);
  if (!v.data || !v.out) throw new UsageError('--data <file.jsonl> and --out <folder> are required');
  const files = await openModelFiles(v.model);
  const tooBig = memoryPlanMessage(plan, { batchSize: settings.batchSize, seqLen: settings.seqLen, backend: backend === 'cpu' ? 'cpu' : 'wasm' });
  if (tooBig && !v['ignore-memory-limit']) throw new UsageError(`${tooBig} Pass --batch/--grad-accum accordingly, or --ignore-memory-limit to try anyway.`);
  if (settings.recompute === 'auto') settings.recompute = plan.recomputeLayers; // the plan's count, from the same estimate
  if (resumed && resumed.base.fingerprint !== files.fingerprint) {
    throw new UsageError(`${v.resume}: the checkpoint was trained on ${resumed.base.source} (fingerprint ${resumed.base.fingerprint}), not on ${v.model} (${files.fingerprint})`);
  }
  // GRPO's reward: --reward, or on resume the one kept with the checkpoint (a module's source is written back to a file).
  const rewardSpec = settings.grpo ? (v.reward ?? (settings.grpo.reward ? await rewardFileOf(settings.grpo.reward) : undefined)) : undefined;
  if (settings.grpo && !rewardSpec) throw new UsageError('--reward: this GRPO run keeps no reward in its checkpoint; pass --reward <file.mjs|builtin:...> again');
  if (settings.grpo && v.reward) settings.grpo.reward = v.reward.startsWith('builtin:') ? { kind: 'builtin', spec: v.reward } : { kind: 'module', name: path.basename(v.reward), code: await readFile(v.reward, 'utf8') };
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const model = await loadModel(files, { precision, headPrecision: head });

  const summary = settings.objective === 'grpo'
    ? await promptRowsSummary(v.data, promptColumn, tokenizer)
    : await openDatasetFile(v.data).then((f) => parseDataset(f.stream, {
        fileName: f.fileName, bytesTotal: f.bytesTotal, randomAccess: f.randomAccess, columns, tokenizer, maxLength: settings.seqLen + 1,
      }));
  for (const e of summary.errors) process.stderr.write(`${v.data}:${e.line}: ${e.error}\n`);
  if (summary.invalid > 0 && !v['skip-bad-lines']) throw new BadDataError(`${v.data}: ${summary.invalid} of ${summary.lines} lines are invalid (see above); fix them or pass --skip-bad-lines`);
  if (summary.examples.length === 0) throw new BadDataError(`${v.data}: no usable training examples (${summary.lines} lines, ${summary.valid} valid)`);
  const valPercent = num(v['val-percent'], 'val-percent', settings.evalEvery > 0 ? 10 : 0);
  const { train, validation } = splitTrainValidation(summary.examples, valPercent, settings.seed);
  const dataFingerprint = examplesFingerprint(train);
  if (resumed?.dataFingerprint && resumed.dataFingerprint !== dataFingerprint) throw new BadDataError(`${v.data}: not the data the checkpoint in ${v.resume} was trained on (fingerprint ${dataFingerprint}, expected ${resumed.dataFingerprint})`);

  const spec: LoraSpec = resumed
    ? resumed.lora
    : {
        r: Math.round(num(v.rank, 'rank', 8)), alpha: num(v.alpha, 'alpha', 16), dropout: num(v.dropout, 'dropout', 0),
        targetModules: parseTargets(v.targets ?? 'q_proj,v_proj'), useRslora: v.rslora ?? false, baseModel: v.model,
      };
  const method = resumed ? (resumed.full ? 'full' : (resumed.soft?.kind ?? 'lora')) : (v.method ?? 'lora');
  if (!['lora', 'full', 'prompt-tuning', 'prefix-tuning'].includes(method)) throw new UsageError(`--method: expected lora, full, prompt-tuning or prefix-tuning, got "${method}"`);
  if ((method === 'lora' || method === 'full') && (v['virtual-tokens'] || v['init-text'])) throw new UsageError('--virtual-tokens and --init-text apply to --method prompt-tuning or prefix-tuning');
  const dtype = (v.dtype ?? 'auto') as NonNullable<HfModelOptions['dtype']>;
  if (!['auto', 'F32', 'F16', 'BF16'].includes(dtype)) throw new UsageError(`--dtype: expected auto, F32, F16 or BF16, got "${v.dtype}"`);
  if (v.dtype && method !== 'full') throw new UsageError('--dtype applies to --method full only (adapters are written in fp32)');
  const fullSpec: FullSpec | null = resumed?.full ?? (method === 'full' ? { kind: 'full', baseModel: v.model } : null);
  if (method === 'prefix-tuning' && v['init-text']) throw new UsageError('--init-text applies to prompt tuning only (prefix tuning starts random, as in PEFT)');
  const softSpec: SoftPromptSpec | null = resumed?.soft
    ?? (method === 'lora' || method === 'full' ? null : {
      kind: method as SoftPromptSpec['kind'], numVirtualTokens: Math.round(num(v['virtual-tokens'], 'virtual-tokens', 8)),
      init: v['init-text'] ? 'text' : 'random', initText: v['init-text'] ?? null, baseModel: v.model,
    });
  if (softSpec && !(softSpec.numVirtualTokens >= 1)) throw new UsageError(`--virtual-tokens: expected a positive integer, got "${v['virtual-tokens']}"`);
  const soft = softSpec ? { spec: softSpec, config: model.config } : null;
  const adapter = softSpec
    ? SoftPromptAdapter.create(model, softSpec, settings.seed, softSpec.initText ? tokenizer.encode(softSpec.initText) : undefined)
    : fullSpec ? await FullFineTune.create(files, model)
    : LoraAdapter.create(model.config, spec, settings.seed);
  const reward: RewardScorer | null = settings.grpo ? rewardScorer(rewardSpec!, settings.grpo.rewardTimeoutMs) : null;
  if (settings.kto) preflight(labelFindings(train, settings.kto));
  if (settings.grpo) preflight(promptRoomFindings(train, settings.seqLen, settings.grpo.maxNewTokens));
  let rewardsChecked = false;
  const onRewards = (rewards: number[], lines: number[]) => {
    if (!rewardsChecked) preflight(rewardFindings(rewards, lines));
    rewardsChecked = true;
  };
  const trainer = new Trainer(model, adapter, train, settings, validation, reward ? { reward, text: { eosTokenId: tokenizer.eosTokenId, decode: (ids) => tokenizer.decode(ids) }, onRewards } : {});
  if (resumed) trainer.restore(resumed.state);
  const history = resumed?.history ?? emptyHistory();
  const stopAt = v['stop-at'] ? Math.round(num(v['stop-at'], 'stop-at', 0)) : null;
  const t0 = Date.now() - (resumed?.elapsedMs ?? 0);
  const runId = resumed?.runId ?? `run-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await mkdir(v.out, { recursive: true });
  // What `npm run export -- --format bundle --run <out>` needs to continue this run elsewhere.
  await writeRunRecord(v.out, {
    dataFile: v.data, summary, train, validation, model: { source: files.source, fingerprint: files.fingerprint, config: model.config }, lora: spec, settings, basePrecision: precision,
    ...(settings.grpo ? { grpo: { reward: await runReward(rewardSpec!), promptColumn } } : {}),
  });

  let lastGood: string | null = resumed ? v.resume! : null;
  const savedDirs: { step: number; dir: string }[] = resumed ? [{ step: resumed.state.step, dir: v.resume! }] : [];
  const saveCheckpoint = async (state: TrainerState) => {
    const c: TrainCheckpoint = {
      format: CHECKPOINT_FORMAT, runId, savedAt: Date.now(), base: { source: files.source, fingerprint: files.fingerprint },
      lora: spec, ...(softSpec ? { soft: softSpec } : {}), ...(fullSpec ? { full: fullSpec } : {}), settings, totalSteps: trainer.totalSteps, elapsedMs: Date.now() - t0, state, history, dataFingerprint,
    };
    const dir = path.join(v.out!, `checkpoint-${state.step}`);
    const f = checkpointToFiles(c);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, CHECKPOINT_TENSORS_FILE), f.tensors);
    await writeFile(path.join(dir, CHECKPOINT_JSON_FILE), f.json); // last: its presence marks a complete checkpoint
    if (fullSpec) await writeFullModel(dir, files, state, dtype);
    else await writeAdapter(dir, spec, state, files.fingerprint, soft, familyProvenance(parseConfig(files.config)));
    lastGood = dir;
    savedDirs.push({ step: state.step, dir });
    // Keep the newest few (and never the one we resumed from: it is the user's).
    const all = (await readdir(v.out!)).filter((d) => /^checkpoint-\d+$/.test(d)).sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]));
    for (const old of all.slice(0, Math.max(0, all.length - KEEP_CHECKPOINTS))) {
      if (path.resolve(v.out!, old) !== path.resolve(v.resume ?? '')) await rm(path.join(v.out!, old), { recursive: true, force: true });
    }
  };

  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true;
    trainer.requestStop();
  });
  const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  let reason: 'completed' | 'stopped';
  try {
    reason = await trainer.run({
      onStep: (r) => {
        history.steps.push(r.step);
        history.loss.push(r.loss);
        history.lr.push(r.lr);
        history.gradNorm.push(r.gradNorm);
        history.tokensPerSec.push(r.tokensPerSec);
        if (r.dpo) (history.dpoTrain ??= []).push({ step: r.step, ...r.dpo });
        out({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens: r.tokens, ...(r.dpo ? dpoFields(r.dpo) : {}), ...figureFields(r.figures) });
        if (stopAt !== null && r.step >= stopAt) trainer.requestStop();
      },
      onEval: (e) => {
        history.evalSteps.push(e.step);
        history.evalLoss.push(e.loss);
        if (e.dpo) (history.dpoEval ??= []).push({ step: e.step, ...e.dpo });
        out(e.dpo ? { eval_loss: e.loss, ...dpoFields(e.dpo, 'eval_'), step: e.step } : e.figures ? { eval_loss: e.loss, ...figureFields(e.figures, 'eval_'), step: e.step } : { eval_loss: e.loss, eval_perplexity: e.perplexity, step: e.step });
      },
      onCheckpoint: saveCheckpoint,
    });
  } catch (e) {
    if (e instanceof RewardError) {
      // The step stopped before any weight changed: what the trainer holds is the last good adapter.
      await saveCheckpoint(await trainer.state());
      process.stderr.write(`${e.name}: ${e.message}\nThe step stopped before changing the adapter; the last good adapter is in ${lastGood}.\n`);
      return 1;
    }
    if (e instanceof TrainingDivergedError) {
      // Step d's runaway loss came from the weights after step d-1, so the last good checkpoint is at d-2 or before.
      const good = [...savedDirs].reverse().find((c) => c.step <= e.step - 2);
      process.stderr.write(`${e.name}: ${e.message}\n${good ? `Last good checkpoint: ${good.dir} (resume from it with a lower --lr)` : `No good checkpoint: the weights went bad right after step ${e.step - 1}; start again with a lower --lr.`}\n`);
      return 3;
    }
    if (isOutOfMemory(e)) {
      // The wasm heap is gone with the abort: nothing more can be read from it, but every checkpoint on disk is whole.
      process.stderr.write(`OutOfMemoryError: the ${backend} backend ran out of memory during training (${(e as Error).message}). ${lastGood ? `Resume from ${lastGood} with --resume and a smaller --batch (or --recompute on).` : 'No checkpoint was written yet; start again with a smaller --batch or --recompute on (or --checkpoint-every N to keep progress).'}\n`);
      return 4;
    }
    throw e;
  } finally {
    await reward?.close?.();
  }
  const state = await trainer.state();
  if (reason === 'stopped' || state.step % (settings.checkpointEvery || Infinity) !== 0) await saveCheckpoint(state);
  if (reason === 'completed') {
    if (fullSpec) await writeFullModel(v.out, files, state, dtype);
    else await writeAdapter(v.out, spec, state, files.fingerprint, soft, familyProvenance(parseConfig(files.config)));
  }
  process.stderr.write(`${reason === 'completed' ? 'done' : interrupted ? 'interrupted' : 'stopped'} after step ${state.step} of ${trainer.totalSteps}; ${reason === 'completed' ? `${fullSpec ? 'model folder' : 'adapter'} in ${v.out}, ` : ''}checkpoint in ${lastGood}\n`);
  return reason === 'stopped' && interrupted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    const usage = e.name === 'UsageError' ? ` (${SPEC.command} --help for every flag)` : '';
    process.stderr.write(`${e.name}: ${e.message}${usage}\n`);
    process.exit(1);
  },
);

/** --batch (and optionally --grad-accum) on resume: the accumulation defaults to what keeps the examples per step. */
function resumedMicroBatch(stored: TrainSettings, batchFlag: string, accumFlag: string | undefined): MicroBatch {
  const batchSize = Number(batchFlag);
  const per = stored.batchSize * stored.gradAccum;
  const gradAccum = accumFlag !== undefined ? Number(accumFlag) : per / batchSize;
  if (accumFlag === undefined && !Number.isInteger(gradAccum)) throw new UsageError(`--batch ${batchFlag}: this run takes ${per} examples per optimizer step, so on resume --batch must divide ${per}`);
  return { batchSize, gradAccum };
}

/** A kept reward as --reward takes it: a built-in's spec, or its module's source written to a temporary .mjs file. */
async function rewardFileOf(r: RewardSource): Promise<string> {
  if (r.kind === 'builtin') return r.spec;
  const dir = await mkdtemp(path.join(tmpdir(), 'studio-reward-'));
  const file = path.join(dir, r.name.endsWith('.mjs') ? r.name : `${r.name}.mjs`);
  await writeFile(file, r.code);
  return file;
}

/** --columns for GRPO: prompt=<column> only; anything else is a usage error. */
function grpoPromptColumn(flag: string): string {
  try {
    return promptColumnFlag(flag);
  } catch (e) {
    throw e instanceof DatasetLineError ? new UsageError(e.reason) : e;
  }
}

/** GRPO's prompt rows ({"prompt", ...}, any dataset file kind) as a dataset summary (the rest of the run reads only its counts and examples). */
async function promptRowsSummary(file: string, promptColumn: string, tokenizer: ReturnType<typeof loadTokenizer>): Promise<DatasetSummary> {
  const f = await openDatasetFile(file);
  const { rows, errors, lines, kind, gzip, unit } = await parsePromptRowStream(f.stream, tokenizer, { fileName: f.fileName, bytesTotal: f.bytesTotal, randomAccess: f.randomAccess, promptColumn });
  const fileName = f.fileName;
  const examples = rows.map((r) => ({ ...r, line: r.line ?? 0 }));
  return {
    fileName, format: null, lines, valid: rows.length, invalid: errors.length, errors: errors.map((e) => ({ line: e.line, error: e.reason, ...(e.field ? { field: e.field } : {}) })),
    examples, tokens: examples.reduce((a, r) => a + r.inputIds.length, 0), trainedTokens: 0, truncated: 0, dropped: 0, preview: [], lengths: null,
    fileKind: kind, gzip, unit, columns: [], mapping: null, // the prompt column is named by --columns, not a format mapping
  };
}

/** Preflight findings on stderr, one a line: severity, id, message, the lines it names, and the fix. */
function preflight(findings: PreflightFinding[]): void {
  for (const f of findings) process.stderr.write(`preflight ${f.severity} ${f.id}: ${f.message}${f.lines.length ? ` (lines ${f.lines.join(', ')})` : ''} Fix: ${f.fix}\n`);
}
