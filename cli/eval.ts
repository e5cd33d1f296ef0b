// npm run eval -- --model <folder|URL> --adapter <folder> --data <file.jsonl|.csv|.parquet|...> [--columns field=column,...] [--general <file>]
//   [--validation <file.jsonl>] [--val-percent P] [--seed S] [--max-length N] [--train-on-prompt]
//   [--seq-len T] [--batch B] [--prompts N] [--max-new-tokens N] [--strength S] [--precision fp32|nf4|auto]
// The Evaluate view's figures in Node, from the same pure module (src/eval/evaluate.ts): the data is
// prepared and split exactly as the page does (same options, same seed), so the held-out set is the
// same one. Prints JSON lines:
//   {"eval":"heldout","examples","tokens","base_loss","tuned_loss","base_perplexity","tuned_perplexity"}
//   {"eval":"general","paragraphs","base_loss","tuned_loss","change","change_percent"}
//   {"eval":"generation","index","line","prompt","reference","base","tuned","base_scores","tuned_scores","strength"} (one per prompt)
//   {"eval":"scores","base":{"exact","startsLike","stopped","of"},"tuned":{...}}
// Exit status: 0 done, 1 failed, 2 usage.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend, openModelFiles } from './node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { fromPeftFiles } from '../src/adapters/peft';
import { LoraAdapter } from '../src/train/lora';
import { DEFAULT_DATASET_OPTIONS, prepareDataset, type PrepareInput } from '../src/data/prepare';
import { ColumnMappingError, parseColumnsFlag } from '../src/data/columns';
import { openDatasetFile } from './dataset-file';
import { DEFAULT_EVAL_OPTIONS, evaluateAdapter } from '../src/eval/evaluate';

const USAGE = 'usage: npm run eval -- --model <folder|URL> --adapter <folder> --data <file.jsonl|.csv|.parquet|...> [--columns field=column,...] [--general <file>] [--validation <file.jsonl>] [--val-percent P] [--seed S] [--max-length N] [--train-on-prompt] [--seq-len T] [--batch B] [--prompts N] [--max-new-tokens N] [--strength S] [--precision fp32|nf4|auto]';
const DEFAULT_GENERAL = fileURLToPath(new URL('../public/eval/general-text.txt', import.meta.url));

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
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string' },
      data: { type: 'string' },
      columns: { type: 'string' },
      general: { type: 'string' },
      validation: { type: 'string' },
      'val-percent': { type: 'string' },
      seed: { type: 'string' },
      'max-length': { type: 'string' },
      'train-on-prompt': { type: 'boolean', default: false },
      'seq-len': { type: 'string' },
      batch: { type: 'string' },
      prompts: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      strength: { type: 'string' },
      precision: { type: 'string', default: 'fp32' },
    },
  });
  if (!v.model || !v.adapter || !v.data) throw new UsageError(USAGE);
  const precision = v.precision;
  if (precision !== 'fp32' && precision !== 'nf4' && precision !== 'auto') throw new UsageError(`--precision must be fp32, nf4 or auto, not "${precision}"`);
  const int = (x: number) => Number.isInteger(x) && x > 0;
  const options = {
    ...DEFAULT_DATASET_OPTIONS,
    validationPercent: num(v['val-percent'], 'val-percent', DEFAULT_DATASET_OPTIONS.validationPercent, (x) => x >= 0 && x < 100),
    seed: num(v.seed, 'seed', DEFAULT_DATASET_OPTIONS.seed, Number.isInteger),
    maxLength: num(v['max-length'], 'max-length', DEFAULT_DATASET_OPTIONS.maxLength, int),
    columns: v.columns === undefined ? null : parseColumnsFlag(v.columns),
    trainOnPrompt: v['train-on-prompt'],
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
