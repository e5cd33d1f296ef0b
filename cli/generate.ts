// npm run generate: a continuation of a prompt from a model (and a PEFT adapter), as the Use step
// makes it. Flags, output and exit status: SPEC below (`npm run generate -- --help`).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCli, usageExit, type CliOption, type CliSpec } from './usage';
import { initNodeBackend, openModelFiles } from './node-runtime';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { fromAnyPeftFiles } from '../src/adapters/any-peft';
import { LoraAdapter } from '../src/train/lora';
import { stopTokenIds } from '../src/tokenizer/stop-tokens';
import { SoftPromptAdapter } from '../src/train/soft-prompt';

const SPEC = {
  command: 'npm run generate --',
  summary: 'Generates a continuation of a prompt with a model (and optionally a PEFT adapter), as the Use step does.',
  options: {
    model: { type: 'string', value: '<folder|base URL>', help: 'Hugging Face model folder or base URL (required).' },
    prompt: { type: 'string', default: '', value: '"<text>"', help: 'Prompt text (tokenized with the model\'s tokenizer).' },
    adapter: { type: 'string', value: '<folder>', help: 'PEFT adapter folder: LORA, PROMPT_TUNING or PREFIX_TUNING.' },
    'max-new-tokens': { type: 'string', default: '64', value: 'N', help: 'New tokens to generate at most.' },
    greedy: { type: 'boolean', default: false, help: 'Always take the most likely token (the default when no --temperature).' },
    temperature: { type: 'string', value: 'T', help: 'Sampling temperature; 0 is greedy.' },
    'top-p': { type: 'string', default: '1', value: 'P', help: 'Nucleus sampling: keep the smallest set of tokens whose probability reaches P.' },
    seed: { type: 'string', default: '0', value: 'S', help: 'Sampling seed.' },
    backend: { type: 'string', default: 'wasm', value: 'wasm|cpu', help: 'tfjs backend.' },
    precision: { type: 'string', default: 'fp32', value: 'fp32|nf4|auto', help: 'Frozen base precision (fp32 so references match exactly).' },
    'ignore-eos': { type: 'boolean', default: false, help: 'Always produce --max-new-tokens (by default every eos id and the end of turn stop).' },
  },
  examples: [
    'npm run generate -- --model ../shared/models/stories260K --prompt "Once upon a time" --greedy',
    'npm run generate -- --model ./my-model --adapter ./out/adapter --prompt "Hello" --temperature 0.7 --seed 1',
  ],
  notes: ['Prints one JSON line: {"prompt_ids": [...], "output_ids": [...], "text": "..."} (output_ids: new tokens only).', 'Exit status: 0 done, 1 failed, 2 usage.'],
} satisfies CliSpec<Record<string, CliOption>>;

async function main(): Promise<void> {
  const { values } = parseCli(SPEC);
  if (!values.model) usageExit(SPEC, '--model <folder or base URL> is required');
  const backend = await initNodeBackend(values.backend === 'cpu' ? 'cpu' : 'wasm');
  const files = await openModelFiles(values.model);
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const precision = values.precision;
  if (precision !== 'fp32' && precision !== 'nf4' && precision !== 'auto') usageExit(SPEC, `--precision must be fp32, nf4 or auto, got ${precision}`);
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
  const outputIds = await generate(model, promptIds, {
    maxNewTokens: Number(values['max-new-tokens']),
    temperature,
    topP: Number(values['top-p']),
    seed: Number(values.seed),
    lora: adapter,
    stopIds: values['ignore-eos'] ? [] : stopTokenIds(model.config.eosTokenIds, tokenizer),
    soft: soft?.hook(),
  });
  const text = tokenizer.decode([...promptIds, ...outputIds]);
  process.stderr.write(`backend: ${backend}\n`);
  process.stdout.write(JSON.stringify({ prompt_ids: promptIds, output_ids: outputIds, text }) + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
