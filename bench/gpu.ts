// `npm run bench:gpu`: one command for a Linux machine with a real GPU. Opens the benchmark page in
// headless Chromium with WebGPU on Vulkan, says which adapter it got, and refuses to report a
// software rasterizer (SwiftShader, llvmpipe...) as a GPU. Then prints, one JSON line each: the
// adapter; training rows on WebGPU at a real model shape (fp32 base, NF4 decoded then multiplied,
// NF4 fused kernels); generation rows on WebGPU (NF4 and fp32 base); attention rows (the dense core
// and the flash kernels at three tile sizes, 256 and 2,048 tokens); an NF4 row (the fused kernel at
// its three output tiles against dequantize-then-matmul, as the page times it); and one LoRA step's loss and
// gradients on WebGPU against the cpu backend on stories260K. Exit status: 0 done (every check
// passed), 1 failed, 2 no GPU adapter (or a software one without --allow-software).
import { BenchArgumentError, NAMED_MODEL_DIRS } from './args';
import { ROOT, withBenchPage } from './page';
import { parseCli, type CliOption, type CliSpec } from '../cli/usage';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BenchOptions } from './bench-entry';
import { VARIANTS, type Variant } from './scale-core';
import { parseTargets } from '../src/train/presets';

const SPEC = {
  command: 'npm run bench:gpu --',
  summary: 'Training, generation, attention variants and a cpu-equality check on this machine\'s GPU through WebGPU in headless Chromium;\nrefuses a software adapter. One JSON line per row.',
  options: {
    model: { type: 'string', value: ['stories260K', ...Object.keys(NAMED_MODEL_DIRS)].join('|'), help: 'The training and generation rows\' model: a real config with random weights, or stories260K to try the command quickly (default smollm2-135m).' },
    variants: { type: 'string', value: 'a,b,...', help: `Training variants: ${VARIANTS.join(', ')} (default fp32,nf4-unfused,nf4-fused).` },
    batch: { type: 'string', value: 'B', help: 'Training: sequences per step (default 4).' },
    seq: { type: 'string', value: 'T', help: 'Training: tokens per sequence (default 256).' },
    steps: { type: 'string', value: 'N', help: 'Training: timed steps (default 3).' },
    warmup: { type: 'string', value: 'N', help: 'Training: untimed steps first (default 1).' },
    'prompt-tokens': { type: 'string', value: 'N', help: 'Generation: prompt length (default 16).' },
    'new-tokens': { type: 'string', value: 'N', help: 'Generation: tokens per run (default 32).' },
    'attention-seq': { type: 'string', value: 'T,T,...', help: 'Attention rows: tokens per row timed (default 256,2048; the page chooses at 256).' },
    'allow-software': { type: 'boolean', default: false, help: 'Run on a software adapter anyway (to try the command; its rows are marked, never GPU figures).' },
    chromium: { type: 'string', value: '<path>', help: 'Chromium binary (default $CHROMIUM_PATH or /usr/bin/chromium).' },
    'model-dir': { type: 'string', value: '<folder>', help: 'Where stories260K is, for the equality check (default ../shared/models/stories260K).' },
    port: { type: 'string', value: 'N', help: 'Port of the page\'s server (default 5189).' },
  },
  examples: ['npm run bench:gpu', 'npm run bench:gpu -- --model qwen2.5-0.5b --batch 2 --seq 512', 'npm run bench:gpu -- --allow-software --model stories260K --batch 2 --seq 32 --steps 1'],
  notes: ['Exit status: 0 done and every check passed, 1 a failure or bad flags, 2 no GPU adapter (or a software one).'],
  usageStatus: 1,
} satisfies CliSpec<Record<string, CliOption>>;

// Linux: WebGPU runs on Vulkan; without these Chromium's headless GPU process may fall back to SwiftShader.
const GPU_ARGS = ['--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist', '--enable-gpu'];

const line = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<number> {
  const { values: args } = parseCli(SPEC);
  const modelName = args.model ?? 'smollm2-135m';
  const dir = NAMED_MODEL_DIRS[modelName];
  if (!dir && modelName !== 'stories260K') throw new BenchArgumentError(`bench/gpu.ts: --model must be stories260K or ${Object.keys(NAMED_MODEL_DIRS).join(' or ')}, found "${modelName}"`);
  const model: BenchOptions['model'] = dir ? (JSON.parse(readFileSync(resolve(ROOT, dir, 'config.json'), 'utf8')) as Record<string, unknown>) : 'stories260K';
  const variants = (args.variants ?? 'fp32,nf4-unfused,nf4-fused').split(',') as Variant[];
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new BenchArgumentError(`bench/gpu.ts: unknown variant "${v}"; expected ${VARIANTS.join(', ')}`);
  const attentionSeqs = (args['attention-seq'] ?? '256,2048').split(',').map(Number);
  if (attentionSeqs.some((T) => !Number.isInteger(T) || T < 1)) throw new BenchArgumentError(`bench/gpu.ts: --attention-seq takes whole token counts, found "${args['attention-seq']}"`);
  const base = {
    backend: 'webgpu', model, modelName, batch: Number(args.batch ?? 4), seqLen: Number(args.seq ?? 256), steps: Number(args.steps ?? 3),
    warmupSteps: Number(args.warmup ?? 1), targets: parseTargets('q_proj,v_proj'), threads: 'auto',
  } satisfies Omit<BenchOptions, 'variant'>;
  return withBenchPage(
    { port: Number(args.port ?? 5189), chromium: args.chromium, extraArgs: GPU_ARGS, storiesDir: args['model-dir'] ?? '../shared/models/stories260K' },
    async (open) => {
      let page = await open();
      const info = await page.evaluate(() => window.gpuInfo());
      await page.close();
      const software = info.backend === 'webgpu' && info.software;
      line({ bench: 'gpu', check: 'adapter', ...info });
      if (info.backend !== 'webgpu') {
        process.stderr.write(`bench:gpu: no WebGPU adapter (${info.reason}); nothing to measure.\n`);
        return 2;
      }
      if (software && !args['allow-software']) {
        process.stderr.write(`bench:gpu: the adapter is a software rasterizer (${info.adapter}), not a GPU; its times are not GPU figures. --allow-software runs anyway, with every row marked.\n`);
        return 2;
      }
      const mark = software ? { software_adapter: true, not_a_gpu_figure: true } : {};
      for (const variant of variants) {
        page = await open();
        const r = await page.evaluate((o) => window.runBench(o), { ...base, variant });
        line({ bench: 'gpu', check: 'training', ...r, ...mark });
        await page.close();
      }
      for (const precision of ['nf4', 'fp32'] as const) {
        page = await open();
        const r = await page.evaluate((o) => window.runGpuGenerate(o), { model, modelName, precision, promptTokens: Number(args['prompt-tokens'] ?? 16), newTokens: Number(args['new-tokens'] ?? 32) });
        line({ bench: 'gpu', check: 'generation', model: modelName, ...r, ...mark });
        await page.close();
      }
      for (const T of attentionSeqs) {
        page = await open();
        const r = await page.evaluate((o) => window.runGpuAttention(o), { model, modelName, T });
        line({ bench: 'gpu', check: 'attention', model: modelName, ...r, ...mark });
        await page.close();
      }
      page = await open();
      const nf4 = await page.evaluate((o) => window.runGpuNf4Tiles(o), { model, modelName, rows: 512 });
      line({ bench: 'gpu', check: 'nf4-tiles', model: modelName, ...nf4, ...mark });
      await page.close();
      page = await open();
      const eq = await page.evaluate(() => window.gpuEquality());
      await page.close();
      for (const r of eq) line({ bench: 'gpu', ...r, ...mark });
      return eq.every((r) => r.pass) ? 0 : 1;
    },
  );
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e as Error;
    process.stderr.write(`${err.name}: ${err.message}\n`);
    process.exit(1);
  },
);
