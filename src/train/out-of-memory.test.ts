// Which errors count as "the backend ran out of memory" (reported in words, run left resumable).
import { describe, it, expect } from 'vitest';
import { isOutOfMemory, outOfMemoryMessage, OutOfMemoryError } from './out-of-memory';

class RuntimeErrorLike extends Error {
  override name = 'RuntimeError';
}

describe('isOutOfMemory', () => {
  it.each([
    { e: new RuntimeErrorLike('Aborted(). Build with -sASSERTIONS for more info.'), oom: true },
    { e: new RuntimeErrorLike('Aborted(Cannot enlarge memory arrays to size 4294967296 bytes (OOM))'), oom: true },
    { e: new RangeError('Array buffer allocation failed'), oom: true },
    { e: new Error('GPUOutOfMemoryError: Out of memory while creating buffer'), oom: true },
    { e: new OutOfMemoryError('x'), oom: true },
    { e: new Error('Training stopped at step 3: the loss became NaN'), oom: false },
    { e: new TypeError("Cannot read properties of undefined (reading 'backend')"), oom: false },
  ])('$e.name: $e.message -> $oom', ({ e, oom }) => {
    expect(isOutOfMemory(e)).toBe(oom);
  });
  it('says where the run can resume from', () => {
    expect(outOfMemoryMessage('wasm', 12)).toContain('saved at step 12');
    expect(outOfMemoryMessage('wasm', null)).toContain('No checkpoint');
  });
});
