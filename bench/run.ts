// `npm run bench`: builds bench/bench.html with Vite into a temp folder, serves it (with the
// stories260K files when asked), drives headless Chromium and prints one JSON line per variant.
// Options (all optional):
//   --backend auto|webgpu|wasm|cpu   (default auto: WebGPU only on a real, faster adapter)
//   --variants fp32,nf4-unfused,nf4-fused   (all: bench/scale-core.ts; naive,scaled for the scale rows)
//   --model stories260K | smollm2-135m | qwen2.5-0.5b | synthetic:hidden=256,layers=8,heads=8,kv=8,inter=688,vocab=2048
//            (smollm2-135m / qwen2.5-0.5b: the real config.json from ../shared/tokenizers, random weights)
//   --batch 2 --seq 32 --steps 3 --warmup 1 --targets q_proj,v_proj|all-linear
//   --fused-ops on|off|off,on   WebGPU's fused norm/rope/gate/softmax kernels (default on); a list
//            runs every variant once per setting (rows say fused_ops; dispatches_per_step counts GPU programs)
//   --threads auto|N   wasm threads (the page is served cross-origin isolated, so threads are available)
//   --runtime chromium|node   node: the same benchmark in Node's tfjs-wasm (single thread, no page)
//   --chromium /usr/bin/chromium     (or CHROMIUM_PATH); --model-dir ../shared/models/stories260K
// `npm run bench -- --generate [--model smollm2-135m --prompt-tokens 16 --new-tokens 32 ...]`:
//   generation speed beside llama.cpp instead (bench/generate-bench.ts lists its options).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config';
import { ISOLATION_HEADERS } from '../vite.config';
import { tfjsWasmThreads } from '../tools/tfjs-wasm-threads-plugin';
import { BenchArgumentError, NAMED_MODEL_DIRS, parseArgs } from './args';
import { readFileSync } from 'node:fs';
import type { BenchOptions } from './bench-entry';
import { VARIANTS, type Variant } from './scale-core';
import { parseTargets } from '../src/train/presets';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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
  const argv = process.argv.slice(2);
  if (argv.includes('--generate')) return generateBench(parseArgs(argv.filter((a) => a !== '--generate'), 'bench/run.ts --generate'));
  const args = parseArgs(argv, 'bench/run.ts');
  const variants = (args.variants ?? 'fp32,nf4-unfused,nf4-fused').split(',') as Variant[];
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new BenchArgumentError(`bench/run.ts: unknown variant "${v}"; expected ${VARIANTS.join(', ')}`);
  const fusedSettings = (args['fused-ops'] ?? 'on').split(',').map((v) => {
    if (v !== 'on' && v !== 'off') throw new BenchArgumentError(`bench/run.ts: --fused-ops takes on, off or a list of them, found "${v}"`);
    return v === 'on';
  });
  const modelArg = args.model ?? 'stories260K';
  const model = modelOption(modelArg);
  const threads = args.threads === undefined || args.threads === 'auto' ? 'auto' : Number(args.threads);
  const base = {
    backend: (args.backend ?? 'auto') as BenchOptions['backend'], model, modelName: modelArg.startsWith('synthetic:') ? 'synthetic' : modelArg, batch: Number(args.batch ?? 2), seqLen: Number(args.seq ?? 32),
    steps: Number(args.steps ?? 3), warmupSteps: Number(args.warmup ?? 1), targets: parseTargets(args.targets ?? 'q_proj,v_proj'), threads,
  } satisfies Omit<BenchOptions, 'variant'>;
  if (args.runtime === 'node') return runInNode(base, variants, args['model-dir']);

  const outDir = mkdtempSync(join(tmpdir(), 'lora-bench-'));
  const port = Number(args.port ?? 5188);
  let server: Awaited<ReturnType<typeof preview>> | null = null;
  const browser = await chromium.launch({ executablePath: args.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    await build({
      configFile: false, root: ROOT, logLevel: 'warn', worker: { format: 'es', plugins: () => [tfjsWasmThreads()] }, plugins: [tfjsWasmThreads()],
      build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192, rollupOptions: { input: { bench: join(ROOT, 'bench/bench.html') } } },
    });
    if (model === 'stories260K') cpSync(resolve(ROOT, args['model-dir'] ?? '../shared/models/stories260K'), join(outDir, 'model'), { recursive: true });
    server = await preview({ configFile: false, root: ROOT, logLevel: 'warn', build: { outDir }, preview: { port, strictPort: true, host: '127.0.0.1', headers: ISOLATION_HEADERS } });
    for (const variant of variants) {
      for (const fusedOps of fusedSettings) {
        const page = await browser.newPage(); // a fresh page per row: fresh tfjs state and GPU device
        page.on('console', (m) => m.type() === 'error' && process.stderr.write(`[page] ${m.text()}\n`));
        await page.goto(`http://127.0.0.1:${port}/bench/bench.html`);
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
        const r = await page.evaluate((o) => window.runBench(o), { ...base, variant, fusedOps });
        process.stdout.write(JSON.stringify(r) + '\n');
        await page.close();
      }
    }
  } finally {
    await browser.close();
    if (server) await new Promise<void>((r) => server!.httpServer.close(() => r()));
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The same rows from Node's tfjs-wasm (no page, one thread): quick to iterate on, no Chromium needed. */
async function runInNode(base: Omit<BenchOptions, 'variant'>, variants: Variant[], modelDir?: string): Promise<void> {
  const { initNodeBackend, openModelFiles } = await import('../cli/node-runtime');
  const { runScaleBench } = await import('./scale-core');
  const { syntheticModelFiles } = await import('./synthetic-model');
  const backend = await initNodeBackend(base.backend === 'cpu' ? 'cpu' : 'wasm');
  for (const variant of variants) {
    const files = base.model === 'stories260K' ? await openModelFiles(resolve(ROOT, modelDir ?? '../shared/models/stories260K')) : syntheticModelFiles(base.model, base.modelName);
    const row = await runScaleBench(files, { ...base, variant }, backend === 'wasm' ? 1 : null);
    process.stdout.write(JSON.stringify({ ...row, runtime: 'node' }) + '\n');
  }
}

async function generateBench(args: Record<string, string>): Promise<void> {
  const { runGenerateBench } = await import('./generate-bench');
  const onOff = (v: string) => {
    if (v !== 'on' && v !== 'off') throw new BenchArgumentError(`bench/run.ts --generate: expected on or off, found "${v}"`);
    return v === 'on';
  };
  const variants = (args.variants ?? 'nf4,fp32').split(',');
  for (const v of variants) if (v !== 'nf4' && v !== 'fp32') throw new BenchArgumentError(`bench/run.ts --generate: --variants takes nf4 and fp32, found "${v}"`);
  await runGenerateBench(
    {
      model: args.model ?? 'smollm2-135m', promptTokens: Number(args['prompt-tokens'] ?? 16), newTokens: Number(args['new-tokens'] ?? 32),
      variants: variants as ('nf4' | 'fp32')[], kernels: (args.kernels ?? 'on').split(',').map(onOff), llamaCpp: onOff(args['llama-cpp'] ?? 'on'),
      llamaThreads: Number(args['llama-threads'] ?? 2), repeats: Number(args.repeats ?? 1),
    },
    ROOT,
  );
}

main().catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`${err.name}: ${err.message}\n`);
  process.exit(1);
});
