// npm run train -- --model <folder|base URL> --data <file.jsonl> --out <folder> [--steps N | --epochs E]
//   [--columns field=column,...] (--data may be .jsonl(.gz), .json, .csv, .tsv or .parquet; maps its columns, e.g. prompt=question,completion=answer)
//   [--seed S] [--rank R --alpha A --dropout P --rslora --targets q_proj,v_proj|qv|attention|all-linear]
//   [--lr X --schedule cosine|linear|constant --warmup N --weight-decay W --max-grad-norm G]
//   [--batch B --grad-accum K --max-len T] [--eval-every N --val-percent P] [--checkpoint-every N]
//   [--resume <checkpoint folder>] [--stop-at K] [--skip-bad-lines] [--backend wasm|cpu]
//   [--objective sft|dpo] [--beta B] (DPO: preference pairs; steps also print rewards_chosen/rejected, margin, accuracy)
//   [--objective kto] [--beta B --desirable-weight W --undesirable-weight W] ({"prompt","completion","label"} lines)
//   [--objective orpo] [--orpo-lambda L] (preference pairs, no reference model)
//   [--objective grpo --reward <file.mjs|builtin:exact|builtin:regex=RE|builtin:json|builtin:length=MIN-MAX>]
//     [--num-generations G --max-new-tokens N --temperature X --epsilon E --kl-beta B --reward-timeout-ms MS] ({"prompt", ...} lines)
//   (KTO, ORPO and GRPO steps print TRL's figures: rewards_chosen ..., or reward, reward_std, kl, completion_length)
//   [--method lora|prompt-tuning|prefix-tuning] [--virtual-tokens N] [--init-text "..."] (soft prompts: PEFT PROMPT_TUNING / PREFIX_TUNING files)
//   [--precision fp32|nf4|auto] [--head fp32|int8] [--recompute on|off|auto|N] [--loss fused|plain]
//   [--dry-run] [--ignore-memory-limit]
// --dry-run prints the memory plan as JSON ({"estimate", "recompute", "fits", "suggestion", ...}) and
// exits before loading weights; a configuration the estimate says will not fit stops with the
// largest batch that does, unless --ignore-memory-limit. Exit 4: the backend ran out of memory mid-run.
//   [--method full] [--dtype auto|F32|F16|BF16] (every weight trained; writes a Hugging Face model folder, the checkpoint's dtype by default)
// The browser's trainer, in Node. stdout: one JSON line per optimizer step {"step","loss","lr","grad_norm","tokens"}
// and {"eval_loss","eval_perplexity","step"} when evaluating. Writes <out>/checkpoint-<step>/ (resumable state +
// PEFT adapter) and, at the end, the PEFT adapter in <out>. Exit: 0 done or stopped, 1 bad input, 3 diverged.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
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
import { DEFAULT_TRAIN, type TrainSettings } from '../src/train/settings';
import { parseTargets } from '../src/train/presets';
import {
  CHECKPOINT_FORMAT, CHECKPOINT_JSON_FILE, CHECKPOINT_TENSORS_FILE, checkpointFromFiles, checkpointToFiles, emptyHistory, examplesFingerprint, type TrainCheckpoint,
} from '../src/train/checkpoint';
import { parseConfig } from '../src/model/config';
import { toPeftFiles, familyProvenance, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../src/adapters/peft';
import type { LoraSpec } from '../src/adapters/lora-types';
import type { DpoMetrics } from '../src/train/dpo';
import { writeRunRecord } from './run-record-files';
import { defaultPrecision, type BasePrecision } from '../src/model/load';
import { memoryPlan, memoryPlanMessage, type RecomputeSetting } from '../src/train/memory-plan';
import { isOutOfMemory } from '../src/train/out-of-memory';
import { resumeSettings, type MicroBatch } from '../src/train/resume-settings';
import { FullFineTune, fullExportTensors, type FullSpec } from '../src/train/full-finetune';
import { writeHfModel, type HfModelOptions } from '../src/export/hf-model';
import type { ModelFileSet } from '../src/model/files';
import { NodeFolderSink } from './file-sink';
import { OBJECTIVE_OPTIONS, figureFields, objectiveSettings, rewardScorer } from './objective-flags';
import { parsePromptRows } from '../src/data/prompt-rows';
import { labelFindings, promptRoomFindings, rewardFindings } from '../src/data/preflight-objectives';
import type { PreflightFinding } from '../src/data/preflight';
import { RewardError, type RewardScorer } from '../src/train/objectives/reward';

class UsageError extends Error {
  override name = 'UsageError';
}

/** --columns as a mapping; a malformed one is a usage error. */
function columnsOption(flag: string): ColumnMapping {
  try {
    return parseColumnsFlag(flag);
  } catch (e) {
    throw e instanceof ColumnMappingError ? new UsageError(e.message) : e;
  }
}
class BadDataError extends Error {
  override name = 'BadDataError';
}

const KEEP_CHECKPOINTS = 3;

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
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, columns: { type: 'string' },
      steps: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' },
      rank: { type: 'string' }, alpha: { type: 'string' }, dropout: { type: 'string' }, rslora: { type: 'boolean', default: false }, targets: { type: 'string' },
      lr: { type: 'string' }, schedule: { type: 'string' }, warmup: { type: 'string' }, 'weight-decay': { type: 'string' }, 'max-grad-norm': { type: 'string' },
      batch: { type: 'string' }, 'grad-accum': { type: 'string' }, 'max-len': { type: 'string' },
      'eval-every': { type: 'string' }, 'val-percent': { type: 'string' }, 'checkpoint-every': { type: 'string' },
      ...OBJECTIVE_OPTIONS,
      method: { type: 'string' }, dtype: { type: 'string' }, 'virtual-tokens': { type: 'string' }, 'init-text': { type: 'string' },
      resume: { type: 'string' }, 'stop-at': { type: 'string' }, 'skip-bad-lines': { type: 'boolean', default: false }, backend: { type: 'string', default: 'wasm' },
      precision: { type: 'string', default: 'auto' }, head: { type: 'string', default: 'fp32' }, recompute: { type: 'string', default: 'auto' }, loss: { type: 'string', default: 'fused' },
      'dry-run': { type: 'boolean', default: false }, 'ignore-memory-limit': { type: 'boolean', default: false },
    },
  });
  const choice = <T extends string>(flag: string, value: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: expected ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
  const precisionFlag = choice('precision', v.precision!, ['fp32', 'nf4', 'auto'] as const);
  const head = choice('head', v.head!, ['fp32', 'int8'] as const);
  const recomputeFlag: RecomputeSetting = /^\d+$/.test(v.recompute!) ? Number(v.recompute) : choice('recompute', v.recompute!, ['on', 'off', 'auto'] as const);
  const lossFlag = choice('loss', v.loss!, ['fused', 'plain'] as const);
  if (!v.model || (!v['dry-run'] && (!v.data || !v.out))) throw new UsageError('--model <folder or base URL>, --data <file.jsonl> and --out <folder> are required (--dry-run needs only --model)');
  const columns = v.columns === undefined ? null : columnsOption(v.columns); // checked before any weight is read
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
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const model = await loadModel(files, { precision, headPrecision: head });

  const summary = settings.objective === 'grpo'
    ? promptRowsSummary(path.basename(v.data), await readFile(v.data, 'utf8'), tokenizer)
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
  const reward: RewardScorer | null = settings.grpo ? rewardScorer(v.reward!, settings.grpo.rewardTimeoutMs) : null;
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
  await writeRunRecord(v.out, { dataFile: v.data, summary, train, validation, model: { source: files.source, fingerprint: files.fingerprint, config: model.config }, lora: spec, settings });

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
    process.stderr.write(`${e.name}: ${e.message}\n`);
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

/** GRPO's prompt rows ({"prompt", ...}) as a dataset summary (the rest of the run reads only its counts and examples). */
function promptRowsSummary(fileName: string, text: string, tokenizer: ReturnType<typeof loadTokenizer>): DatasetSummary {
  const { rows, errors, lines } = parsePromptRows(text, tokenizer);
  const examples = rows.map((r) => ({ ...r, line: r.line ?? 0 }));
  return {
    fileName, format: null, lines, valid: rows.length, invalid: errors.length, errors: errors.map((e) => ({ line: e.line, error: e.reason, ...(e.field ? { field: e.field } : {}) })),
    examples, tokens: examples.reduce((a, r) => a + r.inputIds.length, 0), trainedTokens: 0, truncated: 0, dropped: 0, preview: [], lengths: null,
    fileKind: 'jsonl', gzip: false, unit: 'line', columns: [], mapping: null, // prompt rows are JSONL, never mapped
  };
}

/** Preflight findings on stderr, one a line: severity, id, message, the lines it names, and the fix. */
function preflight(findings: PreflightFinding[]): void {
  for (const f of findings) process.stderr.write(`preflight ${f.severity} ${f.id}: ${f.message}${f.lines.length ? ` (lines ${f.lines.join(', ')})` : ''} Fix: ${f.fix}\n`);
}
