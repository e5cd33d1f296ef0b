// npm run dataset -- check <file.jsonl> [--model <folder|base URL>] [--format <name>] [--max-length N]
//   [--overflow truncate|drop] [--train-on-prompt]
// Runs the app's own dataset parser in Node. Prints one JSON line per bad line {"line":N,"error":"..."},
// then the summary {"format","lines","valid","invalid","examples","tokens","truncated"} (tokens and
// truncated only with --model).
// Exit status: 0 all lines valid, 1 some lines invalid or none valid, 2 usage or unreadable file.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { parseDataset } from '../src/data/dataset';
import { DATASET_FORMATS, isDatasetFormat } from '../src/data/formats';
import { DatasetFileError } from '../src/data/jsonl';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';

const USAGE = `usage: npm run dataset -- check <file.jsonl> [--model <folder|base URL>] [--format ${DATASET_FORMATS.join('|')}] [--max-length N] [--overflow truncate|drop] [--train-on-prompt]`;

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
      'max-length': { type: 'string' },
      overflow: { type: 'string', default: 'truncate' },
      'train-on-prompt': { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError(USAGE);
  if (values.format !== undefined && !isDatasetFormat(values.format)) throw new UsageError(`unknown --format "${values.format}"; one of ${DATASET_FORMATS.join(', ')}`);
  if (values.overflow !== 'truncate' && values.overflow !== 'drop') throw new UsageError(`--overflow must be truncate or drop, not "${values.overflow}"`);
  const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 0)) throw new UsageError(`--max-length must be a positive integer, not "${values['max-length']}"`);

  const tokenizer = values.model ? await loadModelTokenizer(values.model) : undefined;
  const { size } = await stat(file);
  const stream = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
  const s = await parseDataset(stream, {
    fileName: path.basename(file),
    bytesTotal: size,
    format: values.format as (typeof DATASET_FORMATS)[number] | undefined,
    tokenizer,
    maxLength,
    overflow: values.overflow,
    trainOnPrompt: values['train-on-prompt'],
    maxErrorsKept: Number.MAX_SAFE_INTEGER, // the CLI prints every bad line
    previewCount: 0,
  });
  for (const e of s.errors) console.log(JSON.stringify({ line: e.line, error: e.error }));
  // Exactly the summary: tokens and truncation only when a model is given. Without a model
  // every valid line is one example; with one, examples are what survives the length policy.
  const summary: Record<string, unknown> = { format: s.format, lines: s.lines, valid: s.valid, invalid: s.invalid, examples: tokenizer ? s.examples.length : s.valid };
  if (tokenizer) Object.assign(summary, { tokens: s.tokens, truncated: s.truncated });
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
    return err instanceof UsageError || err instanceof DatasetFileError || (err as NodeJS.ErrnoException).code !== undefined ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
