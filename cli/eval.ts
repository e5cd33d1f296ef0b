// npm run eval: the Evaluate view's figures in Node, from the same pure module (src/eval/evaluate.ts);
// the data is prepared and split exactly as the page does, so the held-out set is the same one.
// Flags, output and exit status: SPEC below (`npm run eval -- --help`).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, type CliOption, type CliSpec } from './usage';
import { openDatasetFile } from './dataset-file';
import { ColumnMappingError, parseColumnsFlag } from '../src/data/columns';
import { initNodeBackend, openModelFiles } from './node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { fromPeftFiles } from '../src/adapters/peft';
import { LoraAdapter } from '../src/train/lora';
import { DEFAULT_DATASET_OPTIONS, prepareDataset, type PrepareInput } from '../src/data/prepare';
import { DEFAULT_EVAL_OPTIONS, evaluateAdapter } from '../src/eval/evaluate';

const DEFAULT_GENERAL = fileURLToPath(new URL('../public/eval/general-text.txt', import.meta.url));

const SPEC = {
  command: 'npm run eval --',
  summary: 'The Evaluate view in Node: held-out loss, general-text loss and sample answers, base against tuned, split exactly as the page splits.',
  options: {
    model: { type: 'string', value: '<folder|URL>', help: 'Base model folder or base URL (required).' },
    adapter: { type: 'string', value: '<folder>', help: 'PEFT LoRA adapter folder (required).' },
    data: { type: 'string', value: '<file>', help: 'The training dataset (JSONL, .gz, JSON array, CSV/TSV or Parquet); its held-out share is evaluated (required).' },
    columns: { type: 'string', value: 'field=column,...', help: 'Which column feeds which field, as in training (e.g. prompt=question,completion=answer).' },
    general: { type: 'string', value: '<file>', help: 'General text whose loss shows forgetting (default: public/eval/general-text.txt).' },
    validation: { type: 'string', value: '<file.jsonl>', help: 'A separate validation file instead of the held-out share.' },
    'val-percent': { type: 'string', value: 'P', help: `Held-out share, percent (default: ${DEFAULT_DATASET_OPTIONS.validationPercent}).` },
    seed: { type: 'string', value: 'S', help: `Split seed (default: ${DEFAULT_DATASET_OPTIONS.seed}).` },
    'max-length': { type: 'string', value: 'N', help: `Tokens per example (default: ${DEFAULT_DATASET_OPTIONS.maxLength}).` },
    'train-on-prompt': { type: 'boolean', default: false, help: 'Score prompt tokens too, as a run trained with it did.' },
    'seq-len': { type: 'string', value: 'T', help: `Sequence length of the loss batches (default: ${DEFAULT_EVAL_OPTIONS.seqLen}).` },
    batch: { type: 'string', value: 'B', help: `Loss batch size (default: ${DEFAULT_EVAL_OPTIONS.batchSize}).` },
    prompts: { type: 'string', value: 'N', help: `Validation prompts answered by both models (default: ${DEFAULT_EVAL_OPTIONS.prompts}).` },
    'max-new-tokens': { type: 'string', value: 'N', help: `Tokens per answer (default: ${DEFAULT_EVAL_OPTIONS.maxNewTokens}).` },
    strength: { type: 'string', value: 'S', help: 'Adapter strength of the tuned column, 0..4 (default: 1).' },
    precision: { type: 'string', default: 'fp32', value: 'fp32|nf4|auto', help: 'Frozen base precision.' },
  },
  examples: ['npm run eval -- --model ../shared/models/stories260K --adapter out/adapter --data data.jsonl --prompts 4'],
  notes: [
    'Prints JSON lines: {"eval":"heldout",...}, {"eval":"general",...}, one {"eval":"generation",...} per prompt, then {"eval":"scores",...}.',
    'Exit status: 0 done, 1 failed, 2 usage.',
  ],
} satisfies CliSpec<Record<string, CliOption>>;

class UsageError extends Error {
  override name = 'UsageError';
}

function num(v: string | undefined, name: string, fallback: number, ok: (x: number) => boolean): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`--${name}: "${v}" is not valid`);
  return x;
}

async function input(file: string): Promise<PrepareInput> {
  const f = await openDatasetFile(file);
  return { stream: f.stream, fileName: f.fileName, bytesTotal: f.bytesTotal, randomAccess: f.randomAccess };
}

const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(argv: string[]): Promise<void> {
  const { values: v } = parseCli(SPEC, argv);
  if (!v.model || !v.adapter || !v.data) throw new UsageError('--model <folder|URL>, --adapter <folder> and --data <file.jsonl> are required (see --help)');
  const precision = v.precision;
  if (precision !== 'fp32' && precision !== 'nf4' && precision !== 'auto') throw new UsageError(`--precision must be fp32, nf4 or auto, not "${precision}"`);
  const int = (x: number) => Number.isInteger(x) && x > 0;
  const options = {
    ...DEFAULT_DATASET_OPTIONS,
    validationPercent: num(v['val-percent'], 'val-percent', DEFAULT_DATASET_OPTIONS.validationPercent, (x) => x >= 0 && x < 100),
    seed: num(v.seed, 'seed', DEFAULT_DATASET_OPTIONS.seed, Number.isInteger),
    maxLength: num(v['max-length'], 'max-length', DEFAULT_DATASET_OPTIONS.maxLength, int),
    trainOnPrompt: v['train-on-prompt'],
    columns: v.columns === undefined ? null : parseColumnsFlag(v.columns, { answers: true }),
  };
  const evalOptions = {
    seqLen: num(v['seq-len'], 'seq-len', DEFAULT_EVAL_OPTIONS.seqLen, int),
    batchSize: num(v.batch, 'batch', DEFAULT_EVAL_OPTIONS.batchSize, int),
    prompts: num(v.prompts, 'prompts', DEFAULT_EVAL_OPTIONS.prompts, (x) => Number.isInteger(x) && x >= 0),
    maxNewTokens: num(v['max-new-tokens'], 'max-new-tokens', DEFAULT_EVAL_OPTIONS.maxNewTokens, int),
    strength: num(v.strength, 'strength', 1, (x) => x >= 0 && x <= 4),
    generalText: v.general ? await readFile(v.general, 'utf8') : existsSync(DEFAULT_GENERAL) ? await readFile(DEFAULT_GENERAL, 'utf8') : undefined,
  };

  await initNodeBackend('wasm');
  const files = await openModelFiles(v.model);
  const tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const model = await loadModel(files, { precision });
  const cfgText = await readFile(path.join(v.adapter, 'adapter_config.json'), 'utf8');
  const st = new Uint8Array(await readFile(path.join(v.adapter, 'adapter_model.safetensors')));
  const { spec, weights } = await fromPeftFiles(cfgText, st, model.config);
  const adapter = LoraAdapter.fromWeights(model.config, spec, weights);
  const prepared = await prepareDataset(await input(v.data), v.validation ? await input(v.validation) : null, tok, options);
  if (prepared.validation.length === 0) process.stderr.write('no held-out examples (use --val-percent or --validation): only the general-text loss is measured\n');

  const s = await evaluateAdapter(model, tok, adapter, prepared.validation, evalOptions, (phase, done, total) => process.stderr.write(`${phase} ${done}/${total}\n`));
  if (s.heldOut) {
    const h = s.heldOut;
    print({ eval: 'heldout', examples: h.examples, tokens: h.base.tokens, base_loss: h.base.loss, tuned_loss: h.tuned.loss, base_perplexity: h.base.perplexity, tuned_perplexity: h.tuned.perplexity });
  }
  if (s.general) {
    const g = s.general;
    print({ eval: 'general', paragraphs: g.paragraphs, base_loss: g.base.loss, tuned_loss: g.tuned.loss, change: g.change, change_percent: g.changePercent });
  }
  for (const g of s.generations) {
    print({ eval: 'generation', index: g.index, line: g.line ?? null, prompt: g.prompt, reference: g.reference, base: g.base.text, tuned: g.tuned.text, base_scores: g.base.scores, tuned_scores: g.tuned.scores, strength: s.strength });
  }
  print({ eval: 'scores', base: s.scores.base, tuned: s.scores.tuned });
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(JSON.stringify({ error: e.message, name: e.name }) + '\n');
  process.exit(e instanceof UsageError || e instanceof ColumnMappingError ? 2 : 1);
});
