// The one entry point the worker (and the CLI) calls: stream a dataset file (JSONL, gzip, JSON
// array, CSV/TSV, Parquet: src/data/records.ts), map its columns when asked or when common names
// say how (src/data/columns.ts), detect its format, validate every row, render and tokenize the
// valid ones, and sum it all up for the UI. Bad rows are counted and the first ones kept with their
// line (or row) numbers; valid rows go on.
import type { TextTokenizer } from '../tokenizer/tokenizer';
import { streamFromBytes, type LineProgress } from './jsonl';
import { openRows, type DatasetFileKind, type DatasetRow, type RandomAccess } from './records';
import { applyMapping, describeColumns, suggestMapping, type ColumnInfo, type ColumnMapping, type MappingFormat } from './columns';
import { DATASET_FORMATS, DETECT_LINES, DatasetLineError, FORMAT_EXAMPLES, detectFormat, isObject, validateRecord, type DatasetFormat } from './formats';
import { chatTemplateFor, displayToken, fitLength, fitPrompt, renderExample, renderPrompt, type OverflowPolicy, type TrainingExample } from './render';
import { fitPairLength, renderPreference } from './preference';
import { LengthTally, type LengthHistogram } from './histogram';
import { permutation } from '../util/random';
import type { PreflightCollector } from './preflight-collect';

export interface ParseDatasetOptions {
  fileName: string;
  bytesTotal?: number;
  /** Forces a format instead of detecting it from the first lines. */
  format?: DatasetFormat;
  /** When given, valid lines are rendered and tokenized into `examples`. */
  tokenizer?: TextTokenizer;
  /** Maximum sequence length in tokens (none by default). */
  maxLength?: number;
  /** What to do with an example longer than maxLength: cut it (default) or leave it out. */
  overflow?: OverflowPolicy;
  /** Put loss on prompt tokens too (default false). */
  trainOnPrompt?: boolean;
  /** Overrides the model's chat template for chat formats. */
  chatTemplate?: string;
  onProgress?: (p: LineProgress) => void;
  /** How many bad lines are kept with their reasons (all are counted). Default 100. */
  maxErrorsKept?: number;
  /** How many examples get a token-level preview. Default 3. */
  previewCount?: number;
  /** Cooperative cancel: checked between lines. */
  signal?: AbortSignal;
  /** Gathers the preflight checks' facts from each valid line (src/data/preflight-collect.ts). */
  preflight?: PreflightCollector;
  /** Random access to the same bytes as the stream: Parquet is read through it. */
  randomAccess?: RandomAccess;
  /** Which column feeds which field; decides the format. Without it, common column names may. */
  columns?: ColumnMapping | null;
}

export interface DatasetLineIssue {
  line: number;
  error: string;
  field?: string;
}

export interface PreviewToken {
  id: number;
  /** Readable token text ('▁' shown as a space). */
  text: string;
  /** Whether this token carries loss. */
  loss: boolean;
}

export interface PreviewExample {
  line: number;
  /** The rendered string, exactly as tokenized (EOS included when it was appended). */
  text: string;
  tokens: PreviewToken[];
}

export interface DatasetSummary {
  fileName: string;
  /** Detected or forced format; null when no line had a known shape (e.g. an empty file). */
  format: DatasetFormat | null;
  /** Non-blank lines: valid + invalid. */
  lines: number;
  valid: number;
  invalid: number;
  /** The first maxErrorsKept bad lines, in file order. */
  errors: DatasetLineIssue[];
  /** Tokenized examples (empty without a tokenizer), after the length policy. */
  examples: TrainingExample[];
  /** Tokens in `examples`, and how many of them carry loss. */
  tokens: number;
  trainedTokens: number;
  /** Examples cut to maxLength, and examples left out (too long under 'drop', or nothing left to train). */
  truncated: number;
  dropped: number;
  preview: PreviewExample[];
  /** For chat formats with a tokenizer: which template rendered them (so the UI can name the fallback). */
  chatTemplate?: { name: string; fallback: boolean };
  /** Token lengths of the rendered examples before the length policy (null without a tokenizer or examples). */
  lengths: LengthHistogram | null;
  /** How the file was read (JSONL, CSV ...), whether it was gzip-compressed, and what `line` numbers count. */
  fileKind: DatasetFileKind | null;
  gzip: boolean;
  unit: 'line' | 'row';
  /** The columns of the first rows with sample values (for the column mapper). */
  columns: ColumnInfo[];
  /** The column mapping applied: given by the user, or detected from common column names. */
  mapping: { columns: ColumnMapping; source: 'given' | 'detected' } | null;
}

/** The dataset format rows take after a mapping (unpaired feedback trains like prompt/completion). */
export function mappedFormat(f: MappingFormat): DatasetFormat {
  return f === 'unpaired' ? 'prompt-completion' : f;
}

export class DatasetAbortedError extends Error {
  override name = 'DatasetAbortedError';
}

type Pending = DatasetRow;

/** How many non-blank lines are held back while the format is still unknown. */
const DETECT_BUFFER_LINES = 1000;

export async function parseDataset(stream: ReadableStream<Uint8Array>, opts: ParseDatasetOptions): Promise<DatasetSummary> {
  const maxErrorsKept = opts.maxErrorsKept ?? 100;
  const previewCount = opts.previewCount ?? 3;
  const overflow = opts.overflow ?? 'truncate';
  const tok = opts.tokenizer;
  const s: DatasetSummary = {
    fileName: opts.fileName,
    format: opts.format ?? null,
    lines: 0,
    valid: 0,
    invalid: 0,
    errors: [],
    examples: [],
    tokens: 0,
    trainedTokens: 0,
    truncated: 0,
    dropped: 0,
    preview: [],
    lengths: null,
    fileKind: null,
    gzip: false,
    unit: 'line',
    columns: [],
    mapping: null,
  };
  const tally = new LengthTally();
  // Conversational prompt-completion rows were rendered with the chat template: name it as for chats.
  let chatRows = false;

  const fail = (e: DatasetLineError) => {
    s.invalid++;
    if (s.errors.length < maxErrorsKept) s.errors.push(e.field !== undefined ? { line: e.line, error: e.reason, field: e.field } : { line: e.line, error: e.reason });
  };

  const accept = (p: Pending, format: DatasetFormat | null) => {
    s.lines++;
    if (p.error) return fail(p.error);
    if (format === null) {
      const cols = s.columns.length ? `; or map its columns (${s.columns.map((c) => c.name).join(', ')}) to a format's fields` : '';
      return fail(new DatasetLineError(p.line, `not a known dataset format; expected one of ${DATASET_FORMATS.map((f) => FORMAT_EXAMPLES[f]).join(' or ')}${cols}`));
    }
    const mapping = s.mapping?.columns;
    try {
      // A mapped unpaired row keeps its boolean label: prompt/completion records carry it for KTO.
      const rec = validateRecord(mapping ? applyMapping(p.value, mapping, p.line) : p.value, format, p.line);
      if (tok) {
        const ropts = { trainOnPrompt: opts.trainOnPrompt, chatTemplate: opts.chatTemplate };
        // A preference pair keeps its rejected answer beside the chosen one (the example itself).
        const rendered = rec.format === 'preference' ? renderPreference(rec, tok, p.line, ropts) : rec.format === 'prompt' ? renderPrompt(rec, tok, p.line) : renderExample(rec, tok, p.line, ropts);
        tally.add(rendered.inputIds.length);
        if (rec.format === 'prompt-completion' && rec.kind === 'chat') chatRows = true;
        const { example, truncated } = rendered.rejected
          ? fitPairLength({ ...rendered, rejected: rendered.rejected }, opts.maxLength, overflow)
          : rec.format === 'prompt' ? fitPrompt(rendered, opts.maxLength) : fitLength(rendered, opts.maxLength, overflow);
        if (truncated) s.truncated++;
        opts.preflight?.add(rec, p.line, rendered, example);
        if (!example) s.dropped++;
        else {
          const rejected = example.rejected;
          const label = rec.format === 'prompt-completion' && rec.label !== undefined ? { label: rec.label } : {};
          // Plain-text prompts keep their text and the whole source row: GRPO's reward function reads them.
          const prompt = rec.format === 'prompt' || (rec.format === 'prompt-completion' && rec.kind !== 'chat' && rec.label === undefined) ? { prompt: rec.prompt, row: isObject(p.value) ? p.value : {} } : {};
          s.examples.push(rejected ? { line: example.line, inputIds: example.inputIds, lossMask: example.lossMask, rejected } : { line: example.line, inputIds: example.inputIds, lossMask: example.lossMask, ...label, ...prompt });
          for (const side of rejected ? [example, rejected] : [example]) {
            s.tokens += side.inputIds.length;
            for (const m of side.lossMask) s.trainedTokens += m;
          }
          if (s.preview.length < previewCount) {
            s.preview.push({
              line: example.line,
              text: example.text,
              tokens: example.inputIds.map((id, t) => ({ id, text: displayToken(tok, id), loss: example.lossMask[t] === 1 })),
            });
          }
        }
      } else opts.preflight?.add(rec, p.line);
      s.valid++;
    } catch (e) {
      if (e instanceof DatasetLineError) {
        // A mapped field's problem names the user's column too.
        const column = e.field !== undefined ? mapping?.fields[e.field] : undefined;
        fail(column && column !== e.field ? new DatasetLineError(e.line, `${e.reason} (column "${column}")`, e.field) : e);
      } else fail(new DatasetLineError(p.line, `could not be rendered: ${(e as Error).message}`));
    }
  };

  // The first rows wait here (bounded) until enough are read to list the columns, choose a mapping
  // and detect the format.
  let held: Pending[] | null = [];
  let parsed = 0;
  const release = () => {
    if (!held) return;
    const values = held.filter((p) => !p.error).map((p) => p.value);
    s.columns = describeColumns(values.slice(0, DETECT_LINES));
    const detected = opts.columns || opts.format ? null : suggestMapping(values.slice(0, DETECT_LINES));
    if (opts.columns) s.mapping = { columns: opts.columns, source: 'given' };
    else if (detected) s.mapping = { columns: detected, source: 'detected' };
    s.format = s.mapping ? mappedFormat(s.mapping.columns.format) : (opts.format ?? detectFormat(values));
    for (const p of held) accept(p, s.format);
    held = null;
  };

  const rows = await openRows(stream, { fileName: opts.fileName, bytesTotal: opts.bytesTotal, onProgress: opts.onProgress, randomAccess: opts.randomAccess });
  s.fileKind = rows.kind;
  s.gzip = rows.gzip;
  s.unit = rows.unit;
  for await (const p of rows.rows) {
    if (opts.signal?.aborted) throw new DatasetAbortedError(`parsing ${opts.fileName} was cancelled at ${rows.unit} ${p.line}`);
    if (held) {
      held.push(p);
      if (!p.error) parsed++;
      if (parsed >= DETECT_LINES || held.length >= DETECT_BUFFER_LINES) release();
    } else accept(p, s.format);
  }
  release();

  if (tok && (s.format === 'messages' || s.format === 'sharegpt' || chatRows)) {
    const t = chatTemplateFor(tok, opts.chatTemplate);
    s.chatTemplate = { name: t.name, fallback: t.fallback };
  }
  s.lengths = tally.histogram();
  return s;
}

/** parseDataset over an in-memory string (tests, pasted text). */
export function parseDatasetText(text: string, opts: ParseDatasetOptions): Promise<DatasetSummary> {
  return parseDataset(streamFromBytes(text), { bytesTotal: new TextEncoder().encode(text).length, ...opts });
}

/**
 * Holds out `percent` of the examples for validation, chosen by a seeded shuffle; both parts keep
 * file order. With percent > 0 and at least two examples, each side gets at least one.
 */
export function splitTrainValidation<E>(examples: E[], percent: number, seed: number): { train: E[]; validation: E[] } {
  const n = examples.length;
  if (!(percent > 0) || n < 2) return { train: examples.slice(), validation: [] };
  const k = Math.min(n - 1, Math.max(1, Math.round((n * Math.min(percent, 100)) / 100)));
  const idx = permutation(n, seed);
  const held = new Uint8Array(n);
  for (let i = 0; i < k; i++) held[idx[i]] = 1;
  const train: E[] = [];
  const validation: E[] = [];
  examples.forEach((e, i) => (held[i] ? validation : train).push(e));
  return { train, validation };
}
