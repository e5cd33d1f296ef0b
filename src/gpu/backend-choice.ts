// Picks the tfjs backend the worker trains on, by what is actually fast here: WebGPU when a real
// (not software-fallback) adapter exists and a short matmul probe is not slower than wasm; wasm
// otherwise; cpu as the last resort. A forced choice is honoured (or fails loudly).
import { setGemmThreads, startGemmPool } from '../kernels/gemm-pool';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './wasm-kernels';
import { guardWasmHeap } from './wasm-heap-guard';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerNf4Kernels } from './nf4-matmul';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface BackendChoice {
  backend: BackendName;
  /** The WebGPU adapter in words (vendor, architecture, device), or null when there is none. */
  adapterDescription: string | null;
  /** Why this backend, for the UI and benchmark output. */
  reason: string;
  /** wasm: threads XNNPACK multiplies with (1 unless the page is cross-origin isolated); null elsewhere. */
  threads?: number | null;
  /** Whether the context is cross-origin isolated (SharedArrayBuffer, hence wasm threads, available). */
  crossOriginIsolated?: boolean;
}

export interface ChooseBackendOptions {
  force?: BackendName;
  /**
   * Where the tfjs-backend-wasm .wasm files are: a folder URL/path prefix, or a map of file name
   * to URL (Vite: src/gpu/wasm-urls.ts). Unset: tfjs's default (next to the script).
   */
  wasmPaths?: string | Record<string, string>;
  /** Called with WebGPU errors that no promise reports (they never reach a worker's console). */
  onGpuError?: (message: string) => void;
  /** Matmul size of the speed probe (n x n by n x n). */
  probeSize?: number;
  /**
   * wasm threads (cross-origin isolated contexts only; elsewhere one): a count, or 'auto'
   * (resolveWasmThreads). More than one uses tfjs's threaded SIMD build.
   */
  wasmThreads?: 'auto' | number;
}

/** Cross-origin isolation of this context (page or worker); false in Node. */
export function isCrossOriginIsolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Threads the initialised wasm backend runs with, null when wasm is not initialised. */
export function wasmThreadsCount(): number | null {
  try {
    return getThreadsCount();
  } catch {
    return null;
  }
}

/** Adds the thread facts to a choice (they matter only on wasm). */
function withThreads(c: BackendChoice): BackendChoice {
  return { ...c, threads: c.backend === 'wasm' ? wasmThreadsCount() : null, crossOriginIsolated: isCrossOriginIsolated() };
}

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

interface AdapterProbe {
  description: string | null;
  isFallback: boolean;
}

async function probeAdapter(): Promise<AdapterProbe> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { description: null, isFallback: false };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { description: null, isFallback: false };
  // adapter.info is newer than the installed @webgpu/types; isFallbackAdapter moved onto it.
  const withInfo = adapter as GPUAdapter & { info?: GPUAdapterInfo & { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };
  const info = withInfo.info ?? ({} as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean });
  const legacy = withInfo.isFallbackAdapter;
  const words = [info.vendor, info.architecture, info.device, info.description].filter((w) => w);
  return {
    description: words.length ? [...new Set(words)].join(' ') : 'unnamed adapter',
    isFallback: info.isFallbackAdapter ?? legacy ?? false,
  };
}

let wasmPathsSet = false;

/**
 * Threads for wasm: an explicit count as given; 'auto' every logical core up to 4 (small machines:
 * a training step keeps them all busy, and the main thread is idle meanwhile), half of them above
 * that (tfjs's own assumption of two hardware threads per core), at most 8 (tfjs's worker pool).
 */
export function resolveWasmThreads(threads: 'auto' | number, logicalCores: number | undefined): number {
  if (threads !== 'auto') return Math.max(1, Math.min(8, Math.floor(threads)));
  const n = logicalCores && logicalCores > 0 ? logicalCores : 1;
  return Math.min(8, n <= 4 ? n : Math.floor(n / 2));
}

/**
 * tfjs-wasm caps its XNNPACK pool at half of navigator.hardwareConcurrency (read once, when the
 * wasm module starts, assuming two hardware threads per core). An explicit count above that cap
 * is a deliberate choice (benchmarks, machines without SMT), so this context reports enough
 * logical cores for it; only tfjs in this context reads the value.
 */
function liftThreadCap(threads: number): void {
  const nav = globalThis.navigator as Navigator | undefined;
  if (!nav || nav.hardwareConcurrency >= 2 * threads) return;
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
}

async function activate(name: BackendName, opts: ChooseBackendOptions): Promise<boolean> {
  if (name === 'wasm' && !wasmPathsSet && opts.wasmPaths !== undefined) {
    // The threaded build needs SharedArrayBuffer, i.e. a cross-origin isolated page and worker
    // (COOP same-origin + COEP require-corp, see vite.config.ts); without it tfjs would fail.
    // tools/tfjs-wasm-threads-plugin.ts keeps its pthread workers working in the minified bundle.
    const threads = resolveWasmThreads(opts.wasmThreads ?? 'auto', globalThis.navigator?.hardwareConcurrency);
    const threaded = isCrossOriginIsolated() && threads > 1;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threaded);
    if (threaded) {
      setThreadsCount(threads);
      liftThreadCap(threads);
    }
    setGemmThreads(threaded ? threads : 1); // the studio's GEMM splits its products over as many
    setWasmPaths(opts.wasmPaths as string);
    wasmPathsSet = true;
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch {
    ok = false;
  }
  if (ok && name === 'wasm') {
    registerWasmKernels();
    guardWasmHeap();
    startGemmPool(); // its workers start while this context awaits below
  }
  if (ok && name === 'webgpu') {
    registerNf4Kernels();
    const device = (tf.backend() as WebGPUBackend).device;
    const report = opts.onGpuError ?? ((m: string) => console.error(`WebGPU error: ${m}`));
    device.addEventListener('uncapturederror', (ev) => report((ev as GPUUncapturedErrorEvent).error.message));
  }
  return ok;
}

/** GFLOP/s of an n x n matmul on the active backend, after one warm-up (shader compilation). */
async function matmulGflops(n: number): Promise<number> {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  await tf.matMul(a, b).data(); // warm-up
  const reps = 3;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  a.dispose();
  b.dispose();
  return (2 * n * n * n * reps) / seconds / 1e9;
}

export async function chooseBackend(opts: ChooseBackendOptions = {}): Promise<BackendChoice> {
  return withThreads(await choose(opts));
}

async function choose(opts: ChooseBackendOptions): Promise<BackendChoice> {
  const adapter = await probeAdapter();
  const adapterDescription = adapter.description;

  if (opts.force) {
    if (!(await activate(opts.force, opts))) {
      throw new BackendUnavailableError(
        `src/gpu/backend-choice.ts chooseBackend: forced backend '${opts.force}' failed to initialise` +
          (opts.force === 'webgpu' && !adapterDescription ? ' (no WebGPU adapter)' : ''),
      );
    }
    return { backend: opts.force, adapterDescription, reason: `forced: ${opts.force}` };
  }

  let reason: string;
  if (!adapterDescription) {
    reason = 'no WebGPU adapter';
  } else if (adapter.isFallback) {
    const name = /swiftshader/i.test(adapterDescription) ? 'SwiftShader' : adapterDescription;
    reason = `WebGPU adapter is a software fallback (${name})`;
  } else if (!(await activate('webgpu', opts))) {
    reason = 'WebGPU backend failed to initialise';
  } else {
    const n = opts.probeSize ?? 256;
    const gpu = await matmulGflops(n);
    if (!(await activate('wasm', opts))) {
      await activate('webgpu', opts);
      return { backend: 'webgpu', adapterDescription, reason: `wasm unavailable; WebGPU ${gpu.toFixed(1)} GFLOP/s` };
    }
    const cpu = await matmulGflops(n);
    const figures = `matmul probe: WebGPU ${gpu.toFixed(1)} vs wasm ${cpu.toFixed(1)} GFLOP/s`;
    if (gpu >= cpu) {
      await activate('webgpu', opts);
      return { backend: 'webgpu', adapterDescription, reason: figures };
    }
    return { backend: 'wasm', adapterDescription, reason: `WebGPU slower than wasm (${figures})` };
  }
  if (await activate('wasm', opts)) return { backend: 'wasm', adapterDescription, reason };
  await activate('cpu', opts);
  return { backend: 'cpu', adapterDescription, reason: `${reason}; wasm failed to initialise` };
}
