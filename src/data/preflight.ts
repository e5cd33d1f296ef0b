// Preflight: the silent fine-tuning mistakes, found before the first step. Pure functions over the
// facts PreflightCollector gathered (data findings) and over the run's settings (settings findings).
// Each finding says how serious it is, which lines, one example, and the fix in one sentence.
// Nothing here changes the data: the person decides.
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { PreflightCollector } from './preflight-collect';

/** serious: training would silently go wrong (blocks Start until acknowledged); warning: likely a mistake; info: worth knowing. */
export type Severity = 'serious' | 'warning' | 'info';

export const FINDING_IDS = [
  'no-eos',
  'stop-not-trained',
  'all-masked',
  'cut-by-max-length',
  'double-bos',
  'template-not-prefix-preserving',
  'pad-is-eos',
  'duplicates-in-train',
  'duplicates-train-validation',
  'near-empty',
  'outlier-long',
  'too-few-examples',
  'learning-rate',
  // KTO, GRPO (src/data/preflight-objectives.ts)
  'one-label-only',
  'kto-weights-unbalanced',
  'no-room-for-completion',
  'constant-reward',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

export interface PreflightFinding {
  id: FindingId;
  severity: Severity;
  /** What is wrong, in one line, with the count. */
  message: string;
  /** How many examples (or lines) it affects; 0 for findings about the setup rather than lines. */
  count: number;
  /** Affected 1-based line numbers of the training file (the first MAX_LINES). */
  lines: number[];
  /** One concrete case, e.g. `line 7: "…"`. */
  example?: string;
  /** The fix, in one sentence. */
  fix: string;
}

/** How many line numbers a finding lists (all are counted). */
export const MAX_LINES = 20;

/** Thresholds, each with its reason. */
export const PREFLIGHT_LIMITS = {
  /** Share of examples that must miss their stop token before that is serious: a few odd lines are a warning. */
  seriousShare: 0.5,
  /** An example is an outlier when longer than this many times the median length... */
  outlierFactor: 4,
  /** ...and longer than this many tokens (short datasets have noisy medians). */
  outlierMinTokens: 64,
  /** Passes over the training set above which a small set is memorized rather than learned. */
  passesWarning: 20,
  passesSerious: 100,
  /** Fewer training examples than this is a toy: expect memorization. */
  fewExamples: 10,
  /** How far outside the usual range (factor) a learning rate must be to be serious rather than a warning. */
  lrSeriousFactor: 10,
} as const;

function linesOf(facts: { line: number }[]): number[] {
  return facts.slice(0, MAX_LINES).map((f) => f.line);
}

function exampleOf(c: PreflightCollector, lines: number[], extra = ''): string | undefined {
  for (const l of lines) {
    const s = c.snippets.get(l);
    if (s !== undefined) return `line ${l}${extra}: "${s}"`;
  }
  return lines.length ? `line ${lines[0]}${extra}` : undefined;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface DataFindingsInput {
  collector: PreflightCollector;
  /** Null without a model: only the checks that need no tokens run. */
  tokenizer: TextTokenizer | null;
  /** The raw pad_token of tokenizer_config.json (TextTokenizer does not carry it). */
  padToken?: string | null;
  maxLength?: number;
  /** Lines of the training file that went to validation (percent split): duplicates across the split. */
  validationLines?: number[];
  /** A separate validation file's collector: duplicates of training lines in it. */
  validationFile?: PreflightCollector;
}

/** Findings about the data and the tokenizer/template, in a fixed order (most serious kinds first). */
export function dataFindings(x: DataFindingsInput): PreflightFinding[] {
  const c = x.collector;
  const out: PreflightFinding[] = [];
  const tok = x.tokenizer;
  const facts = c.facts;
  const n = facts.length;
  if (tok && n > 0) {
    if (tok.eosTokenId === null) {
      out.push({ id: 'no-eos', severity: 'serious', count: n, lines: linesOf(facts), message: `The tokenizer has no end-of-sequence token${tok.eosToken ? ` ("${tok.eosToken}" is not in its vocabulary)` : ''}: the model cannot learn to stop.`, fix: 'Set eos_token in tokenizer_config.json to a token of the vocabulary, or use a model that has one.' });
    } else {
      const noStop = facts.filter((f) => f.trained > 0 && !f.stopTrained);
      if (noStop.length > 0) {
        const l = linesOf(noStop);
        out.push({ id: 'stop-not-trained', severity: noStop.length >= PREFLIGHT_LIMITS.seriousShare * n ? 'serious' : 'warning', count: noStop.length, lines: l, example: exampleOf(c, l), message: `${noStop.length} of ${n} examples never train the end-of-turn / EOS token (${tok.eosToken}): the tuned model will not learn to stop.`, fix: 'Use a chat template that ends each assistant turn with the EOS token, or end the completions with it.' });
      }
    }
    const masked = facts.filter((f) => f.trained === 0 && !f.promptOnly);
    if (masked.length > 0) {
      const l = linesOf(masked);
      out.push({ id: 'all-masked', severity: masked.length >= PREFLIGHT_LIMITS.seriousShare * n ? 'serious' : 'warning', count: masked.length, lines: l, example: exampleOf(c, l), message: `${masked.length} of ${n} examples have no trained token at all (everything is prompt): they teach nothing and are left out.`, fix: 'Give each example an assistant turn or completion, or turn on "loss on the prompt too".' });
    }
    const cut = facts.filter((f) => f.trainedLost > 0 && f.trained > 0);
    if (cut.length > 0 && x.maxLength !== undefined) {
      const l = linesOf(cut);
      const lost = cut.reduce((a, f) => a + f.trainedLost, 0);
      const stops = cut.filter((f) => f.stopTrained && !f.stopKept).length;
      const gone = cut.filter((f) => f.dropped).length;
      out.push({
        id: 'cut-by-max-length',
        severity: gone >= PREFLIGHT_LIMITS.seriousShare * n ? 'serious' : 'warning',
        count: cut.length,
        lines: l,
        example: exampleOf(c, l),
        message: `${cut.length} examples lose ${lost} trained tokens to the ${x.maxLength}-token limit${stops ? `; ${stops} of them lose their stop token` : ''}${gone ? `; ${gone} are left out entirely` : ''}.`,
        fix: 'Raise the maximum tokens per example (and the sequence length), or shorten the answers.',
      });
    }
    const bos = facts.filter((f) => f.doubleBos);
    if (bos.length > 0) {
      const l = linesOf(bos);
      out.push({ id: 'double-bos', severity: 'warning', count: bos.length, lines: l, example: exampleOf(c, l), message: `${bos.length} examples start with two BOS tokens (${tok.bosToken}): the text or template writes one and the tokenizer adds another.`, fix: `Remove the leading ${tok.bosToken} from the data (or the template), since the tokenizer adds it.` });
    }
    if (c.prefixBreaks.length > 0) {
      const l = c.prefixBreaks.slice(0, MAX_LINES).map((b) => b.line);
      const b = c.prefixBreaks[0];
      out.push({ id: 'template-not-prefix-preserving', severity: 'serious', count: c.prefixBreaks.length, lines: l, example: exampleOf(c, l, ` (breaks after message ${b.turn})`), message: `The chat template is not prefix-preserving on ${c.prefixBreaks.length} checked conversations: rendering the first messages is not the start of rendering them all, so the trained span and what the model sees at inference differ.`, fix: 'Use a template that renders earlier turns the same whatever follows (no end-of-conversation text, no rewriting of past turns).' });
    }
    if (x.padToken && tok.eosToken && x.padToken === tok.eosToken) {
      out.push({ id: 'pad-is-eos', severity: 'info', count: 0, lines: [], message: `The pad token is the EOS token (${tok.eosToken}). This trainer masks padding by position, so EOS is still trained here; trainers that mask by pad id would never train EOS.`, fix: 'If you train this data elsewhere, set a pad token distinct from EOS (e.g. a reserved or unk token).' });
    }
  }
  if (c.repeats.length > 0) {
    const l = c.repeats.slice(0, MAX_LINES).map(([line]) => line);
    const [line, first] = c.repeats[0];
    out.push({ id: 'duplicates-in-train', severity: c.repeats.length >= 0.25 * n ? 'warning' : 'info', count: c.repeats.length, lines: l, example: `line ${line} repeats line ${first}: "${c.snippets.get(first) ?? ''}"`, message: `${c.repeats.length} examples repeat an earlier line: they are trained more often than the rest.`, fix: 'Remove the repeated lines unless you mean to weight them.' });
  }
  const cross = crossDuplicates(x);
  if (cross.length > 0) {
    const l = cross.slice(0, MAX_LINES).map((p) => p.train);
    const p = cross[0];
    out.push({ id: 'duplicates-train-validation', severity: 'warning', count: cross.length, lines: l, example: `${p.where} repeats training line ${p.train}`, message: `${cross.length} validation examples also appear in the training set: the validation loss will look better than it is.`, fix: 'Remove those lines from one of the two sets so validation measures unseen data.' });
  }
  if (tok && n > 0) {
    const empty = facts.filter((f) => f.trained > 0 && f.answerTokens <= 1);
    if (empty.length > 0) {
      const l = linesOf(empty);
      out.push({ id: 'near-empty', severity: 'warning', count: empty.length, lines: l, example: exampleOf(c, l), message: `${empty.length} examples train at most one token besides the stop token: the answer is empty or nearly so.`, fix: 'Fill in or remove those answers.' });
    }
    const med = median(facts.map((f) => f.tokens));
    const limit = Math.max(PREFLIGHT_LIMITS.outlierFactor * med, PREFLIGHT_LIMITS.outlierMinTokens);
    const long = facts.filter((f) => f.tokens > limit);
    if (long.length > 0) {
      const l = linesOf(long);
      out.push({ id: 'outlier-long', severity: 'info', count: long.length, lines: l, example: `line ${long[0].line}: ${long[0].tokens} tokens (median ${med})`, message: `${long.length} examples are over ${PREFLIGHT_LIMITS.outlierFactor}x the median length of ${med} tokens: they dominate memory and padding.`, fix: 'Check they are not several records pasted together; split or shorten them.' });
    }
  }
  return out;
}

function crossDuplicates(x: DataFindingsInput): { train: number; where: string }[] {
  const c = x.collector;
  const out: { train: number; where: string }[] = [];
  if (x.validationFile) {
    for (const f of x.validationFile.facts) {
      const t = c.lineOfKey(f.key);
      if (t !== undefined) out.push({ train: t, where: `validation file line ${f.line}` });
    }
  } else if (x.validationLines && x.validationLines.length > 0) {
    const held = new Set(x.validationLines);
    const trainKeys = new Map<string, number>();
    for (const f of c.facts) if (!held.has(f.line) && !trainKeys.has(f.key)) trainKeys.set(f.key, f.line);
    for (const f of c.facts) {
      if (!held.has(f.line)) continue;
      const t = trainKeys.get(f.key);
      if (t !== undefined) out.push({ train: t, where: `held-out line ${f.line}` });
    }
  }
  return out;
}

/** Training methods and the peak learning rates their users usually pick (PEFT / TRL docs and examples). */
export const USUAL_LEARNING_RATES = {
  /** LoRA / QLoRA: 1e-4-2e-4 on 1B+ models; tiny models like up to 1e-2. */
  lora: [1e-5, 1e-2],
  /** Full fine-tuning moves every weight: 1e-6-1e-4. */
  full: [1e-6, 1e-4],
  /** Prompt / prefix tuning trains only a few vectors and wants large rates (PEFT's examples use 3e-2). */
  prompt: [1e-3, 3e-1],
  /** DPO: TRL's default 1e-6 full; LoRA DPO up to ~5e-5. */
  dpo: [1e-7, 5e-5],
} as const satisfies Record<string, readonly [number, number]>;
export type TrainMethod = keyof typeof USUAL_LEARNING_RATES;

export interface SettingsFindingsInput {
  trainExamples: number;
  /** Optimizer steps the run will take (totalSteps). */
  steps: number;
  batchSize: number;
  gradAccum: number;
  learningRate: number;
  method?: TrainMethod;
}

/** Findings about the run's settings against the data: too many passes over too few examples, an unusual learning rate. */
export function settingsFindings(x: SettingsFindingsInput): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  const L = PREFLIGHT_LIMITS;
  const passes = x.trainExamples > 0 ? (x.steps * x.batchSize * x.gradAccum) / x.trainExamples : 0;
  if (x.trainExamples > 0 && (passes > L.passesWarning || x.trainExamples < L.fewExamples)) {
    const few = x.trainExamples < L.fewExamples;
    out.push({
      id: 'too-few-examples',
      severity: passes > L.passesSerious ? 'serious' : 'warning',
      count: 0,
      lines: [],
      message: `${x.steps} steps of ${x.batchSize * x.gradAccum} examples pass ${passes.toFixed(1)} times over ${x.trainExamples} training examples${few ? ' (a very small set)' : ''}: expect the model to memorize them (overfitting).`,
      fix: `Add examples, or train fewer steps (about ${Math.max(1, Math.round((3 * x.trainExamples) / (x.batchSize * x.gradAccum)))} steps is 3 passes) and watch the validation loss.`,
    });
  }
  const method = x.method ?? 'lora';
  const [lo, hi] = USUAL_LEARNING_RATES[method];
  const lr = x.learningRate;
  if (!(lr >= lo && lr <= hi)) {
    const far = !(lr >= lo / L.lrSeriousFactor && lr <= hi * L.lrSeriousFactor);
    out.push({
      id: 'learning-rate',
      severity: far ? 'serious' : 'warning',
      count: 0,
      lines: [],
      message: `A learning rate of ${lr} is ${lr > hi ? 'above' : 'below'} the usual ${lo}–${hi} for ${method === 'lora' ? 'LoRA' : method}${far ? ` by more than ${L.lrSeriousFactor}x` : ''}: ${lr > hi ? 'the loss will likely blow up or the model forget what it knew' : 'the adapter will barely move'}.`,
      fix: `Use a rate between ${lo} and ${hi} (the presets pick one for your data size).`,
    });
  }
  return out;
}

/** The serious findings' ids: what an acknowledgement covers (a new serious finding needs a new one). */
export function seriousKey(findings: PreflightFinding[]): string {
  return findings.filter((f) => f.severity === 'serious').map((f) => f.id).join(',');
}
