// The heap-view Slice / Unpack / SplitV on wasm give exactly what tfjs's cpu backend gives, for
// contiguous and strided boxes, every rank up to 5, int32 and bool, and inside gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../cli/node-runtime';
import { copyBox, heapFloat32 } from './wasm-kernels';
import { wasmHeapStats } from './wasm-heap-guard';

/** Runs f on both backends and returns the values of every output. */
async function both(f: () => tf.Tensor | tf.Tensor[]): Promise<{ wasm: unknown; cpu: unknown }> {
  const run = async (b: string) => {
    await tf.setBackend(b);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const vals = await Promise.all(list.map(async (t) => ({ shape: t.shape, dtype: t.dtype, v: Array.from(await t.data()) })));
    tf.dispose(list);
    return vals;
  };
  const wasm = await run('wasm');
  const cpu = await run('cpu');
  await tf.setBackend('wasm');
  return { wasm, cpu };
}

const ramp = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.range(0, shape.reduce((a, b) => a * b, 1), 1, dtype).reshape(shape);

describe('wasm slice kernels', () => {
  beforeAll(async () => {
    expect(await initNodeBackend('wasm')).toBe('wasm');
  });

  it.each([
    [[10], [3], [4]],
    [[4, 6], [1, 2], [2, 3]],
    [[4, 6], [1, 0], [2, 6]],
    [[3, 4, 5], [1, 1, 1], [2, 2, 3]],
    [[3, 4, 5], [2, 0, 0], [1, 4, 5]],
    [[2, 3, 4, 5], [1, 0, 2, 1], [1, 3, 2, 4]],
    [[2, 2, 3, 4, 5], [0, 1, 1, 0, 2], [2, 1, 2, 4, 3]],
  ])('slice of %j from %j, size %j', async (shape, begin, size) => {
    const r = await both(() => tf.slice(ramp(shape), begin, size));
    expect(r.wasm).toEqual(r.cpu);
  });

  it('unstack and split along every axis, int32 and bool too', async () => {
    for (let axis = 0; axis < 3; axis++) {
      const r = await both(() => [...tf.unstack(ramp([3, 4, 5]), axis), ...tf.split(ramp([6, 4, 6], 'int32'), axis === 1 ? [1, 2, 1] : [2, 3, 1], axis), ...tf.split(tf.greater(ramp([4, 6]), 7), 2, axis % 2)]);
      expect(r.wasm).toEqual(r.cpu);
    }
  });

  it('gradients through slice and unstack are unchanged', async () => {
    const r = await both(() => {
      const x = ramp([3, 4, 5]);
      const g = tf.grad((t: tf.Tensor) => tf.add(tf.sum(tf.mul(tf.slice(t, [1, 0, 2], [2, 3, 2]), 3)), tf.sum(tf.square(tf.unstack(t, 1)[2]))));
      return g(x);
    });
    expect(r.wasm).toEqual(r.cpu);
  });

  it('copyBox merges whole trailing axes into one run', () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i);
    const dst = new Float32Array(8);
    copyBox(src, [2, 3, 4], dst, [0, 1, 0], [2, 1, 4]);
    expect(Array.from(dst)).toEqual([4, 5, 6, 7, 16, 17, 18, 19]);
  });
});

describe('wasm Identity', () => {
  it('shares the buffer: a clone survives disposing its source, and a variable assigned from a clone keeps its own value', async () => {
    expect(await initNodeBackend('wasm')).toBe('wasm');
    const buffers = () => (tf.memory() as tf.MemoryInfo & { numDataBuffers: number }).numDataBuffers;
    const before = buffers();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    expect(b.dataId).toBe(a.dataId);
    expect(buffers() - before).toBe(1); // one buffer for both
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3]);
    const v = tf.variable(b);
    tf.tidy(() => v.assign(tf.tensor1d([7, 8, 9])));
    expect(Array.from(await b.data())).toEqual([1, 2, 3]);
    expect(Array.from(await v.data())).toEqual([7, 8, 9]);
    b.dispose();
    v.dispose();
    expect(buffers()).toBe(before);
  });
});

describe('heapFloat32', () => {
  beforeAll(async () => {
    expect(await initNodeBackend('wasm')).toBe('wasm');
  });

  it('fills a wasm tensor in place: values read back, memory is counted and freed, it multiplies', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    const t = heapFloat32([3, 4], (out) => { for (let i = 0; i < out.length; i++) out[i] = i * 0.5; });
    expect(tf.memory().numBytes - bytesBefore).toBe(48);
    expect(Array.from(await t.data())).toEqual(Array.from({ length: 12 }, (_, i) => i * 0.5));
    const ones = tf.ones([1, 3]);
    const y = tf.matMul(ones, t);
    expect(Array.from(await y.data())).toEqual([6, 7.5, 9, 10.5]);
    tf.dispose([t, y, ones]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytesBefore);
  });

  it('inside tidy it is tracked like any tensor; on cpu it is an ordinary tensor', async () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => { heapFloat32([5], (out) => out.fill(2)); });
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
    const c = heapFloat32([2], (out) => out.set([1, 2]));
    expect(Array.from(await c.data())).toEqual([1, 2]);
    c.dispose();
    await tf.setBackend('wasm');
  });
});

describe('wasm Cast', () => {
  beforeAll(async () => {
    expect(await initNodeBackend('wasm')).toBe('wasm');
  });

  it('to the same dtype shares the buffer (nothing allocated), and other casts still convert', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([1.5, -2.25, 3]);
    const heap = wasmHeapStats().inUse; // real allocations (tf.memory().numBytes counts a shared buffer per tensor)
    const same = tf.cast(x, 'float32');
    expect(wasmHeapStats().inUse).toBe(heap);
    expect(Array.from(await same.data())).toEqual([1.5, -2.25, 3]);
    x.dispose();
    expect(Array.from(await same.data())).toEqual([1.5, -2.25, 3]); // the shared buffer lives on
    const i = tf.cast(same, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([1, -2, 3]);
    tf.dispose([same, i]);
  });
});
