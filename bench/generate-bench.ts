// `npm run bench -- --generate`: generation speed of the studio on Node's tfjs-wasm (NF4 base with
// the int8 head, fp32 base with the fp32 head) beside llama.cpp (node-llama-cpp) on the studio's
// own Q8_0 GGUF export of the same random-weight model, in one run, one JSON line per row.
// Options: --model smollm2-135m|qwen2.5-0.5b (real config and tokenizer, random weights)
//   --prompt-tokens 16 --new-tokens 32 --variants nf4,fp32 --kernels on|off|on,off (off: tfjs's
//   path, the code before src/kernels) --llama-cpp on|off --llama-threads 2 --repeats 1
// Prefill: prompt tokens / time to the first new token. Decode: tokens after the first / their time.
// --side-by-side G: several continuations of one prompt decoded one at a time (`generate` per row)
// and side by side in one batch (src/model/generate-rows.ts), interleaved: Evaluate's base + tuned
// (greedy) and GRPO's group of G samples (one adapter, a seed each); tokens_per_s counts every row's
// tokens, and same_tokens says whether the batch produced the lone runs' tokens.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BenchArgumentError, NAMED_MODEL_DIRS } from './args';
import { syntheticModelFiles } from './synthetic-model';
import { initNodeBackend } from '../cli/node-runtime';
import { NodeFolderSink } from '../cli/file-sink';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { generateRows } from '../src/model/generate-rows';
import { LoraAdapter } from '../src/train/lora';
import type { LoraHook } from '../src/model/llama';
import * as tf from '@tensorflow/tfjs';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { listModelTensors } from '../src/export/model-tensors';
import { writeGgufModel } from '../src/export/gguf/model-file';
import { setSimdKernels, simdKernels } from '../src/kernels/simd-kernels';
import { setGemmKernel } from '../src/kernels/gemm';
import type { LlamaModel } from '../src/model/llama';
import type { ModelFileSet } from '../src/model/files';
import { SpeedMeter, tokenRates } from '../src/model/generation-speed';

type Timing = { prefill_tokens_per_s: number; decode_tokens_per_s: number };

/** Rates of a run that produced at least two tokens. */
function rates(meter: SpeedMeter): Timing {
  const r = tokenRates(meter.result());
  if (r.prefill_tokens_per_s === null || r.decode_tokens_per_s === null) throw new BenchArgumentError('bench --generate: --new-tokens must be at least 2');
  return { prefill_tokens_per_s: r.prefill_tokens_per_s, decode_tokens_per_s: r.decode_tokens_per_s };
}

export interface GenerateBenchOptions {
  model: string;
  promptTokens: number;
  newTokens: number;
  variants: ('nf4' | 'fp32')[];
  kernels: boolean[];
  /** The studio's GEMM (true) or tfjs-wasm's own matrix products, interleaved like `kernels`. */
  matmul: boolean[];
  llamaCpp: boolean;
  llamaThreads: number;
  repeats: number;
  /** G > 0: the side-by-side rows (sideBySideRows) instead of the usual ones. */
  sideBySide?: number;
}

const round = (x: number) => Math.round(x * 100) / 100;

async function studioRun(model: LlamaModel, prompt: number[], newTokens: number): Promise<Timing> {
  const meter = new SpeedMeter(prompt.length);
  await generate(model, prompt, { maxNewTokens: newTokens, stopIds: [], onToken: () => meter.token() });
  return rates(meter);
}

async function llamaCppRun(file: string, prompt: number[], newTokens: number, threads: number, repeats: number): Promise<Timing[]> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: file });
  const out: Timing[] = [];
  try {
    for (let r = 0; r <= repeats; r++) {
      const ctx = await model.createContext({ contextSize: 512, batchSize: 512, threads });
      const meter = new SpeedMeter(prompt.length);
      let n = 0;
      for await (const _ of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        meter.token();
        if (++n >= newTokens) break;
      }
      await ctx.dispose();
      if (r > 0) out.push(rates(meter)); // run 0 warms up
    }
  } finally {
    await model.dispose();
  }
  return out;
}

export async function runGenerateBench(o: GenerateBenchOptions, root: string): Promise<void> {
  const dir = NAMED_MODEL_DIRS[o.model];
  if (!dir) throw new BenchArgumentError(`bench --generate: --model must be one of ${Object.keys(NAMED_MODEL_DIRS).join(', ')}, found "${o.model}"`);
  const backend = await initNodeBackend('wasm');
  const folder = path.resolve(root, dir);
  const config = JSON.parse(await readFile(path.join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  const files: ModelFileSet = {
    ...syntheticModelFiles(config, o.model),
    tokenizerJson: JSON.parse(await readFile(path.join(folder, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(await readFile(path.join(folder, 'tokenizer_config.json'), 'utf8')),
  };
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const text = 'Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to every child that would listen.';
  const prompt = tokenizer.encode(text).slice(0, o.promptTokens);
  if (prompt.length < o.promptTokens) throw new BenchArgumentError(`bench --generate: the prompt text has only ${prompt.length} tokens`);
  const common = { model: o.model, prompt_tokens: prompt.length, new_tokens: o.newTokens };
  if (o.sideBySide) return sideBySideRows(o, files, prompt, common);

  let llama: Timing | null = null;
  if (o.llamaCpp) {
    const tmp = await mkdtemp(path.join(tmpdir(), 'bench-gguf-'));
    try {
      const sink = new NodeFolderSink(tmp);
      const tensors = await listModelTensors(files);
      await writeGgufModel(await sink.create('model-q8_0.gguf'), { config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tokenizer, tensors, name: o.model }, 'q8_0');
      const runs = await llamaCppRun(path.join(tmp, 'model-q8_0.gguf'), prompt, o.newTokens, o.llamaThreads, o.repeats);
      for (const t of runs) process.stdout.write(JSON.stringify({ bench: 'generate', engine: 'llama.cpp (node-llama-cpp 3.22.1)', base: 'q8_0 (studio GGUF export)', threads: o.llamaThreads, ...common, ...t }) + '\n');
      llama = median(runs);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  for (const precision of o.variants) {
    const headPrecision = precision === 'nf4' ? 'int8' : 'fp32';
    const model = await loadModel(files, { precision, headPrecision });
    try {
      await studioRun(model, prompt, 2); // warm-up: heap copies for the kernels, tfjs kernels compiled
      for (let r = 0; r < o.repeats; r++) {
        for (const [kernels, gemm] of o.kernels.flatMap((k) => o.matmul.map((g) => [k, g] as const))) { // interleaved, so load drift hits every setting alike
          setSimdKernels(kernels);
          setGemmKernel(gemm);
          const t = await studioRun(model, prompt, o.newTokens);
          const variant = kernels ? simdKernels()?.variant ?? 'none' : 'off (tfjs path)';
          const ratio = llama ? { decode_vs_llama_cpp: round(t.decode_tokens_per_s / llama.decode_tokens_per_s), prefill_vs_llama_cpp: round(t.prefill_tokens_per_s / llama.prefill_tokens_per_s) } : {};
          const matmul = kernels && gemm ? 'studio' : 'tfjs';
          process.stdout.write(JSON.stringify({ bench: 'generate', engine: 'studio', backend, threads: 1, base: precision, head: headPrecision, simd_kernels: variant, matmul, ...common, ...t, ...ratio }) + '\n');
        }
      }
    } finally {
      setSimdKernels(true);
      setGemmKernel(true);
      model.dispose();
    }
  }
}

function median(ts: Timing[]): Timing {
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { prefill_tokens_per_s: mid(ts.map((t) => t.prefill_tokens_per_s)), decode_tokens_per_s: mid(ts.map((t) => t.decode_tokens_per_s)) };
}

/** One-at-a-time vs side-by-side rows for Evaluate's pair and GRPO's group, per variant, interleaved. */
async function sideBySideRows(o: GenerateBenchOptions, files: ModelFileSet, prompt: number[], common: Record<string, unknown>): Promise<void> {
  const G = o.sideBySide!;
  if (!(G >= 2)) throw new BenchArgumentError(`bench --generate: --side-by-side takes a group size of at least 2, found "${G}"`);
  for (const precision of o.variants) {
    const headPrecision = precision === 'nf4' ? 'int8' : 'fp32';
    const model = await loadModel(files, { precision, headPrecision });
    // LoRA r=8 on q and v with non-zero B, so base and tuned columns differ as after training.
    const adapter = LoraAdapter.create(model.config, { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: o.model }, 1);
    for (const v of adapter.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 2));
    const seeds = Array.from({ length: G }, (_, i) => 100 + i);
    const works: { work: string; hooks: (LoraHook | null)[]; temperature: number }[] = [
      { work: 'evaluate: base + tuned, greedy', hooks: [null, adapter], temperature: 0 },
      { work: `grpo: ${G} samples, one adapter`, hooks: seeds.map(() => adapter), temperature: 1 },
    ];
    try {
      await generateRows(model, prompt, [null, adapter], { maxNewTokens: 2 }); // warm-up
      for (const w of works) {
        const opts = { maxNewTokens: o.newTokens, temperature: w.temperature, stopIds: [] as number[] };
        for (let r = 0; r < o.repeats; r++) {
          let t0 = performance.now();
          const lone: number[][] = [];
          for (const [i, hook] of w.hooks.entries()) lone.push(await generate(model, prompt, { ...opts, seed: seeds[i], lora: hook }));
          const loneS = (performance.now() - t0) / 1000;
          t0 = performance.now();
          const rows = await generateRows(model, prompt, w.hooks, { ...opts, seeds: seeds.slice(0, w.hooks.length) });
          const rowsS = (performance.now() - t0) / 1000;
          const tokens = rows.reduce((n, x) => n + x.length, 0);
          const same = JSON.stringify(rows) === JSON.stringify(lone);
          for (const [mode, s] of [['one at a time', loneS], ['side by side', rowsS]] as const) {
            process.stdout.write(JSON.stringify({ bench: 'generate-side-by-side', engine: 'studio', threads: 1, base: precision, head: headPrecision, ...common, work: w.work, rows: w.hooks.length, mode, seconds: round(s), tokens_per_s: round(tokens / s), ...(mode === 'side by side' ? { speedup: round(loneS / rowsS), same_tokens: same } : {}) }) + '\n');
          }
        }
      }
    } finally {
      adapter.dispose();
      model.dispose();
    }
  }
}
