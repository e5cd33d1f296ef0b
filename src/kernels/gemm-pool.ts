// Threads for the GEMM in the page. tfjs-wasm's threaded build shares its heap between workers,
// so helper workers (gemm-worker.ts) instantiate the kernel module on that same heap and each
// computes a range of the product's columns; the caller (the engine's worker, which may block)
// computes the first range itself, then waits on Atomics for the others. Every element's sum is
// the same whatever the split (assembly/gemm.ts), so threads change the time, never a result.
// Without a shared heap (Node's tfjs-wasm, a page without cross-origin isolation) there is no
// pool and every product runs on the calling thread.
import { SLOT, SlotField } from './gemm-slots';
import { simdKernels } from './simd-kernels';

interface Pool {
  memory: WebAssembly.Memory;
  ctl: Int32Array;
  args: Uint32Array;
  helpers: Worker[];
  /** Byte offset of each helper's packing space in the heap. */
  work: number[];
  seq: number;
  broken: boolean;
  /** Why the pool stopped being used, when it did. */
  error: string | null;
}

let wanted = 1;
let pool: Pool | null = null;

/** Threads the GEMM may use (the wasm backend's thread count; 1 turns the pool off). */
export function setGemmThreads(n: number): void {
  wanted = Math.max(1, Math.floor(n));
  if (pool && pool.helpers.length + 1 !== wanted) stopGemmPool();
}

/**
 * Starts the helpers for the current wasm backend, if it has a shared heap and more than one
 * thread was asked for. Call it right after the backend is set and before long synchronous work:
 * Chromium starts a worker only once its creator returns to its event loop, and the engine's
 * training step does not for many seconds.
 */
export function startGemmPool(): void {
  const k = simdKernels();
  if (k) poolFor(k);
}

/** Threads the next product would use now (1 until helpers have started). */
export function gemmThreads(): number {
  return pool && !pool.broken ? 1 + readyHelpers(pool).length : 1;
}

/** Indices of the helpers waiting for work. */
function readyHelpers(p: Pool): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.helpers.length; i++) if (Atomics.load(p.ctl, i * SLOT + SlotField.Ready) === 1) out.push(i);
  return out;
}

/** The pool as a line for benchmarks and diagnostics. */
export function gemmPoolState(): string {
  if (!pool) return wanted <= 1 ? 'off (one thread asked)' : 'not started (no shared heap yet, or no product big enough)';
  if (pool.broken) return `broken: ${pool.error ?? 'unknown'}`;
  return `${gemmThreads()} of ${pool.helpers.length + 1} threads ready`;
}

export function stopGemmPool(): void {
  if (!pool) return;
  for (let i = 0; i < pool.helpers.length; i++) {
    Atomics.store(pool.ctl, i * SLOT + SlotField.Seq, -1);
    Atomics.notify(pool.ctl, i * SLOT + SlotField.Seq);
    pool.helpers[i].terminate();
  }
  pool = null;
}

/** What the pool needs of the loaded kernel module (simd-kernels.ts's Loaded has it). */
export interface PoolKernels {
  exports: { gemm: (...a: number[]) => void; gemmWorkBytes(): number };
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  backend: { wasm: { _malloc(bytes: number): number } };
}

/**
 * Helpers for the kernels' heap (started once, in the background: products run on one thread
 * until they report ready), or null where a pool cannot exist.
 */
function poolFor(k: PoolKernels): Pool | null {
  const { module, memory } = k;
  if (wanted <= 1 || typeof Worker === 'undefined' || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  if (pool && pool.memory === memory) return pool.broken ? null : pool;
  stopGemmPool();
  const n = wanted - 1;
  const control = new SharedArrayBuffer(n * SLOT * 4);
  const p: Pool = {
    memory, ctl: new Int32Array(control), args: new Uint32Array(control), helpers: [],
    work: Array.from({ length: n }, () => k.backend.wasm._malloc(k.exports.gemmWorkBytes()) >>> 0), seq: 0, broken: false, error: null,
  };
  for (let i = 0; i < n; i++) {
    const w = new Worker(new URL('./gemm-worker.ts', import.meta.url), { type: 'module', name: `gemm-${i + 1}` });
    w.onerror = (e) => {
      p.broken = true;
      p.error = `helper ${i + 1} failed to start: ${e.message || 'no message'}`;
    };
    w.postMessage({ module, memory, control, index: i });
    p.helpers.push(w);
  }
  pool = p;
  return p;
}

/**
 * Runs gemm(...args, n0, n1) over [0, N): split by columns (multiples of 8) across the ready
 * helpers and this thread when the product is big enough to gain, else in one call here.
 * `args` are the export's arguments up to `work` (work included: this thread's packing space).
 */
export function runSplit(k: PoolKernels, args: number[], N: number, flops: number): void {
  const t0 = performance.now();
  split(k, args, N, flops);
  totals.products++;
  totals.flops += flops;
  totals.ms += performance.now() - t0;
}

/** Every product since the last reset: how many, their flops and wall milliseconds (benchmarks: the GEMM's share of a step). */
const totals = { products: 0, flops: 0, ms: 0 };

export function gemmTotals(): { products: number; flops: number; ms: number } {
  return { ...totals };
}

export function resetGemmTotals(): void {
  totals.products = 0;
  totals.flops = 0;
  totals.ms = 0;
}

function split(k: PoolKernels, args: number[], N: number, flops: number): void {
  const p = flops >= MIN_SPLIT_FLOPS && N >= 16 ? poolFor(k) : null;
  const helpers = p ? readyHelpers(p) : [];
  if (!p || helpers.length === 0) {
    k.exports.gemm(...args, 0, N);
    return;
  }
  const parts = Math.min(helpers.length + 1, Math.floor(N / 8));
  const cut = (i: number) => (i === parts ? N : Math.round((N / 8) * (i / parts)) * 8);
  const seq = ++p.seq;
  const used = helpers.slice(0, parts - 1);
  used.forEach((h, j) => {
    const base = h * SLOT;
    const a = [...args];
    a[a.length - 1] = p.work[h]; // its own packing space
    p.args.set([...a, cut(j + 1), cut(j + 2)], base + SlotField.Args);
    Atomics.store(p.ctl, base + SlotField.Seq, seq);
    Atomics.notify(p.ctl, base + SlotField.Seq);
  });
  k.exports.gemm(...args, 0, cut(1));
  let failed = false;
  for (const h of used) {
    const base = h * SLOT;
    // A window's thread may not block (Atomics.wait throws there): it spins instead (benchmarks
    // run the engine on the page's thread; the app runs it in a worker).
    while (Atomics.load(p.ctl, base + SlotField.Done) !== seq) if (canBlock) Atomics.wait(p.ctl, base + SlotField.Done, Atomics.load(p.ctl, base + SlotField.Done), 1000);
    if (Atomics.load(p.ctl, base + SlotField.Status) !== 0) failed = true;
  }
  if (failed) {
    // A helper's kernel threw (it should not): mark the pool broken and redo the product here.
    p.broken = true;
    p.error = 'a helper\'s kernel threw';
    k.exports.gemm(...args, 0, N);
  }
}

const canBlock = typeof (globalThis as { document?: unknown }).document === 'undefined';

/** Below this many flops a product runs on the calling thread (waking helpers costs ~10-50 µs). */
const MIN_SPLIT_FLOPS = 4e6;
