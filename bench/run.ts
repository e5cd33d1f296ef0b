// `npm run bench`: builds bench/bench.html with Vite into a temp folder, serves it (with the
// stories260K files when asked), drives headless Chromium and prints one JSON line per variant;
// with --generate, generation speed beside llama.cpp instead (bench/generate-bench.ts). Every flag,
// its default and examples: SPEC below (`npm run bench -- --help`).
import { resolve } from 'node:path';
import { BenchArgumentError, NAMED_MODEL_DIRS } from './args';
import { ROOT, withBenchPage } from './page';
import { parseCli, type CliOption, type CliSpec } from '../cli/usage';
import { readFileSync } from 'node:fs';
import type { BenchOptions } from './bench-entry';
import { VARIANTS, type Variant } from './scale-core';
import { parseTargets } from '../src/train/presets';
import type { RecomputeSetting } from '../src/train/settings';


const SPEC = {
  command: 'npm run bench --',
  summary: 'Training speed and memory per variant in headless Chromium (or Node), one JSON line per row;\nwith --generate, generation speed of the studio beside llama.cpp on its own Q8_0 export of the same model;\nwith --gemm, the matrix products of a training step beside tfjs-wasm and torch.matmul.',
  options: {
    generate: { type: 'boolean', default: false, help: 'Generation rows (studio NF4/fp32 vs llama.cpp) instead of training rows.' },
    gemm: { type: 'boolean', default: false, help: 'The GEMM on a training step\'s products (studio vs tfjs-wasm vs torch.matmul) instead of training rows.' },
    rows: { type: 'string', value: 'N', help: '--gemm: rows of each product, batch x sequence (default 1024).' },
    torch: { type: 'string', value: 'on|off', help: '--gemm: the torch.matmul rows (default on).' },
    python: { type: 'string', value: '<path>', help: '--gemm: the Python with torch (default /usr/bin/python3).' },
    model: { type: 'string', value: 'stories260K|smollm2-135m|qwen2.5-0.5b|synthetic:hidden=256,layers=8,...', help: 'Model: stories260K, a real config with random weights, or a synthetic one (default stories260K; smollm2-135m with --generate).' },
    variants: { type: 'string', value: 'a,b,...', help: `Training: ${VARIANTS.join(', ')} (default fp32,nf4-unfused,nf4-fused; see docs/performance.md). --generate: nf4,fp32 (default both).` },
    backend: { type: 'string', value: 'auto|webgpu|wasm|cpu', help: 'Training backend (default auto: WebGPU only on a real, faster adapter).' },
    batch: { type: 'string', value: 'B', help: 'Training: sequences per step (default 2).' },
    seq: { type: 'string', value: 'T', help: 'Training: tokens per sequence (default 32).' },
    'row-tokens': { type: 'string', value: 'N', help: 'Training: tokens per example, at most --seq (default: --seq). Shorter rows are padded per batch.' },
    recompute: { type: 'string', value: 'auto|on|off|N', help: 'Training: layers recomputed in the backward, replacing the variant\'s setting (auto: the memory plan\'s choice; N: the first N).' },
    steps: { type: 'string', value: 'N', help: 'Training: timed steps (default 3).' },
    warmup: { type: 'string', value: 'N', help: 'Training: untimed steps first (default 1).' },
    targets: { type: 'string', value: 'q_proj,v_proj|all-linear', help: 'Training: LoRA targets (default q_proj,v_proj).' },
    'fused-ops': { type: 'string', value: 'on|off|off,on', help: 'Training on WebGPU: fused norm/rope/gate/softmax kernels; a list runs each variant per setting (default on).' },
    matmul: { type: 'string', value: 'studio|tfjs|tfjs,studio', help: 'wasm (training and --generate): the studio\'s GEMM or tfjs-wasm\'s own matrix products; a list runs each setting in turn (default studio).' },
    threads: { type: 'string', value: 'auto|N', help: 'Training: wasm threads in the page (default auto).' },
    runtime: { type: 'string', value: 'chromium|node', help: 'Training: in headless Chromium, or Node\'s tfjs-wasm on one thread (default chromium). --generate: chromium runs the page\'s threaded wasm build (default: Node).' },
    chromium: { type: 'string', value: '<path>', help: 'Chromium binary (default $CHROMIUM_PATH or /usr/bin/chromium).' },
    'model-dir': { type: 'string', value: '<folder>', help: 'Where stories260K is (default ../shared/models/stories260K).' },
    port: { type: 'string', value: 'N', help: 'Port of the page\'s server (default 5188).' },
    'prompt-tokens': { type: 'string', value: 'N', help: '--generate: prompt length (default 16).' },
    'new-tokens': { type: 'string', value: 'N', help: '--generate: tokens generated per run, at least 2 (default 32).' },
    kernels: { type: 'string', value: 'on|off|on,off', help: '--generate: the SIMD kernels, tfjs\'s own path, or both interleaved (default on).' },
    'llama-cpp': { type: 'string', value: 'on|off', help: '--generate: the llama.cpp rows (default on).' },
    'llama-threads': { type: 'string', value: 'N', help: '--generate: llama.cpp threads (default 2).' },
    repeats: { type: 'string', value: 'N', help: '--generate: timed runs per row (default 1); --gemm: best of N (default 5).' },
    'side-by-side': { type: 'string', value: 'G', help: '--generate: instead of the usual rows, several continuations of one prompt one at a time vs side by side in one batch: Evaluate\'s base + tuned (greedy) and a group of G samples with one adapter (GRPO), interleaved (default off).' },
  },
  examples: [
    'npm run bench -- --model smollm2-135m --variants scaled --batch 4 --seq 256 --runtime node',
    'npm run bench -- --backend wasm --variants fp32,nf4-fused',
    'npm run bench -- --generate --new-tokens 32 --prompt-tokens 16 --kernels on,off --repeats 2 --llama-threads 2',
    'npm run bench -- --gemm --model smollm2-135m --rows 1024',
    'npm run bench -- --generate --side-by-side 4 --variants nf4 --repeats 2',
    'npm run bench -- --generate --runtime chromium --variants nf4 --repeats 2',
  ],
  notes: ['Figures and the commands behind them: docs/performance.md. Exit status: 0 done, 1 failed or bad flags.'],
  usageStatus: 1,
} satisfies CliSpec<Record<string, CliOption>>;

/** synthetic:hidden=256,layers=8,... -> a Llama config.json object. */
function syntheticConfig(spec: string): Record<string, unknown> {
  const kv = Object.fromEntries(spec.split(',').map((p) => p.split('=') as [string, string]));
  const num = (k: string, d: number) => (kv[k] !== undefined ? Number(kv[k]) : d);
  const hidden = num('hidden', 256);
  const heads = num('heads', 8);
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: hidden, intermediate_size: num('inter', Math.round((hidden * 8) / 3 / 4) * 4),
    num_hidden_layers: num('layers', 8), num_attention_heads: heads, num_key_value_heads: num('kv', heads), vocab_size: num('vocab', 2048),
    max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
  };
}

function modelOption(arg: string): BenchOptions['model'] {
  if (arg === 'stories260K') return 'stories260K';
  if (arg.startsWith('synthetic:')) return syntheticConfig(arg.slice(10));
  const dir = NAMED_MODEL_DIRS[arg];
  if (!dir) throw new BenchArgumentError(`bench/run.ts: --model must be stories260K, ${Object.keys(NAMED_MODEL_DIRS).join(', ')} or synthetic:..., found "${arg}"`);
  return JSON.parse(readFileSync(resolve(ROOT, dir, 'config.json'), 'utf8')) as Record<string, unknown>; // the real config, random weights
}

async function main(): Promise<void> {
  const { values } = parseCli(SPEC);
  const { generate, gemm, ...args } = values;
  if (generate) return generateBench(args);
  if (gemm) {
    const { runGemmBench } = await import('./gemm-bench');
    return runGemmBench(
      { model: args.model ?? 'smollm2-135m', rows: Number(args.rows ?? 1024), repeats: Number(args.repeats ?? 5), torch: (args.torch ?? 'on') !== 'off', python: args.python ?? '/usr/bin/python3' },
      ROOT,
    );
  }
  const variants = (args.variants ?? 'fp32,nf4-unfused,nf4-fused').split(',') as Variant[];
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new BenchArgumentError(`bench/run.ts: unknown variant "${v}"; expected ${VARIANTS.join(', ')}`);
  const fusedSettings = (args['fused-ops'] ?? 'on').split(',').map((v) => {
    if (v !== 'on' && v !== 'off') throw new BenchArgumentError(`bench/run.ts: --fused-ops takes on, off or a list of them, found "${v}"`);
    return v === 'on';
  });
  const gemmSettings = matmulList(args.matmul);
  const modelArg = args.model ?? 'stories260K';
  const model = modelOption(modelArg);
  const threads = args.threads === undefined || args.threads === 'auto' ? 'auto' : Number(args.threads);
  const base = {
    backend: (args.backend ?? 'auto') as BenchOptions['backend'], model, modelName: modelArg.startsWith('synthetic:') ? 'synthetic' : modelArg, batch: Number(args.batch ?? 2), seqLen: Number(args.seq ?? 32),
    ...(args['row-tokens'] !== undefined ? { rowTokens: Number(args['row-tokens']) } : {}),
    ...(args.recompute !== undefined ? { recompute: recomputeOption(args.recompute) } : {}),
    steps: Number(args.steps ?? 3), warmupSteps: Number(args.warmup ?? 1), targets: parseTargets(args.targets ?? 'q_proj,v_proj'), threads,
  } satisfies Omit<BenchOptions, 'variant'>;
  if (args.runtime === 'node') return runInNode(base, variants, gemmSettings, args['model-dir']);

  await withBenchPage(
    { port: Number(args.port ?? 5188), chromium: args.chromium, storiesDir: model === 'stories260K' ? args['model-dir'] ?? '../shared/models/stories260K' : undefined },
    async (open) => {
      for (const variant of variants) {
        for (const [fusedOps, gemm] of fusedSettings.flatMap((f) => gemmSettings.map((g) => [f, g] as const))) {
          const page = await open();
          const r = await page.evaluate((o) => window.runBench(o), { ...base, variant, fusedOps, gemm });
          process.stdout.write(JSON.stringify(r) + '\n');
          await page.close();
        }
      }
    },
  );
}

/** The same rows from Node's tfjs-wasm (no page, one thread): quick to iterate on, no Chromium needed. */
async function runInNode(base: Omit<BenchOptions, 'variant'>, variants: Variant[], gemmSettings: boolean[], modelDir?: string): Promise<void> {
  const { initNodeBackend, openModelFiles } = await import('../cli/node-runtime');
  const { runScaleBench } = await import('./scale-core');
  const { syntheticModelFiles } = await import('./synthetic-model');
  const backend = await initNodeBackend(base.backend === 'cpu' ? 'cpu' : 'wasm');
  for (const variant of variants) {
    for (const gemm of gemmSettings) {
      const files = base.model === 'stories260K' ? await openModelFiles(resolve(ROOT, modelDir ?? '../shared/models/stories260K')) : syntheticModelFiles(base.model, base.modelName);
      const row = await runScaleBench(files, { ...base, variant, gemm }, backend === 'wasm' ? 1 : null);
      process.stdout.write(JSON.stringify({ ...row, runtime: 'node' }) + '\n');
    }
  }
}

/** --recompute auto|on|off|N. */
function recomputeOption(v: string): RecomputeSetting {
  if (v === 'auto' || v === 'on' || v === 'off') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new BenchArgumentError(`bench/run.ts: --recompute takes auto, on, off or a layer count, found "${v}"`);
  return n;
}

/** --matmul studio|tfjs|a list -> whether each run uses the studio's GEMM. */
function matmulList(arg: string | undefined): boolean[] {
  return (arg ?? 'studio').split(',').map((v) => {
    if (v !== 'studio' && v !== 'tfjs') throw new BenchArgumentError(`bench/run.ts: --matmul takes studio, tfjs or a list of them, found "${v}"`);
    return v === 'studio';
  });
}

async function generateBench(args: Partial<Record<string, string>>): Promise<void> {
  const { runGenerateBench } = await import('./generate-bench');
  const onOff = (v: string) => {
    if (v !== 'on' && v !== 'off') throw new BenchArgumentError(`bench/run.ts --generate: expected on or off, found "${v}"`);
    return v === 'on';
  };
  const variants = (args.variants ?? 'nf4,fp32').split(',');
  for (const v of variants) if (v !== 'nf4' && v !== 'fp32') throw new BenchArgumentError(`bench/run.ts --generate: --variants takes nf4 and fp32, found "${v}"`);
  if (args.runtime === 'chromium') return pageGenerateBench(args, variants as ('nf4' | 'fp32')[]);
  await runGenerateBench(
    {
      model: args.model ?? 'smollm2-135m', promptTokens: Number(args['prompt-tokens'] ?? 16), newTokens: Number(args['new-tokens'] ?? 32),
      variants: variants as ('nf4' | 'fp32')[], kernels: (args.kernels ?? 'on').split(',').map(onOff), matmul: matmulList(args.matmul), llamaCpp: onOff(args['llama-cpp'] ?? 'on'),
      llamaThreads: Number(args['llama-threads'] ?? 2), repeats: Number(args.repeats ?? 1),
      sideBySide: args['side-by-side'] === undefined ? 0 : Number(args['side-by-side']),
    },
    ROOT,
  );
}

/** --generate --runtime chromium: generation in the page, on the threaded wasm build as the app runs it. */
async function pageGenerateBench(args: Partial<Record<string, string>>, variants: ('nf4' | 'fp32')[]): Promise<void> {
  const name = args.model ?? 'smollm2-135m';
  const dir = NAMED_MODEL_DIRS[name];
  if (!dir || name === 'stories260K') throw new BenchArgumentError(`bench/run.ts --generate --runtime chromium: --model must be one of ${Object.keys(NAMED_MODEL_DIRS).filter((m) => m !== 'stories260K').join(', ')}, found "${name}"`);
  const config = JSON.parse(readFileSync(resolve(ROOT, dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  await withBenchPage({ port: Number(args.port ?? 5188), chromium: args.chromium }, async (open) => {
    for (const precision of variants) {
      const page = await open();
      const rows = await page.evaluate((o) => window.runPageGenerate(o), {
        model: config, modelName: name, precision, promptTokens: Number(args['prompt-tokens'] ?? 16), newTokens: Number(args['new-tokens'] ?? 32), repeats: Number(args.repeats ?? 1),
      });
      for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
      await page.close();
    }
  });
}

main().catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`${err.name}: ${err.message}\n`);
  process.exit(1);
});
