// The benchmark page: builds bench/bench.html with Vite into a temp folder, serves it cross-origin
// isolated (with stories260K's files at /model/ when asked) and drives headless Chromium. Shared by
// `npm run bench` (bench/run.ts) and `npm run bench:gpu` (bench/gpu.ts).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import type { preview as vitePreview } from 'vite';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchPageOptions {
  port: number;
  chromium?: string;
  /** Extra Chromium flags (bench:gpu's Vulkan switches). */
  extraArgs?: string[];
  /** Where stories260K's files are, to serve at /model/ (omit: none). */
  storiesDir?: string;
}

/** Runs `fn` with a function that opens a fresh page of the built benchmark (status 'ready'). */
export async function withBenchPage<T>(o: BenchPageOptions, fn: (open: () => Promise<Page>) => Promise<T>): Promise<T> {
  const outDir = mkdtempSync(join(tmpdir(), 'lora-bench-'));
  // The page's toolchain loads only here, so --help and the Node rows start quickly.
  const [{ chromium }, { build, preview }, { CHROMIUM_ARGS }, { ISOLATION_HEADERS }, { tfjsWasmThreads }] = await Promise.all([
    import('playwright'), import('vite'), import('../playwright.config'), import('../vite.config'), import('../tools/tfjs-wasm-threads-plugin'),
  ]);
  let server: Awaited<ReturnType<typeof vitePreview>> | null = null;
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: o.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...(o.extraArgs ?? [])] });
    await build({
      configFile: false, root: ROOT, logLevel: 'warn', worker: { format: 'es', plugins: () => [tfjsWasmThreads()] }, plugins: [tfjsWasmThreads()],
      build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192, rollupOptions: { input: { bench: join(ROOT, 'bench/bench.html') } } },
    });
    if (o.storiesDir) cpSync(resolve(ROOT, o.storiesDir), join(outDir, 'model'), { recursive: true });
    server = await preview({ configFile: false, root: ROOT, logLevel: 'warn', build: { outDir }, preview: { port: o.port, strictPort: true, host: '127.0.0.1', headers: ISOLATION_HEADERS } });
    const b = browser;
    return await fn(async () => {
      const page = await b.newPage(); // a fresh page per row: fresh tfjs state and GPU device
      page.on('console', (m) => m.type() === 'error' && process.stderr.write(`[page] ${m.text()}\n`));
      await page.goto(`http://127.0.0.1:${o.port}/bench/bench.html`);
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
      return page;
    });
  } finally {
    await browser?.close();
    if (server) await new Promise<void>((r) => server!.httpServer.close(() => r()));
    rmSync(outDir, { recursive: true, force: true });
  }
}
