// tfjs-backend-wasm allocates every tensor with the Emscripten module's _malloc and never checks
// the result. Built with memory growth, malloc returns 0 when the heap cannot grow (here: past
// 3 GiB), and tfjs then writes the tensor at address 0 over whatever lives there: training goes on
// with silently wrong numbers, or aborts later somewhere unrelated. The guard wraps _malloc so a
// failed allocation throws WasmHeapExhaustedError at once, before anything is written; tfjs's
// tidy scopes then free the step's tensors and the backend stays usable, so a run can pause at its
// checkpoint and resume with a smaller batch in the same page.
//
// An optional ceiling (bytes of heap) makes the same failure happen on a smaller heap: the e2e
// journey uses it to run out of memory on a tiny model, and a person can use it to try what fits
// a smaller device (URL parameter wasm-heap-limit-mb, see backend-choice.ts).
import * as tf from '@tensorflow/tfjs';

export class WasmHeapExhaustedError extends Error {
  override name = 'WasmHeapExhaustedError';
}

interface WasmModule {
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
}

const guarded = new WeakSet<object>();
let ceiling: number | null = null;
let inUse = 0;
let peak = 0;

/** Bytes allocated through the guarded _malloc and not freed, and the most since the last reset. */
export function wasmHeapStats(): { inUse: number; peak: number } {
  return { inUse, peak };
}
export function resetWasmHeapPeak(): void {
  peak = inUse;
}

/** Bytes allocated through _malloc and not yet freed past which allocations fail (null: only the real limit). */
export function setWasmHeapCeiling(bytes: number | null): void {
  ceiling = bytes;
}

/** Wraps the active wasm backend's _malloc (once per module); a no-op on other backends. */
export function guardWasmHeap(): void {
  if (tf.getBackend() !== 'wasm') return;
  const wasm = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
  if (guarded.has(wasm)) return;
  // Emscripten's exports start as stubs that replace themselves with the native function on first
  // call (which would drop a wrapper put over the stub): call each once, then wrap what is there.
  (wasm as unknown as { _free(p: number): void })._free(wasm._malloc(8));
  const malloc = wasm._malloc.bind(wasm);
  const live = new Map<number, number>(); // address -> bytes, for the ceiling's running total
  const free = (wasm as unknown as { _free(p: number): void })._free.bind(wasm);
  wasm._malloc = (bytes: number) => {
    if (ceiling !== null && bytes > 0 && inUse + bytes > ceiling) {
      throw new WasmHeapExhaustedError(`The wasm heap is out of memory: ${fmt(bytes)} more would pass the ${fmt(ceiling)} limit set for this page (${fmt(inUse)} in use).`);
    }
    const p = malloc(bytes);
    if (p === 0 && bytes > 0) {
      throw new WasmHeapExhaustedError(`The wasm heap is out of memory: ${fmt(bytes)} could not be allocated (the heap is at ${fmt(wasm.HEAPU8.length)}, its limit).`);
    }
    live.set(p >>> 0, bytes);
    inUse += bytes;
    if (inUse > peak) peak = inUse;
    return p;
  };
  (wasm as unknown as { _free(p: number): void })._free = (p: number) => {
    const n = live.get(p >>> 0);
    if (n !== undefined) { live.delete(p >>> 0); inUse -= n; }
    free(p);
  };
  guarded.add(wasm);
}

function fmt(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(2)} GiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
