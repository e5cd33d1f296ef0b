// npm run generate -- --model <folder|base URL> --prompt "<text>" [--adapter <folder>] (PEFT LORA, PROMPT_TUNING or PREFIX_TUNING)
//   [--max-new-tokens N] [--greedy | --temperature T --seed S] [--top-p P] [--backend wasm|cpu]
//   [--precision fp32|nf4|auto] (frozen base precision; fp32 by default so references match exactly)
//   [--ignore-eos] (always produce --max-new-tokens; by default generation stops on every eos id and the chat template's end of turn)
// Prints one JSON line: {"prompt_ids": [...], "output_ids": [...], "text": "...", "prefill_tokens_per_s": P,
//   "decode_tokens_per_s": D} (output_ids: new tokens only; rates from src/model/token-rates.ts, D null under two tokens).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initNodeBackend, openModelFiles } from './node-runtime';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { fromAnyPeftFiles } from '../src/adapters/any-peft';
import { LoraAdapter } from '../src/train/lora';
import { stopTokenIds } from '../src/tokenizer/stop-tokens';
import { SoftPromptAdapter } from '../src/train/soft-prompt';
import { tokenRates } from '../src/model/token-rates';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      prompt: { type: 'string', default: '' },
      adapter: { type: 'string' },
      'max-new-tokens': { type: 'string', default: '64' },
      greedy: { type: 'boolean', default: false },
      temperature: { type: 'string' },
      'top-p': { type: 'string', default: '1' },
      seed: { type: 'string', default: '0' },
      backend: { type: 'string', default: 'wasm' },
      precision: { type: 'string', default: 'fp32' },
      'ignore-eos': { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new Error('--model <folder or base URL> is required');
  const backend = await initNodeBackend(values.backend === 'cpu' ? 'cpu' : 'wasm');
  const files = await openModelFiles(values.model);
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const precision = values.precision;
  if (precision !== 'fp32' && precision !== 'nf4' && precision !== 'auto') throw new Error(`--precision must be fp32, nf4 or auto, got ${precision}`);
  const model = await loadModel(files, { precision });
  let adapter: LoraAdapter | null = null;
  let soft: SoftPromptAdapter | null = null;
  if (values.adapter) {
    const cfgText = await readFile(path.join(values.adapter, 'adapter_config.json'), 'utf8');
    const st = new Uint8Array(await readFile(path.join(values.adapter, 'adapter_model.safetensors')));
    const a = await fromAnyPeftFiles(cfgText, st, model.config);
    if (a.type === 'lora') adapter = LoraAdapter.fromWeights(model.config, a.spec, a.weights);
    else soft = SoftPromptAdapter.fromWeights(model.config, a.spec, a.weights);
  }
  const temperature = values.greedy || values.temperature === undefined ? 0 : Number(values.temperature);
  const promptIds = tokenizer.encode(values.prompt ?? '');
  const arrivals: number[] = [];
  const start = performance.now();
  const outputIds = await generate(model, promptIds, {
    maxNewTokens: Number(values['max-new-tokens']),
    temperature,
    topP: Number(values['top-p']),
    seed: Number(values.seed),
    lora: adapter,
    stopIds: values['ignore-eos'] ? [] : stopTokenIds(model.config.eosTokenIds, tokenizer),
    soft: soft?.hook(),
    onToken: () => void arrivals.push(performance.now()),
  });
  const rates = tokenRates(promptIds.length, start, arrivals);
  const text = tokenizer.decode([...promptIds, ...outputIds]);
  process.stderr.write(`backend: ${backend}\n`);
  process.stdout.write(JSON.stringify({ prompt_ids: promptIds, output_ids: outputIds, text, ...rates }) + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
