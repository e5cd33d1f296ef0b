// Full fine-tuning against LoRA on one model, in one run (Node, wasm): milliseconds per step (mean of
// steps 2..N, the first compiles), the loss after N steps at the same learning rate, trainable
// parameters and the estimate's memory. Not a test: timings vary by machine.
//   npx tsx bench/full-finetune.ts [--model <folder>] [--steps 10] [--lr 3e-4] [--batch 4] [--seq 64]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { parseDatasetText } from '../src/data/dataset';
import { FullFineTune } from '../src/train/full-finetune';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { estimateTraining } from '../src/train/estimate';

const { values: v } = parseArgs({ options: { model: { type: 'string', default: '../shared/models/stories260K' }, steps: { type: 'string', default: '10' }, lr: { type: 'string', default: '3e-4' }, batch: { type: 'string', default: '4' }, seq: { type: 'string', default: '64' } } });
await initNodeBackend('wasm');
const files = await openModelFiles(v.model!);
const base = await loadModel(files);
const tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
const seqLen = Number(v.seq);
const examples = (await parseDatasetText(readFileSync('public/examples/stories-dragon.jsonl', 'utf8'), { fileName: 'stories-dragon.jsonl', tokenizer: tok, maxLength: seqLen + 1 })).examples;
const settings = { ...DEFAULT_TRAIN, steps: Number(v.steps), batchSize: Number(v.batch), seqLen, learningRate: Number(v.lr), warmupSteps: 0, schedule: 'constant' as const, seed: 3, divergenceFactor: 0 };
const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
for (const method of ['lora', 'full'] as const) {
  const adapter = method === 'full' ? await FullFineTune.create(files, base) : LoraAdapter.create(base.config, { r: 8, alpha: 16, dropout: 0, targetModules: [...targets], useRslora: false, baseModel: 'x' }, 3);
  const t = new Trainer(base, adapter, examples, settings);
  const ms: number[] = [];
  const losses: number[] = [];
  await t.run((r) => { ms.push(r.stepMs); losses.push(r.loss); });
  const e = estimateTraining({ config: base.config, rank: 8, targets: [...targets], batchSize: settings.batchSize, seqLen, gradAccum: 1, examples: examples.length, steps: settings.steps, backend: 'wasm', method });
  const rest = ms.slice(1);
  console.log(JSON.stringify({ method, model: v.model, steps: settings.steps, lr: settings.learningRate, ms_per_step: Math.round(rest.reduce((a, b) => a + b, 0) / rest.length), first_loss: +losses[0].toFixed(4), last5_mean_loss: +(losses.slice(-5).reduce((a, b) => a + b, 0) / 5).toFixed(4), trainable_parameters: adapter.parameterCount(), estimate_total_mb: +(e.memory.total / 2 ** 20).toFixed(1) }));
  t.dispose();
  adapter.dispose();
}
