// npm run dataset -- check <file> [--model <folder|base URL>] [--format <name>] [--columns field=column,...] [--max-length N]
//   [--overflow truncate|drop] [--train-on-prompt] [--val-percent P] [--seed S]
//   [--steps N | --epochs E] [--batch B] [--grad-accum K] [--lr LR] [--method lora|full|prompt|dpo]
// <file> is JSONL (optionally .gz), a JSON array, CSV/TSV or Parquet; --columns maps its columns to a
// format's fields (prompt=question,completion=answer; messages=conversation,role=from,content=value).
// Runs the app's own dataset parser in Node. Prints one JSON line per bad line {"line":N,"error":"..."},
// then one per preflight finding {"warning":"<id>","severity","message","count","lines","example","fix"}
// (src/data/preflight.ts; settings findings when --steps, --epochs or --lr is given), then the summary {"format","lines","valid","invalid","examples","tokens","truncated"} (tokens and
// truncated only with --model; "mapping" only when columns were mapped, given or detected).
// Exit status: 0 all lines valid, 1 some lines invalid or none valid, 2 usage or unreadable file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDataset } from '../src/data/dataset';
import { DATASET_FORMATS, isDatasetFormat } from '../src/data/formats';
import { DatasetFileError } from '../src/data/jsonl';
import { ColumnMappingError, columnsFlag, parseColumnsFlag } from '../src/data/columns';
import { openDatasetFile } from './dataset-file';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { splitTrainValidation } from '../src/data/dataset';
import { PreflightCollector } from '../src/data/preflight-collect';
import { dataFindings, settingsFindings, USUAL_LEARNING_RATES, type PreflightFinding, type TrainMethod } from '../src/data/preflight';
import { DEFAULT_DATASET_OPTIONS } from '../src/data/prepare';
import { DEFAULT_TRAIN, totalSteps } from '../src/train/trainer';

const USAGE = `usage: npm run dataset -- check <file.jsonl|.jsonl.gz|.json|.csv|.tsv|.parquet> [--model <folder|base URL>] [--format ${DATASET_FORMATS.join('|')}] [--columns field=column,...] [--max-length N] [--overflow truncate|drop] [--train-on-prompt] [--val-percent P] [--seed S] [--steps N | --epochs E] [--batch B] [--grad-accum K] [--lr LR] [--method ${Object.keys(USUAL_LEARNING_RATES).join('|')}]`;

/** A numeric option: undefined when absent, a UsageError naming the option when not a number in range. */
function numberOption(values: Record<string, unknown>, name: string, check: (v: number) => boolean): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || !check(v)) throw new UsageError(`--${name}: "${String(raw)}" is not valid`);
  return v;
}

function findingLine(f: PreflightFinding): Record<string, unknown> {
  return { warning: f.id, severity: f.severity, message: f.message, count: f.count, lines: f.lines, ...(f.example ? { example: f.example } : {}), fix: f.fix };
}

class UsageError extends Error {
  override name = 'UsageError';
}

/** Reads tokenizer.json + tokenizer_config.json from a local folder or from `<base URL>/<file>`. */
async function loadModelTokenizer(model: string): Promise<TextTokenizer> {
  const read = async (file: string): Promise<unknown> => {
    if (/^https?:\/\//.test(model)) {
      const url = `${model.replace(/\/+$/, '')}/${file}`;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return res.json();
    }
    return JSON.parse(await readFile(path.join(model, file), 'utf8'));
  };
  const [tokJson, tokConfig] = await Promise.all([read('tokenizer.json'), read('tokenizer_config.json').catch(() => ({}))]);
  return loadTokenizer(tokJson, tokConfig);
}

async function check(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      format: { type: 'string' },
      columns: { type: 'string' },
      'max-length': { type: 'string' },
      overflow: { type: 'string', default: 'truncate' },
      'train-on-prompt': { type: 'boolean', default: false },
      'val-percent': { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      'grad-accum': { type: 'string' },
      lr: { type: 'string' },
      method: { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError(USAGE);
  if (values.format !== undefined && !isDatasetFormat(values.format)) throw new UsageError(`unknown --format "${values.format}"; one of ${DATASET_FORMATS.join(', ')}`);
  if (values.overflow !== 'truncate' && values.overflow !== 'drop') throw new UsageError(`--overflow must be truncate or drop, not "${values.overflow}"`);
  const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 0)) throw new UsageError(`--max-length must be a positive integer, not "${values['max-length']}"`);

  const valPercent = numberOption(values, 'val-percent', (v) => v >= 0 && v < 100) ?? DEFAULT_DATASET_OPTIONS.validationPercent;
  const seed = numberOption(values, 'seed', Number.isInteger) ?? DEFAULT_DATASET_OPTIONS.seed;
  const steps = numberOption(values, 'steps', (v) => Number.isInteger(v) && v > 0);
  const epochs = numberOption(values, 'epochs', (v) => v > 0);
  const batch = numberOption(values, 'batch', (v) => Number.isInteger(v) && v > 0) ?? DEFAULT_TRAIN.batchSize;
  const gradAccum = numberOption(values, 'grad-accum', (v) => Number.isInteger(v) && v > 0) ?? DEFAULT_TRAIN.gradAccum;
  const lr = numberOption(values, 'lr', (v) => v > 0);
  if (values.method !== undefined && !(values.method in USUAL_LEARNING_RATES)) throw new UsageError(`--method must be one of ${Object.keys(USUAL_LEARNING_RATES).join(', ')}, not "${values.method}"`);

  const columns = values.columns === undefined ? null : parseColumnsFlag(values.columns);

  const tokenizer = values.model ? await loadModelTokenizer(values.model) : undefined;
  const collector = new PreflightCollector(tokenizer);
  const input = await openDatasetFile(file);
  const s = await parseDataset(input.stream, {
    fileName: input.fileName,
    bytesTotal: input.bytesTotal,
    randomAccess: input.randomAccess,
    columns,
    format: values.format as (typeof DATASET_FORMATS)[number] | undefined,
    tokenizer,
    maxLength,
    overflow: values.overflow,
    trainOnPrompt: values['train-on-prompt'],
    maxErrorsKept: Number.MAX_SAFE_INTEGER, // the CLI prints every bad line
    previewCount: 0,
    preflight: collector,
  });
  for (const e of s.errors) console.log(JSON.stringify({ line: e.line, error: e.error }));
  // The same split the trainer makes (seeded share of the examples), so cross-split duplicates are the real ones.
  const lines = tokenizer ? s.examples.map((e) => e.line) : collector.facts.map((f) => f.line);
  const { train, validation } = splitTrainValidation(lines, valPercent, seed);
  const findings = dataFindings({ collector, tokenizer: tokenizer ?? null, padToken: tokenizer?.padToken ?? null, maxLength, validationLines: validation });
  if (steps !== undefined || epochs !== undefined || lr !== undefined) {
    const run = { steps: steps ?? DEFAULT_TRAIN.steps, epochs: epochs ?? 0, batchSize: batch, gradAccum };
    findings.push(...settingsFindings({ trainExamples: train.length, steps: totalSteps(run, train.length), batchSize: batch, gradAccum, learningRate: lr ?? DEFAULT_TRAIN.learningRate, method: values.method as TrainMethod | undefined }));
  }
  for (const f of findings) console.log(JSON.stringify(findingLine(f)));
  // Exactly the summary: tokens and truncation only when a model is given. Without a model
  // every valid line is one example; with one, examples are what survives the length policy.
  const summary: Record<string, unknown> = { format: s.format, lines: s.lines, valid: s.valid, invalid: s.invalid, examples: tokenizer ? s.examples.length : s.valid };
  if (tokenizer) Object.assign(summary, { tokens: s.tokens, truncated: s.truncated });
  if (s.mapping) summary.mapping = { source: s.mapping.source, columns: columnsFlag(s.mapping.columns) };
  console.log(JSON.stringify(summary));
  return s.invalid > 0 || s.valid === 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command !== 'check') throw new UsageError(USAGE);
    return await check(rest);
  } catch (e) {
    const err = e as Error;
    // One JSON line on stderr too, so scripts can read failures the same way as results.
    console.error(JSON.stringify({ error: err.message, name: err.name }));
    return err instanceof UsageError || err instanceof ColumnMappingError || err instanceof DatasetFileError || (err as NodeJS.ErrnoException).code !== undefined ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
