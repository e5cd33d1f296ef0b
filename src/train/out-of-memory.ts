// Recognising "the backend ran out of memory" among the errors a training step can throw, so the
// run can say so in words and point at its last checkpoint instead of showing a raw abort.
//   wasm:   RuntimeError "Aborted(...)" / "Aborted()" (the heap could not grow), or "memory access
//           out of bounds" after a failed allocation; RangeError "Array buffer allocation failed".
//   WebGPU: GPUOutOfMemoryError / "Out of memory" validation messages from createBuffer.

export class OutOfMemoryError extends Error {
  override name = 'OutOfMemoryError';
}

const PATTERNS = [/WasmHeapExhausted/, /\bAborted\(/, /out of memory/i, /Array buffer allocation failed/i, /memory access out of bounds/i, /GPUOutOfMemoryError/, /Cannot enlarge memory/i];

export function isOutOfMemory(e: unknown): boolean {
  if (e instanceof OutOfMemoryError) return true;
  const err = e as { name?: string; message?: string } | null;
  const text = `${err?.name ?? ''}: ${err?.message ?? String(e)}`;
  return PATTERNS.some((p) => p.test(text));
}

/** The words a person sees, with what to do next. */
export function outOfMemoryMessage(backend: string, checkpointStep: number | null): string {
  return `The ${backend} backend ran out of memory during training. ${checkpointStep !== null ? `The run is saved at step ${checkpointStep}: resume it with a smaller batch (or recomputation on).` : 'No checkpoint was saved yet: start again with a smaller batch or recomputation on.'}`;
}
