// The engine behind the worker: holds the loaded model, tokenizer, dataset, adapter and trainer,
// and implements every request of the protocol as a plain async method. The worker host (host.ts)
// only routes messages here, so tests and other hosts can drive the same engine directly.
import { chatTurns } from '../data/chat-turns';
import { fromPromptPeftFiles } from '../adapters/peft-prompt';
import { fromPeftFiles } from '../adapters/peft';
import { decodeShareFragment, hostedAdapterLocation, ShareLinkError } from '../adapters/share-link';
import type { BundleSource } from './engine-bundle';
import { SandboxRewardScorer } from './reward-sandbox';
import { builtinReward, type RewardScorer } from '../train/objectives/reward';
import { grpoPromptRows } from '../train/objectives/grpo';
import { adapterFiles, adapterShareLink, EngineError, fullModelFiles, planModelExport, writeModelExport, type Holdings } from './engine-export';
import { setWasmHeapCeiling } from '../gpu/wasm-heap-guard';
import { resumeSettings, type MicroBatch } from '../train/resume-settings';
import * as tf from '@tensorflow/tfjs';
import { compareGenerations, evaluateAdapter, type EvalOptions, type EvalSummary, type GenerationRow } from '../eval/evaluate';
import { LossMemo } from '../eval/loss-memo';
import { parameterCount, parseConfig } from '../model/config';
import { type ModelFileSet } from '../model/files';
import { defaultPrecision, loadModelWithReport } from '../model/load';
import { nf4VariantFor, timedShape } from '../gpu/variant-choice';
import { attentionTimedShape, attentionVariantFor, bestFlashTiles } from '../gpu/attention-choice';
import { setPreferredAttention } from '../model/flash-attention';

/** Rows of the product timed to pick the NF4 kernel: a training micro-batch (4 x 128 tokens). */
const NF4_TIMED_ROWS = 512;
import { IdbQuantizedCache } from '../storage/quantized-cache';
import { type LlamaModel, type LoraHook } from '../model/llama';
import { generateRows, type SoftPromptHook } from '../model/generate-rows';
import { SpeedMeter, type GenerationSpeed } from '../model/generation-speed';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';
import { LoraAdapter } from '../train/lora';
import type { LoraWeights } from '../adapters/lora-types';
import { stopTokenIds } from '../tokenizer/stop-tokens';
import { readHubToken } from '../storage/hub-token';
import { chatPromptIds } from '../data/chat-prompt';
import { SoftPromptAdapter } from '../train/soft-prompt';
import { FullFineTune } from '../train/full-finetune';
import { type StepReport } from '../train/trainer';
import { DEFAULT_GRPO, type TrainSettings } from '../train/settings';
import { type TrainableAdapter } from '../train/trainable';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import { TrainingRun, type RunEvents } from '../train/training-run';
import { indexedDbRunStore, loadCheckpoint, loadRunData, loadRunRecord, saveRunData } from '../storage/checkpoints';
import { lossBatches, type TokenizedExample } from '../train/batches';
import { paddedRowCounts } from '../train/row-lengths';
import { fetchHostedAdapter } from '../adapters/hosted-adapter';
import type { LoraSpec } from '../adapters/lora-types';
import { prepareDataset, type DatasetOptions } from '../data/prepare';
import { blobRandomAccess } from '../data/parquet';
import { packExamples } from '../data/packing';
import { downloadModel, openStoredModel, resolveModelSource } from '../storage/model-store';
import { chooseBackend } from '../gpu/backend-choice';
import { setNf4Tile } from '../gpu/nf4-matmul';
import { WASM_URLS } from '../gpu/wasm-urls';
import type { AdapterSummary, BackendInfo, BackendName, BasePrecision, DatasetReport, ExportChoice, GenerateRow, GeneratedRow, ModelSummary, ProgressEvent } from './protocol';
import type { ExportSink } from '../export/sink';

export { EngineError, exportName } from './engine-export';

export class Engine {
  backend: BackendInfo | null = null;
  private model: LlamaModel | null = null;
  private files: ModelFileSet | null = null;
  private tokenizer: TextTokenizer | null = null;
  private examples: TokenizedExample[] = [];
  /** Held-out examples for evaluation: a seeded share of the dataset file, or a second file. */
  validation: TokenizedExample[] = [];
  private datasetOptions: DatasetOptions | null = null;
  private adapter: TrainableAdapter | null = null;
  private adapterOrigin: AdapterSummary['origin'] = 'trained';
  private run: TrainingRun | null = null;
  private summary: ModelSummary | null = null;
  /** What the cluster bundle needs: the parsed dataset file(s) and the last run's settings. */
  private bundleSource: BundleSource = { dataset: null, run: null };

  /** Held-out and general-text losses already measured (src/eval/loss-memo.ts). */
  private readonly losses = new LossMemo();

  /** WebGPU's NF4 kernel when fixed (?nf4-kernel); null measures which is faster. */
  private nf4Kernel: 'fused' | 'unfused' | null = null;

  async init(force: BackendName | null, onGpuError?: (message: string) => void, wasmHeapLimitBytes: number | null = null, nf4Kernel: 'fused' | 'unfused' | null = null): Promise<BackendInfo> {
    this.nf4Kernel = nf4Kernel;
    const info = await chooseBackend({ force: force ?? undefined, onGpuError, wasmPaths: WASM_URLS });
    setWasmHeapCeiling(info.backend === 'wasm' ? wasmHeapLimitBytes : null);
    this.backend = { ...info, ...(info.backend === 'wasm' && wasmHeapLimitBytes ? { wasmHeapLimitBytes } : {}) };
    // A lost device (driver reset, GPU process crash) ends every later kernel: say so, and point at the checkpoint.
    const device = info.backend === 'webgpu' ? (tf.backend() as unknown as { device?: { lost?: Promise<{ reason: string; message: string }> } }).device : undefined;
    void device?.lost?.then((l) => {
      this.run?.stop();
      onGpuError?.(`The GPU device was lost (${l.reason || 'unknown'}: ${l.message}). Reload the page: the training run can resume from its last checkpoint.`);
    });
    return this.backend;
  }

  /** Loads from IndexedDB when stored, else downloads into it first. The previous model stays until the new one is ready. */
  async loadModel(input: string, onProgress: (p: ProgressEvent) => void, precision: BasePrecision | 'auto' = 'auto'): Promise<ModelSummary> {
    const { source } = resolveModelSource(input);
    let files = await openStoredModel(source);
    const from: ModelSummary['from'] = files ? 'indexeddb' : 'network';
    if (!files) {
      files = await downloadModel(input, {
        hubToken: await readHubToken(),
        onProgress: (p) => {
          if (p.status === 'progress') onProgress({ ...p, task: 'download' });
        },
      });
    }
    const cfg = parseConfig(files.config);
    const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
    // WebGPU with an NF4 base: fused or dequantize-then-matmul, whichever this GPU runs faster (measured once, cached).
    const nf4Variant = this.backend?.backend === 'webgpu' && this.nf4Kernel === null && (precision === 'auto' ? defaultPrecision(cfg) : precision) === 'nf4'
      ? await nf4VariantFor(this.backend.adapterDescription ?? 'unknown adapter', timedShape(cfg, NF4_TIMED_ROWS))
      : undefined;
    if (nf4Variant) setNf4Tile(nf4Variant.tile);
    // WebGPU: the dense attention core or flash attention at one of three tile sizes, whichever this GPU runs fastest (measured once, cached).
    const attention = this.backend?.backend === 'webgpu' ? await attentionVariantFor(this.backend.adapterDescription ?? 'unknown adapter', attentionTimedShape(cfg)) : undefined;
    setPreferredAttention(attention ? { flash: attention.choice !== 'dense', tiles: bestFlashTiles(attention) } : null);
    const { model, report } = await loadModelWithReport(files, {
      precision,
      nf4Mode: (nf4Variant?.choice ?? this.nf4Kernel) === 'unfused' ? 'unfused' : 'auto',
      // IndexedDB exists in workers and pages; absent (plain Node), NF4 loads simply quantize each time.
      cache: typeof indexedDB === 'undefined' ? undefined : new IdbQuantizedCache(),
      onProgress: (p) => onProgress({ ...p, task: 'load' }),
    });
    // Swap only now: a failed load leaves the working model in place.
    this.disposeTraining();
    this.model?.dispose();
    this.model = model;
    this.files = files;
    this.tokenizer = tokenizer;
    this.examples = [];
    this.validation = [];
    const bytes = model.baseWeightBytes();
    this.summary = {
      source: files.source,
      fingerprint: files.fingerprint,
      architecture: cfg.architecture,
      parameters: parameterCount(cfg),
      layers: cfg.numLayers,
      hidden: cfg.hiddenSize,
      vocab: cfg.vocabSize,
      from,
      baseWeightBytes: bytes.linear + bytes.other,
      config: cfg,
      hasChatTemplate: tokenizer.chatTemplate !== null,
      basePrecision: report.precision,
      ...(nf4Variant ? { nf4Variant } : {}),
      ...(attention ? { attention } : {}),
      linearPath: report.linearPath,
      baseMemory: report.memory,
      quantizedFromCache: report.cacheHits,
      quantizedNow: report.quantized,
    };
    return this.summary;
  }

  /**
   * Streams the file (File.stream, line by line: never one big string) through the dataset pipeline
   * with the user's options; progress is posted at most every 50 ms. A file with no usable example
   * leaves the previous dataset in place.
   */
  async parseDataset(file: Blob, fileName: string, options: DatasetOptions, validationFile: { file: Blob; fileName: string } | null, onProgress: (p: ProgressEvent) => void): Promise<DatasetReport> {
    const tokenizer = this.requireTokenizer();
    let lastPost = 0;
    const p = await prepareDataset(
      { stream: file.stream(), fileName, bytesTotal: file.size, randomAccess: blobRandomAccess(file) },
      validationFile ? { stream: validationFile.file.stream(), fileName: validationFile.fileName, bytesTotal: validationFile.file.size, randomAccess: blobRandomAccess(validationFile.file) } : null,
      tokenizer,
      options,
      (q) => {
        const now = performance.now();
        if (now - lastPost < 50 && q.bytesDone !== q.bytesTotal) return;
        lastPost = now;
        onProgress({ status: 'progress', task: 'parse', bytesDone: q.bytesDone, bytesTotal: q.bytesTotal ?? null, lines: q.lines, file: q.file });
      },
    );
    if (p.train.length > 0) {
      this.examples = p.train;
      this.validation = p.validation;
      this.datasetOptions = options;
      const lines = (ex: TokenizedExample[]) => ex.map((x) => (x as { line?: number }).line ?? 0);
      this.bundleSource.dataset = {
        file, fileName, validationFile: validationFile ?? null, format: p.summary.format, chatTemplate: p.summary.chatTemplate ?? null, options, trainLines: lines(p.train), validationLines: lines(p.validation),
        fileKind: p.summary.fileKind, gzip: p.summary.gzip, mapping: p.summary.mapping,
      };
    }
    const { examples, ...report } = p.summary;
    return { ...report, examples: examples.length, paddedRows: paddedRowCounts(p.train), ...p.extras };
  }

  /** The rows the trainer walks: the training examples, or them packed into rows of seqLen + 1 tokens. */
  private trainingRows(settings: TrainSettings): TokenizedExample[] {
    const objective = settings.objective ?? 'sft';
    if (objective === 'grpo') return grpoPromptRows(this.examples, this.requireTokenizer());
    if (this.bundleSource.dataset?.format === 'prompt') throw new EngineError(`This file holds prompts only, so ${objective.toUpperCase()} has no answers to learn from: pick GRPO (it samples the answers and scores them with a reward), or load a file with answers.`);
    if (objective !== 'sft' && this.datasetOptions?.packing) throw new EngineError(`${objective.toUpperCase()} compares whole answers, so its rows cannot be packed: turn packing off in the Dataset step.`);
    // The prompt text and source row kept for GRPO are not part of a supervised example (nor of its stored run data).
    const rows = this.examples.map(({ prompt: _p, row: _r, ...e }) => e);
    return this.datasetOptions?.packing ? packExamples(rows, settings.seqLen + 1) : rows;
  }

  /** GRPO's reward as the run's settings name it: a built-in, or the user's module in a sandboxed worker. */
  private rewardScorer(settings: TrainSettings): RewardScorer | null {
    if (settings.objective !== 'grpo') return null;
    const grpo = settings.grpo ?? DEFAULT_GRPO;
    const source = grpo.reward;
    if (!source) throw new EngineError('GRPO needs a reward: pick a built-in one or write your own in the Train step.');
    if (source.kind === 'builtin') {
      try {
        return builtinReward(source.spec);
      } catch (e) {
        throw new EngineError(`The reward: ${(e as Error).message.replace(/^--reward: /, '')}`);
      }
    }
    if (typeof Worker === 'undefined') throw new EngineError('A reward module runs in the page (in its own worker) or through npm run train --reward <file.mjs>.');
    return new SandboxRewardScorer(source.name, source.code, grpo.rewardTimeoutMs);
  }

  /** A new run: its data goes to IndexedDB first, then checkpoints every settings.checkpointEvery steps and at pause/stop. */
  async train(settings: TrainSettings, lora: Omit<LoraSpec, 'baseModel'>, onStep: (r: StepReport) => void, events: Omit<RunEvents, 'onStep'> = {}, softForm: Omit<SoftPromptSpec, 'baseModel'> | null = null, full = false, fromCurrent = false): Promise<{ reason: 'completed' | 'stopped' | 'paused'; steps: number; adapter: AdapterSummary; runId: string }> {
    const model = this.requireModel();
    if (full && softForm) throw new EngineError('Pick one method: full fine-tuning or a soft prompt, not both.');
    if (this.examples.length === 0) throw new EngineError('Load a dataset with at least one valid example before training.');
    // Continuing the current adapter: its rank, alpha and targets, and its weights as the start (the form's dropout).
    let start: { spec: Omit<LoraSpec, 'baseModel'>; weights: LoraWeights; from: string } | null = null;
    if (fromCurrent) {
      const current = this.adapter;
      if (!(current instanceof LoraAdapter)) throw new EngineError('There is no LoRA adapter to continue: train one, open a share link, or start from a fresh adapter.');
      if (full || softForm) throw new EngineError('Continuing the current adapter trains LoRA: pick the LoRA method, or start from a fresh adapter.');
      if (current.spec.baseModel !== this.files!.source) throw new EngineError(`The current adapter was trained on ${current.spec.baseModel}, not on the loaded ${this.files!.source}.`);
      const { baseModel: _b, ...spec } = current.spec;
      start = { spec: { ...spec, dropout: lora.dropout }, weights: await current.toWeights(), from: this.adapterOrigin === 'shared' ? 'a shared adapter' : 'the adapter trained before' };
    }
    this.disposeTraining();
    const runId = `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    const train = this.trainingRows(settings);
    await saveRunData(runId, { train, validation: this.validation });
    const spec: LoraSpec = { ...(start?.spec ?? lora), baseModel: this.files!.source };
    const soft: SoftPromptSpec | undefined = softForm ? { ...softForm, baseModel: this.files!.source } : undefined;
    this.bundleSource.run = { settings, spec };
    // Refuses an NF4 base (FullFineTuneError) before any step; the trainable copy is read from the stored files.
    const fullRun = full ? { spec: { kind: 'full' as const, baseModel: this.files!.source }, adapter: await FullFineTune.create(this.files!, model) } : undefined;
    return this.drive(new TrainingRun({ ...this.runSetup(runId, spec, settings, train, this.validation, soft), ...(fullRun ? { full: fullRun } : {}), ...(start ? { startFrom: { weights: start.weights, description: start.from } } : {}) }), onStep, events, runId);
  }

  /** Continues a stored run from its newest checkpoint, with its stored data; the same base model must be loaded. */
  async resumeRun(runId: string, onStep: (r: StepReport) => void, events: Omit<RunEvents, 'onStep'> = {}, micro: MicroBatch | null = null): Promise<{ reason: 'completed' | 'stopped' | 'paused'; steps: number; adapter: AdapterSummary; runId: string }> {
    this.requireModel();
    const [ckpt, data, record] = await Promise.all([loadCheckpoint(runId), loadRunData(runId), loadRunRecord(runId)]);
    if (ckpt.base.fingerprint !== this.files!.fingerprint) {
      throw new EngineError(`Run ${runId} was trained on ${ckpt.base.source} (fingerprint ${ckpt.base.fingerprint}); load that model to resume it (loaded: ${this.files!.source}, ${this.files!.fingerprint}).`);
    }
    this.disposeTraining();
    const fullRun = ckpt.full ? { spec: ckpt.full, adapter: await FullFineTune.create(this.files!, this.requireModel()) } : undefined;
    const run = new TrainingRun({ ...this.runSetup(runId, ckpt.lora, resumeSettings(ckpt.settings, micro), data.train, data.validation, ckpt.soft), ...(fullRun ? { full: fullRun } : {}) }, ckpt);
    if (record) run.adoptRecord(record);
    return this.drive(run, onStep, events, runId);
  }

  private runSetup(runId: string, lora: LoraSpec, settings: TrainSettings, train: TokenizedExample[], validation: TokenizedExample[], soft?: SoftPromptSpec) {
    const tok = this.requireTokenizer();
    if (soft && this.datasetOptions?.packing) throw new EngineError('Soft prompts go before each example, so prompt and prefix tuning cannot pack rows: turn packing off in the Dataset step.');
    const softInit = soft?.init === 'text' && soft.initText ? { softInitIds: tok.encode(soft.initText) } : {};
    const d = this.bundleSource.dataset;
    const data = d ? { fileName: d.fileName, fileKind: d.fileKind, columns: d.mapping ? { ...d.mapping.columns, source: d.mapping.source } : null } : undefined;
    const reward = this.rewardScorer(settings);
    const extras = reward ? { extras: { reward, text: { eosTokenId: tok.eosTokenId, decode: (ids: number[]) => tok.decode(ids) } } } : {};
    return { model: this.requireModel(), base: { source: this.files!.source, fingerprint: this.files!.fingerprint }, lora, ...(soft ? { soft, ...softInit } : {}), ...(data ? { data } : {}), ...extras, settings, train, validation, runId, store: indexedDbRunStore, decode: (ids: number[]) => tok.decode(ids), turns: (ids: number[]) => chatTurns(tok, ids), stopIds: stopTokenIds(this.requireModel().config.eosTokenIds, tok) };
  }

  private async drive(run: TrainingRun, onStep: (r: StepReport) => void, events: Omit<RunEvents, 'onStep'>, runId: string) {
    this.run = run;
    this.adapter = run.adapter;
    this.adapterOrigin = 'trained';
    this.losses.forget(run.adapter);
    try {
      const reason = await run.run({ onStep, ...events });
      this.rememberHeldOut(run);
      return { reason, steps: run.trainer.step, adapter: this.adapterSummary()!, runId };
    } finally {
      // On divergence the adapter stays, back at its last good checkpoint, so it can still be exported.
      run.dispose();
      await run.extras?.reward?.close?.();
      this.run = null;
    }
  }

  /** The trainer's evaluation after the last step is Evaluate's tuned held-out loss: kept, not measured twice. */
  private rememberHeldOut(run: TrainingRun): void {
    const end = run.heldOutAtEnd();
    if (!end || end.validation !== this.validation) return;
    const tokens = lossBatches(end.validation, end.seqLen, 1).reduce((n, b) => n + b.tokens, 0);
    this.losses.set(run.adapter, end.validation, end.seqLen, { loss: end.loss, perplexity: Math.exp(end.loss), tokens });
  }

  /** The Evaluate view's figures for the current adapter on the held-out examples (src/eval/evaluate.ts). */
  async evaluate(options: EvalOptions, onProgress: (p: ProgressEvent) => void): Promise<EvalSummary> {
    const adapter = this.requireLoraForEval();
    return evaluateAdapter(this.requireModel(), this.requireTokenizer(), adapter, this.validation, options, (phase, done, total) =>
      onProgress({ status: 'progress', task: 'evaluate', phase, done, total }),
    this.losses);
  }

  /** Base and tuned generations on the validation prompts, the tuned ones at options.strength. */
  async evalGenerations(options: EvalOptions): Promise<GenerationRow[]> {
    const adapter = this.requireLoraForEval();
    return compareGenerations(this.requireModel(), this.requireTokenizer(), adapter, this.validation, options);
  }

  /** The Evaluate view scales and compares LoRA deltas; soft prompts are refused by name rather than mis-measured. */
  private requireLoraForEval(): LoraAdapter {
    const a = this.requireAdapter();
    if (!(a instanceof LoraAdapter)) throw new Error('Evaluate compares LoRA adapters with their base; it does not measure prompt- or prefix-tuning runs yet (their loss and samples are in the Train step).');
    return a;
  }

  stop(): void {
    this.run?.stop();
  }

  pause(): void {
    this.run?.pause();
  }

  /**
   * Several answers to one prompt (base and tuned, or two seeds). With a LoRA adapter or none they
   * decode side by side in one batch (model/generate-rows.ts); a soft prompt or a fully fine-tuned
   * model changes the sequence or the weights themselves, so those rows run one after another.
   */
  async generateRows(prompt: string, maxNewTokens: number, temperature: number, rows: GenerateRow[], onToken: (row: number, id: number, text: string) => void, chat = false): Promise<{ promptIds: number[]; rows: GeneratedRow[] }> {
    const model = this.requireModel();
    if (rows.length === 0) throw new EngineError('generate-rows: no rows asked for.');
    const adapted = rows.some((r) => r.useAdapter);
    if (adapted && !this.adapter) throw new EngineError('There is no adapter yet: train one or open a share link.');
    if (adapted && !(this.adapter instanceof LoraAdapter)) {
      const out: GeneratedRow[] = [];
      let promptIds: number[] = [];
      for (const [i, r] of rows.entries()) {
        const g = await this.generate(prompt, maxNewTokens, temperature, r.seed, r.useAdapter, (id, text) => onToken(i, id, text), chat);
        promptIds = g.promptIds;
        out.push({ outputIds: g.outputIds, text: g.text, speed: g.speed, sideBySide: false });
      }
      return { promptIds, rows: out };
    }
    const { promptIds, shown } = this.promptFor(prompt, chat);
    const hooks = rows.map((r) => (r.useAdapter ? (this.adapter as LoraAdapter) : null));
    return { promptIds, rows: await this.decodeRows(model, promptIds, shown, hooks, { maxNewTokens, temperature, seeds: rows.map((r) => r.seed) }, onToken) };
  }

  /** generateRows with each row's speed measured and its text so far passed on as it grows. */
  private async decodeRows(model: LlamaModel, promptIds: number[], shown: number[], hooks: (LoraHook | null)[], o: { maxNewTokens: number; temperature: number; seeds: number[]; soft?: SoftPromptHook | null }, onToken: (row: number, id: number, text: string) => void): Promise<GeneratedRow[]> {
    const tok = this.requireTokenizer();
    const meters = hooks.map(() => new SpeedMeter(promptIds.length));
    const soFar: number[][] = hooks.map(() => []);
    const outputs = await generateRows(model, promptIds, hooks, {
      ...o,
      // Every eos id of the config (a list in Llama 3 / Gemma 3), the tokenizer's, and the template's end of turn.
      stopIds: stopTokenIds(this.requireModel().config.eosTokenIds, tok),
      // Decode the whole sequence each time: byte-fallback tokens only form characters together.
      onToken: (row, id) => {
        meters[row].token();
        soFar[row].push(id);
        onToken(row, id, tok.decode([...shown, ...soFar[row]]));
      },
    });
    return outputs.map((ids, i) => ({ outputIds: ids, text: tok.decode([...shown, ...ids]), speed: meters[i].result(), sideBySide: hooks.length > 1 }));
  }

  /** The prompt's ids, and the ids shown in front of the answer: a chat turn shows only the reply (the template around the prompt is not the person's text). */
  private promptFor(prompt: string, chat: boolean): { promptIds: number[]; shown: number[] } {
    const tok = this.requireTokenizer();
    const promptIds = chat ? chatPromptIds(tok, prompt) : tok.encode(prompt);
    return { promptIds, shown: chat ? [] : promptIds };
  }

  async generate(prompt: string, maxNewTokens: number, temperature: number, seed: number, useAdapter: boolean, onToken: (id: number, text: string) => void, chat = false): Promise<{ promptIds: number[]; outputIds: number[]; text: string; speed: GenerationSpeed }> {
    const model = this.requireModel();
    if (useAdapter && !this.adapter) throw new EngineError('There is no adapter yet: train one or open a share link.');
    const { promptIds, shown } = this.promptFor(prompt, chat);
    // A fully fine-tuned model is a second decoder; the base stays the loaded model.
    const full = useAdapter && this.adapter instanceof FullFineTune ? this.adapter : null;
    const soft = useAdapter && this.adapter instanceof SoftPromptAdapter ? this.adapter.hook() : null;
    const lora = useAdapter && this.adapter instanceof LoraAdapter ? this.adapter : null;
    const [r] = await this.decodeRows(full ? full.model : model, promptIds, shown, [lora], { maxNewTokens, temperature, seeds: [seed], soft }, (_row, id, text) => onToken(id, text));
    return { promptIds, outputIds: r.outputIds, text: r.text, speed: r.speed };
  }

  // Export and share requests: src/worker/engine-export.ts, on what the engine holds now.
  exportAdapter = () => adapterFiles(this.holdings());
  planExport = (choice: ExportChoice) => planModelExport(this.holdings(), choice);
  exportModel = (choice: ExportChoice, sink: ExportSink, onProgress: (p: ProgressEvent) => void) => writeModelExport(this.holdings(), choice, sink, onProgress);
  exportFullModel = () => fullModelFiles(this.holdings());
  shareLink = (pageUrl: string) => adapterShareLink(this.holdings(), pageUrl);

  /** The loaded model, its files and the current adapter, for the export and share requests. */
  private holdings(): Holdings {
    const model = this.requireModel();
    return { model, files: this.files!, summary: this.summary!, tokenizer: this.requireTokenizer(), adapter: this.adapter, bundleSource: this.bundleSource };
  }

  /**
   * Opens a share link: decodes and validates it first (an inline adapter, or PEFT files hosted at
   * a URL or hub repo), then loads its base model in the precision it was trained on, checks the
   * weights are the same ones, then applies the adapter.
   */
  async openShare(fragment: string, onProgress: (p: ProgressEvent) => void): Promise<{ model: ModelSummary; adapter: AdapterSummary }> {
    const location = hostedAdapterLocation(fragment);
    const shared = location ? await fetchHostedAdapter(location) : await decodeShareFragment(fragment);
    const { source, fingerprint, basePrecision } = shared.model;
    if (!this.summary || this.summary.source !== source || (basePrecision && this.summary.basePrecision !== basePrecision)) {
      await this.loadModel(source, onProgress, basePrecision ?? 'auto');
    }
    if (fingerprint && this.summary!.fingerprint !== fingerprint) {
      throw new ShareLinkError(`This adapter was trained on a different version of ${source} (fingerprint ${fingerprint}, loaded ${this.summary!.fingerprint}).`);
    }
    const model = this.requireModel();
    // Hosted files are checked against the base's shapes once the base is known.
    let adapter: TrainableAdapter;
    if ('softWeights' in shared) adapter = SoftPromptAdapter.fromWeights(model.config, shared.soft, shared.softWeights);
    else if ('configJson' in shared && shared.soft) {
      const read = await fromPromptPeftFiles(shared.configJson, shared.safetensors, model.config);
      adapter = SoftPromptAdapter.fromWeights(model.config, read.spec, read.weights);
    } else {
      const spec = shared.spec!;
      const weights = 'weights' in shared ? shared.weights : (await fromPeftFiles(shared.configJson, shared.safetensors, model.config)).weights;
      adapter = LoraAdapter.fromWeights(model.config, spec, weights);
    }
    this.disposeTraining();
    this.adapter = adapter;
    this.adapterOrigin = 'shared';
    return { model: this.summary!, adapter: this.adapterSummary()! };
  }

  private adapterSummary(): AdapterSummary | null {
    const a = this.adapter;
    if (!a) return null;
    if (a instanceof FullFineTune) return { spec: { r: 0, alpha: 0, dropout: 0, targetModules: [], useRslora: false, baseModel: this.files?.source ?? '' }, full: { kind: 'full', baseModel: this.files?.source ?? '' }, parameters: a.parameterCount(), origin: this.adapterOrigin };
    if (a instanceof SoftPromptAdapter) return { spec: { r: 1, alpha: 1, dropout: 0, targetModules: [], useRslora: false, baseModel: a.spec.baseModel }, soft: a.spec, parameters: a.parameterCount(), origin: this.adapterOrigin };
    return { spec: a.spec, parameters: a.parameterCount(), origin: this.adapterOrigin };
  }

  /** Drops the current adapter (a run in progress owns its trainer and disposes it when it ends). */
  private disposeTraining(): void {
    this.adapter?.dispose();
    this.adapter = null;
  }

  private requireModel(): LlamaModel {
    if (!this.model) throw new EngineError('No model is loaded yet.');
    return this.model;
  }

  private requireTokenizer(): TextTokenizer {
    if (!this.tokenizer) throw new EngineError('Load a model first: its tokenizer is needed to read the dataset.');
    return this.tokenizer;
  }

  private requireAdapter(): TrainableAdapter {
    if (!this.adapter) throw new EngineError('There is no adapter yet: train one first.');
    return this.adapter;
  }
}
