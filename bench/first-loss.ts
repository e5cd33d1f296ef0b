// `npx tsx bench/first-loss.ts`: time from a cached model to its first loss point, in the app as a
// person uses it. Writes a SmolLM2-135M-shaped model (the real config.json and tokenizer from
// ../shared/tokenizers/smollm2, random weights from bench/synthetic-model.ts) to a temp folder,
// serves it like the hub, builds and serves the app (cross-origin isolated), then in Chromium:
//   1. loads the model with an NF4 base (download into IndexedDB, quantize, cache), once;
//   2. reloads the page: the model comes back from IndexedDB (NF4 from the quantized cache);
//   3. drops a dataset and starts LoRA training at batch 4 x 256 (q+v, r=8, packing on);
//   4. once its 2 steps are done, presses "Evaluate base vs tuned" (held-out loss, the forgetting
//      check, and 4 validation prompts x 32 new tokens in both columns, base and tuned).
// Prints one JSON line: seconds from reload to model ready, from Start to the first loss, their
// sum, Evaluate's seconds from the press to its last answer, and when each of its progress lines
// first showed (`evaluate_phases_s`; a phase that passed between two polls, 50 ms apart, is
// absent: a loss Evaluate already knew); with --evaluate twice, `evaluate_again_s`, a second press
// on the same adapter (every loss known, only the answers generated). Options: --backend wasm|webgpu
// (default wasm), --batch 4, --seq 256, --model smollm2-135m, --evaluate off|twice (skip step 4, or press twice).
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright';
import { build, preview } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config';
import { ISOLATION_HEADERS } from '../vite.config';
import { startModelServer } from '../e2e/model-server';
import { syntheticModelFiles } from './synthetic-model';
import { BenchArgumentError, NAMED_MODEL_DIRS, parseArgs } from './args';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The synthetic model as files a hub would serve: config, tokenizer, one safetensors file. */
async function writeModel(dir: string, name: string): Promise<void> {
  const src = resolve(ROOT, NAMED_MODEL_DIRS[name]!);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(src, f), join(dir, f));
  const files = syntheticModelFiles(JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')), name);
  const bytes = files.shards[0]!.bytes;
  const out = createWriteStream(join(dir, 'model.safetensors'));
  const step = 16 << 20;
  for (let o = 0; o < bytes.size; o += step) {
    const chunk = await bytes.read(o, Math.min(step, bytes.size - o));
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

/** Plain English prose, long enough that packed rows of 256 tokens fill. */
function writeDataset(file: string): void {
  const words = 'the dragon flew over the quiet village at dawn and every child ran to the hill to watch it turn toward the sea'.split(' ');
  const lines = Array.from({ length: 64 }, (_, i) => JSON.stringify({ text: Array.from({ length: 300 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ') }));
  writeFileSync(file, lines.join('\n') + '\n');
}

async function untilLoaded(page: Page, timeoutMs: number): Promise<void> {
  await page.getByLabel('Loaded model').filter({ hasText: 'loaded from' }).waitFor({ timeout: timeoutMs });
}

/** Polls Evaluate's progress line until stopped: each distinct text with the seconds since t0 it first showed. */
function watchProgress(page: Page, t0: number): { stop: () => Promise<Record<string, number>> } {
  const seen: Record<string, number> = {};
  let on = true;
  const line = page.getByRole('region', { name: 'Evaluate' }).locator('p', { hasText: /^Measuring / });
  const loop = (async () => {
    while (on) {
      const text = await line.first().textContent({ timeout: 200 }).catch(() => null);
      const key = text?.replace(/^Measuring /, '').replace(/…$/, '');
      if (key && !(key in seen)) seen[key] = Math.round((Date.now() - t0) / 100) / 10;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { stop: async () => ((on = false), await loop, seen) };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2), 'bench/first-loss.ts');
  const model = o.model ?? 'smollm2-135m';
  const backend = o.backend ?? 'wasm';
  const batch = o.batch ?? '4';
  const seq = o.seq ?? '256';
  if (!NAMED_MODEL_DIRS[model]) throw new BenchArgumentError(`bench/first-loss.ts: --model must be one of ${Object.keys(NAMED_MODEL_DIRS).join(', ')}, found "${model}"`);
  const dir = mkdtempSync(join(tmpdir(), 'first-loss-'));
  const outDir = join(dir, 'app');
  const modelDir = join(dir, 'model');
  mkdirSync(modelDir);
  let server: Awaited<ReturnType<typeof preview>> | null = null;
  await writeModel(modelDir, model);
  const models = await startModelServer({ root: modelDir });
  const browser = await chromium.launch({ executablePath: o.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    writeDataset(join(dir, 'data.jsonl'));
    await build({ root: ROOT, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    server = await preview({ root: ROOT, logLevel: 'warn', build: { outDir }, preview: { port: Number(o.port ?? 5191), strictPort: true, host: '127.0.0.1', headers: ISOLATION_HEADERS } });
    const page = await browser.newPage();
    page.on('console', (m) => m.type() === 'error' && process.stderr.write(`[page] ${m.text()}\n`));
    const url = `http://127.0.0.1:${o.port ?? 5191}/?backend=${backend}`;
    await page.goto(url);
    await page.getByLabel('Base precision').selectOption({ label: 'NF4 4-bit' });
    const t0 = Date.now();
    await page.getByLabel('Model URL or Hugging Face repo').fill(models.url);
    await page.getByRole('button', { name: 'Load model' }).click();
    await untilLoaded(page, 20 * 60_000);
    const firstLoadS = (Date.now() - t0) / 1000;

    const t1 = Date.now();
    await page.reload();
    await untilLoaded(page, 10 * 60_000);
    const cachedLoadS = (Date.now() - t1) / 1000;
    const memory = (await page.getByLabel('Base memory').textContent()) ?? '';
    const threads = (await page.getByTestId('train-threads').textContent().catch(() => null)) ?? null;

    await page.getByLabel('Dataset file (JSONL)').setInputFiles(join(dir, 'data.jsonl'));
    await page.getByLabel('Dataset summary').filter({ hasText: 'data.jsonl' }).waitFor({ timeout: 120_000 });
    const fold = page.locator('details.advanced');
    if ((await fold.getAttribute('open')) === null) await fold.getByText('Advanced settings', { exact: true }).click();
    await page.getByLabel('Steps').fill('2');
    await page.getByLabel('Batch size').fill(batch);
    await page.getByLabel('Sequence length').fill(seq);
    const ack = page.getByLabel('I have read the serious findings and want to train anyway');
    if (await ack.isVisible()) await ack.check();
    const t2 = Date.now();
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByTestId('train-first-loss').filter({ hasText: /\d/ }).waitFor({ timeout: 20 * 60_000 });
    const firstLossS = (Date.now() - t2) / 1000;
    const firstLoss = Number(await page.getByTestId('train-first-loss').textContent());
    let evaluateS: number | null = null;
    let answers: number | null = null;
    let phases: Record<string, number> | null = null;
    let evaluateAgainS: number | null = null;
    if (o.evaluate !== 'off') {
      await page.getByTestId('state-train').filter({ hasText: 'Done: adapter ready' }).waitFor({ timeout: 20 * 60_000 });
      const evaluate = page.getByRole('region', { name: 'Evaluate' });
      const t3 = Date.now();
      await evaluate.getByRole('button', { name: 'Evaluate base vs tuned' }).click();
      // Seconds at which each progress line ("Measuring held-out loss (0/2)…") first showed.
      const watch = watchProgress(page, t3);
      await page.getByTestId('state-train').filter({ hasText: 'Done: trained and evaluated' }).waitFor({ timeout: 20 * 60_000 });
      evaluateS = (Date.now() - t3) / 1000;
      phases = await watch.stop();
      answers = await evaluate.getByRole('group', { name: /^Held-out example/ }).count();
      if (o.evaluate === 'twice') {
        // The same adapter again: every loss is known now, so only the answers are generated.
        const button = evaluate.getByRole('button', { name: 'Evaluate base vs tuned' });
        const t4 = Date.now();
        await button.click();
        await page.waitForFunction(() => [...document.querySelectorAll('section[aria-label="Evaluate"] button')].some((b) => b.textContent === 'Evaluate base vs tuned' && (b as HTMLButtonElement).disabled), undefined, { timeout: 60_000 });
        await page.waitForFunction(() => [...document.querySelectorAll('section[aria-label="Evaluate"] button')].some((b) => b.textContent === 'Evaluate base vs tuned' && !(b as HTMLButtonElement).disabled), undefined, { timeout: 20 * 60_000 });
        evaluateAgainS = (Date.now() - t4) / 1000;
      }
    }
    process.stdout.write(JSON.stringify({
      model, backend, batch: Number(batch), seq_len: Number(seq), threads,
      first_load_s: firstLoadS, cached_load_s: cachedLoadS, start_to_first_loss_s: firstLossS,
      cached_to_first_loss_s: Math.round((cachedLoadS + firstLossS) * 10) / 10, first_loss: firstLoss, evaluate_s: evaluateS, evaluate_phases_s: phases, ...(o.evaluate === 'twice' ? { evaluate_again_s: evaluateAgainS } : {}), evaluate_answers: answers, base_memory: memory.replace(/\s+/g, ' ').trim(),
    }) + '\n');
  } finally {
    await browser.close();
    if (server) await new Promise<void>((r) => server!.httpServer.close(() => r()));
    await models.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).name}: ${(e as Error).message}\n`);
  process.exit(1);
});
