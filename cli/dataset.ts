// npm run dataset -- check <file>: the app's own dataset parser and preflight, in Node. Flags, output
// and exit status: SPEC below (`npm run dataset -- --help`).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCli, type CliOption, type CliSpec } from './usage';
import { parseDataset } from '../src/data/dataset';
import { DATASET_FORMATS, isDatasetFormat } from '../src/data/formats';
import { DatasetFileError } from '../src/data/jsonl';
import { ColumnMappingError, columnsFlag, parseColumnsFlag } from '../src/data/columns';
import { openDatasetFile } from './dataset-file';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { splitTrainValidation } from '../src/data/dataset';
import { PreflightCollector } from '../src/data/preflight-collect';
import { labelFindings } from '../src/data/preflight-objectives';
import { dataFindings, settingsFindings, USUAL_LEARNING_RATES, type PreflightFinding, type TrainMethod } from '../src/data/preflight';
import { DEFAULT_DATASET_OPTIONS } from '../src/data/prepare';
import { DEFAULT_KTO, DEFAULT_TRAIN, totalSteps } from '../src/train/settings';

const SPEC = {
  command: 'npm run dataset --',
  summary: 'Checks a dataset file with the same parser and preflight as the Dataset step: bad lines, findings, a summary.',
  positionals: 'check <file.jsonl|.jsonl.gz|.json|.csv|.tsv|.parquet>',
  options: {
    model: { type: 'string', value: '<folder|base URL>', help: 'Tokenize with this model\'s tokenizer (adds tokens and truncation to the summary).' },
    format: { type: 'string', value: DATASET_FORMATS.join('|'), help: 'Format of every line (detected from the first lines when absent).' },
    columns: { type: 'string', value: 'field=column,...', help: 'Which column feeds which field, e.g. prompt=question,completion=answer or messages=dialog,role=from,content=value (detected from common names when absent).' },
    'max-length': { type: 'string', value: 'N', help: 'Tokens per example; longer examples follow --overflow (needs --model).' },
    overflow: { type: 'string', default: 'truncate', value: 'truncate|drop', help: 'What happens to an example longer than --max-length.' },
    'train-on-prompt': { type: 'boolean', default: false, help: 'Count the prompt tokens as trained (by default only answers are).' },
    'val-percent': { type: 'string', value: 'P', help: `Held-out share of the examples, percent (default: ${DEFAULT_DATASET_OPTIONS.validationPercent}).` },
    seed: { type: 'string', value: 'S', help: `Seed of the train/validation split (default: ${DEFAULT_DATASET_OPTIONS.seed}).` },
    steps: { type: 'string', value: 'N', help: 'Planned optimizer steps (adds the settings findings).' },
    epochs: { type: 'string', value: 'E', help: 'Planned epochs instead of --steps.' },
    batch: { type: 'string', value: 'B', help: `Planned micro-batch (default: ${DEFAULT_TRAIN.batchSize}).` },
    'grad-accum': { type: 'string', value: 'K', help: `Planned gradient accumulation (default: ${DEFAULT_TRAIN.gradAccum}).` },
    lr: { type: 'string', value: 'LR', help: 'Planned learning rate (adds the settings findings).' },
    method: { type: 'string', value: Object.keys(USUAL_LEARNING_RATES).join('|'), help: 'Planned method, for the learning-rate finding.' },
  },
  examples: [
    'npm run dataset -- check data.jsonl',
    'npm run dataset -- check qa.parquet --columns prompt=question,completion=answer',
    'npm run dataset -- check chat.jsonl --model ../shared/models/stories260K --max-length 256 --steps 200 --lr 2e-4',
  ],
  notes: [
    'Prints one JSON line per bad line {"line","error"}, one per preflight finding {"warning","severity","message","count","lines","example","fix"},',
    'then the summary {"format","lines","valid","invalid","examples","tokens","truncated","mapping"} (tokens and truncated only with --model;',
    'mapping {"source":"given"|"detected","columns"} only when columns were mapped). Files: JSONL (or .gz), a JSON array, CSV/TSV, Parquet.',
    'Exit status: 0 all lines valid, 1 some lines invalid or none valid, 2 usage or unreadable file.',
  ],
} satisfies CliSpec<Record<string, CliOption>>;

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
  const { values, positionals } = parseCli(SPEC, args);
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError(`expected one dataset file: ${SPEC.command} ${SPEC.positionals}`);
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
  // Labelled rows are KTO feedback: both labels must be there, and the classes near balance.
  if (s.examples.some((e) => e.label !== undefined)) findings.push(...labelFindings(s.examples, DEFAULT_KTO));
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
  if (command === '--help' || command === '-h') parseCli(SPEC, ['--help']);
  try {
    if (command !== 'check') throw new UsageError(`expected a command: ${SPEC.command} ${SPEC.positionals} (see --help)`);
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
