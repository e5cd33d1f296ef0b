// One training run as the app drives it: a Trainer plus its checkpoints (every N steps, at pause and
// stop, kept in memory as the last good state), sample generations from fixed prompts, and the run's
// record for the history list. Storage is injected (IndexedDB in the worker), so this runs in Node too.
import type { ChatTurn } from '../data/chat-turns';
import { type LlamaModel } from '../model/llama';
import { generateRows } from '../model/generate-rows';
import type { LoraSpec, LoraWeights } from '../adapters/lora-types';
import { LoraAdapter } from './lora';
import { SoftPromptAdapter } from './soft-prompt';
import { FullFineTune, type FullSpec } from './full-finetune';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import { type TrainableAdapter } from './trainable';
import { Trainer, TrainingDivergedError, type EvalReport, type StepReport, type TrainerExtras, type TrainerState } from './trainer';
import { type TrainSettings } from './settings';
import type { TokenizedExample } from './batches';
import type { ColumnMapping } from '../data/columns';
import * as tf from '@tensorflow/tfjs';
import { isOutOfMemory, outOfMemoryMessage, OutOfMemoryError } from './out-of-memory';
import { CHECKPOINT_FORMAT, emptyHistory, examplesFingerprint, type TrainCheckpoint, type TrainHistory } from './checkpoint';

export type RunStatus = 'running' | 'paused' | 'completed' | 'stopped' | 'diverged';

/** What the run history lists: settings and outcome, no tensors. */
export interface RunRecord {
  runId: string;
  createdAt: number;
  updatedAt: number;
  status: RunStatus;
  base: { source: string; fingerprint: string };
  lora: LoraSpec;
  /** Prompt / prefix tuning runs: the soft prompt trained instead of LoRA. */
  soft?: SoftPromptSpec;
  /** Full fine-tuning runs. */
  full?: FullSpec;
  settings: TrainSettings;
  totalSteps: number;
  /** Steps done (at the last checkpoint when not running). */
  step: number;
  /** Step of the newest checkpoint, null before the first. */
  checkpointStep: number | null;
  finalLoss: number | null;
  lastEvalLoss: number | null;
  message: string | null;
  /** The run paused because the backend ran out of memory (the app then offers a smaller micro-batch). */
  outOfMemory?: boolean;
  /** The dataset it trained on: the file's name and kind, and the column mapping used (given or detected), if any. */
  data?: RunDataSource;
  /** Set when the run continued an adapter instead of starting fresh: which one. */
  startedFrom?: string;
}

export interface RunDataSource {
  fileName: string;
  fileKind: string | null;
  columns: (ColumnMapping & { source: 'given' | 'detected' }) | null;
}

export interface RunStore {
  saveCheckpoint(c: TrainCheckpoint): Promise<void>;
  saveRecord(r: RunRecord): Promise<void>;
}

export interface SampleReport {
  step: number;
  /** turns and reply: for chat-rendered prompts, the prompt as turns and the new text alone. */
  samples: { prompt: string; text: string; turns?: ChatTurn[]; reply?: string }[];
}

export interface RunEvents {
  onStep(r: StepReport): void;
  onEval?(r: EvalReport): void;
  onSample?(r: SampleReport): void;
  onCheckpoint?(step: number): void;
}

export interface RunSetup {
  model: LlamaModel;
  base: { source: string; fingerprint: string };
  lora: LoraSpec;
  /** Set for prompt or prefix tuning: trains this soft prompt instead of LoRA. */
  soft?: SoftPromptSpec;
  /** Token ids of soft.initText (text-initialised prompt tuning). */
  softInitIds?: number[];
  /** Set for full fine-tuning: the trainable copy of every weight (made beforehand: it loads asynchronously). */
  full?: { spec: FullSpec; adapter: FullFineTune };
  settings: TrainSettings;
  train: TokenizedExample[];
  validation: TokenizedExample[];
  runId: string;
  store: RunStore;
  decode: (ids: number[]) => string;
  /** The turns of a chat-rendered prompt (null for plain text), so samples read as a conversation. */
  turns?: (ids: number[]) => ChatTurn[] | null;
  /** Where sample generations stop (every eos id and the chat template's end of turn); default: the config's eos ids. */
  stopIds?: number[];
  /** Token ids of the sample prompts; default: samplePrompts(validation or train). */
  prompts?: number[][];
  /** Recorded with the run: which file and column mapping the examples came from. */
  data?: RunDataSource;
  /** What the objective needs beyond the data (GRPO's reward function and the tokenizer's decoding). */
  extras?: TrainerExtras;
  /** LoRA runs that continue an adapter: its weights as the start (spec `lora` must match them), and where they came from. */
  startFrom?: { weights: LoraWeights; description: string };
}

/** Up to `n` prompts from the data: each example's prompt part (tokens without loss), or its first 6 tokens. */
export function samplePrompts(examples: TokenizedExample[], n = 2): number[][] {
  return examples.slice(0, n).map((e) => {
    let k = 0;
    while (k < e.inputIds.length && !e.lossMask[k]) k++;
    return e.inputIds.slice(0, Math.max(k, Math.min(6, e.inputIds.length)));
  });
}

export class TrainingRun {
  readonly trainer: Trainer;
  readonly adapter: TrainableAdapter;
  readonly history: TrainHistory;
  private record: RunRecord;
  /** Newest checkpoints (two at most) plus the run's starting state: divergence goes back to one of them. */
  private saved: TrainerState[] = [];
  private pauseRequested = false;
  private elapsedBeforeMs: number;
  private startedAt = 0;
  private readonly prompts: number[][];
  private readonly dataFingerprint: string;

  /**
   * The supervised held-out loss at the adapter's current weights (the evaluation right after the
   * last step taken, which Evaluate's tuned loss would repeat), with the examples and the sequence
   * length it was over; null when the run is not SFT with LoRA or the last step went unevaluated.
   */
  heldOutAtEnd(): { loss: number; validation: TokenizedExample[]; seqLen: number } | null {
    if ((this.s.settings.objective ?? 'sft') !== 'sft' || !(this.adapter instanceof LoraAdapter)) return null;
    const h = this.history;
    const loss = h.evalLoss.at(-1);
    if (loss === undefined || h.evalSteps.at(-1) !== this.trainer.step || !Number.isFinite(loss)) return null;
    return { loss, validation: this.s.validation, seqLen: this.s.settings.seqLen };
  }

  /** The objective's extra inputs, so the driver can close the reward's worker when the run ends. */
  get extras(): TrainerExtras | undefined {
    return this.s.extras;
  }

  constructor(private readonly s: RunSetup, resumeFrom: TrainCheckpoint | null = null) {
    this.adapter = s.full ? s.full.adapter : s.soft ? SoftPromptAdapter.create(s.model, s.soft, s.settings.seed, s.softInitIds) : LoraAdapter.create(s.model.config, s.lora, s.settings.seed);
    if (s.startFrom && !resumeFrom) {
      if (!(this.adapter instanceof LoraAdapter)) throw new Error('Only a LoRA run can continue an adapter.');
      this.adapter.assignWeights(s.startFrom.weights);
    }
    this.trainer = new Trainer(s.model, this.adapter, s.train, s.settings, s.validation, s.extras);
    this.history = resumeFrom ? structuredClone(resumeFrom.history) : emptyHistory();
    this.elapsedBeforeMs = resumeFrom?.elapsedMs ?? 0;
    this.dataFingerprint = examplesFingerprint(s.train);
    if (resumeFrom) {
      if (resumeFrom.dataFingerprint && resumeFrom.dataFingerprint !== this.dataFingerprint) throw new Error(`Run ${s.runId}: the stored training data does not match its checkpoint.`);
      this.trainer.restore(resumeFrom.state);
      this.saved = [resumeFrom.state];
    }
    this.prompts = s.prompts ?? samplePrompts(s.validation.length > 0 ? s.validation : s.train);
    const now = Date.now();
    this.record = {
      runId: s.runId, createdAt: now, updatedAt: now, status: 'running', base: s.base, lora: s.lora, ...(s.soft ? { soft: s.soft } : {}), ...(s.full ? { full: s.full.spec } : {}), ...(s.data ? { data: s.data } : {}), settings: s.settings,
      totalSteps: this.trainer.totalSteps, step: this.trainer.step, checkpointStep: resumeFrom ? resumeFrom.state.step : null, finalLoss: null, lastEvalLoss: null, message: null,
      ...(s.startFrom ? { startedFrom: s.startFrom.description } : {}),
    };
  }

  /** Keeps createdAt and outcome fields of an existing record when resuming. */
  adoptRecord(r: RunRecord): void {
    this.record = { ...r, status: 'running', message: null, outOfMemory: false, settings: this.s.settings }; // a resume may run a smaller micro-batch
  }

  get elapsedMs(): number {
    return this.elapsedBeforeMs + (this.startedAt ? Date.now() - this.startedAt : 0);
  }

  pause(): void {
    this.pauseRequested = true;
    this.trainer.requestStop();
  }

  stop(): void {
    this.trainer.requestStop();
  }

  private async checkpoint(state: TrainerState): Promise<void> {
    const c: TrainCheckpoint = {
      format: CHECKPOINT_FORMAT, runId: this.s.runId, savedAt: Date.now(), base: this.s.base, lora: this.s.lora, ...(this.s.soft ? { soft: this.s.soft } : {}), ...(this.s.full ? { full: this.s.full.spec } : {}), settings: this.s.settings,
      totalSteps: this.trainer.totalSteps, elapsedMs: this.elapsedMs, state, history: structuredClone(this.history), dataFingerprint: this.dataFingerprint,
    };
    await this.s.store.saveCheckpoint(c);
    this.saved = [...this.saved.filter((x) => x.step < state.step), state].slice(-3);
    this.record.checkpointStep = state.step;
    await this.saveRecord({});
  }

  private async saveRecord(p: Partial<RunRecord>): Promise<void> {
    this.record = { ...this.record, ...p, step: this.trainer.step, updatedAt: Date.now(), finalLoss: this.history.loss.at(-1) ?? null, lastEvalLoss: this.history.evalLoss.at(-1) ?? null };
    await this.s.store.saveRecord(this.record);
  }

  async samples(): Promise<SampleReport['samples']> {
    const a = this.adapter;
    const opts = { maxNewTokens: 24, stopIds: this.s.stopIds ?? this.s.model.config.eosTokenIds };
    // A fully fine-tuned model is its own decoder; LoRA is a hook, a soft prompt goes before each prompt.
    const model = a instanceof FullFineTune ? a.model : this.s.model;
    const hook = a instanceof LoraAdapter ? a : null;
    const soft = a instanceof SoftPromptAdapter ? a.hook() : null;
    const outputs: number[][] = [];
    // Prompts of one length decode side by side (plain text's are all 6 tokens): the same tokens, sooner.
    const byLength = new Map<number, number[]>();
    this.prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
    for (const rows of byLength.values()) {
      const ids = await generateRows(model, rows.map((i) => this.prompts[i]), rows.map(() => hook), { ...opts, soft });
      rows.forEach((i, j) => (outputs[i] = ids[j]));
    }
    return this.prompts.map((p, i) => {
      const ids = outputs[i];
      const turns = this.s.turns?.(p) ?? null;
      return { prompt: this.s.decode(p), text: this.s.decode([...p, ...ids]), ...(turns ? { turns, reply: this.s.decode(ids) } : {}) };
    });
  }

  /**
   * Trains to the end, a pause or a stop. A pause or stop writes a checkpoint first. On divergence
   * the adapter goes back to the last good checkpoint (the start when there is none) and the error is rethrown.
   */
  async run(ev: RunEvents): Promise<'completed' | 'stopped' | 'paused'> {
    this.startedAt = Date.now();
    if (this.saved.length === 0) this.saved = [await this.trainer.state()]; // the start: the base model's own behaviour
    await this.saveRecord({ status: 'running' });
    let reason: 'completed' | 'stopped';
    try {
      reason = await this.trainer.run({
        onStep: async (r) => {
          const h = this.history;
          h.steps.push(r.step);
          h.loss.push(r.loss);
          h.lr.push(r.lr);
          h.gradNorm.push(r.gradNorm);
          h.tokensPerSec.push(r.tokensPerSec);
          if (r.dpo) (h.dpoTrain ??= []).push({ step: r.step, ...r.dpo });
          if (r.figures) (h.figureTrain ??= []).push({ step: r.step, figures: r.figures });
          ev.onStep(r);
          // Let queued messages (pause, stop) in between steps.
          await new Promise((res) => setTimeout(res, 0));
        },
        onEval: (e) => {
          this.history.evalSteps.push(e.step);
          this.history.evalLoss.push(e.loss);
          if (e.dpo) (this.history.dpoEval ??= []).push({ step: e.step, ...e.dpo });
          ev.onEval?.(e);
        },
        onSample: async (step) => {
          if (ev.onSample) ev.onSample({ step, samples: await this.samples() });
        },
        onCheckpoint: async (state) => {
          await this.checkpoint(state);
          ev.onCheckpoint?.(state.step);
        },
      });
    } catch (e) {
      if (e instanceof TrainingDivergedError && this.saved.length > 0) {
        // The weights after step d-1 produced step d's runaway loss, so the newest good state is at d-2 or before.
        const good = [...this.saved].reverse().find((x) => x.step <= e.step - 2) ?? this.saved[0];
        this.trainer.restore(good);
        const h = this.history;
        const keep = h.steps.findIndex((s) => s > good.step);
        if (keep >= 0) for (const k of ['steps', 'loss', 'lr', 'gradNorm', 'tokensPerSec'] as const) h[k].length = keep;
        const ek = h.evalSteps.findIndex((s) => s > good.step);
        if (ek >= 0) for (const k of ['evalSteps', 'evalLoss'] as const) h[k].length = ek;
        if (h.dpoTrain) h.dpoTrain = h.dpoTrain.filter((p) => p.step <= good.step);
        if (h.dpoEval) h.dpoEval = h.dpoEval.filter((p) => p.step <= good.step);
        if (h.figureTrain) h.figureTrain = h.figureTrain.filter((p) => p.step <= good.step);
        if (this.record.checkpointStep !== good.step) await this.checkpoint(good);
        await this.saveRecord({ status: 'diverged', message: `${e.message} Restored the checkpoint of step ${good.step}.` });
      }
      if (isOutOfMemory(e)) {
        // The backend's memory is gone (a wasm abort leaves its heap unusable): nothing more is read
        // from it; the run is left paused at its last stored checkpoint, resumable with smaller settings.
        // Before the first checkpoint, the start (held in JS memory, not the backend's) is stored, so a
        // run that does not fit even its first step resumes from step 0 with a smaller micro-batch.
        if (this.record.checkpointStep === null && this.saved.length > 0 && !this.s.full) await this.checkpoint(this.saved[0]).catch(() => undefined);
        const message = outOfMemoryMessage(tf.getBackend(), this.record.checkpointStep);
        await this.saveRecord({ status: 'paused', message, outOfMemory: true }).catch(() => undefined);
        throw new OutOfMemoryError(message);
      }
      throw e;
    }
    const state = await this.trainer.state();
    const status: RunStatus = reason === 'completed' ? 'completed' : this.pauseRequested ? 'paused' : 'stopped';
    if (this.record.checkpointStep !== state.step) {
      await this.checkpoint(state);
      ev.onCheckpoint?.(state.step);
    }
    await this.saveRecord({ status });
    return status === 'paused' ? 'paused' : reason;
  }

  dispose(): void {
    this.trainer.dispose();
  }
}
