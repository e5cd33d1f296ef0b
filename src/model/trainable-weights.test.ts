// gatherRows: its table gradient (a JS scatter-add off WebGPU) equals oneHot(ids)ᵀ · dy computed
// independently, repeated ids included, on wasm and cpu.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../cli/node-runtime';
import { gatherRows } from './trainable-weights';

describe('gatherRows', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it.each(['wasm', 'cpu'])('the table gradient adds dy rows at their ids (%s)', async (backend) => {
    await tf.setBackend(backend);
    const V = 7;
    const C = 3;
    const table = tf.tensor2d(Array.from({ length: V * C }, (_, i) => Math.sin(i)), [V, C]);
    const ids = tf.tensor1d([2, 5, 2, 0, 6, 2], 'int32');
    const w = tf.tensor2d(Array.from({ length: 6 * C }, (_, i) => (i % 5) - 2), [6, C]); // dloss/drows
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherRows(t as tf.Tensor2D, ids), w)))(table);
    const want = new Float32Array(V * C);
    const idv = [2, 5, 2, 0, 6, 2];
    const wv = await w.data();
    idv.forEach((id, n) => { for (let c = 0; c < C; c++) want[id * C + c] += wv[n * C + c]; });
    expect(g.shape).toEqual([V, C]);
    expect(Array.from(await g.data())).toEqual(Array.from(want));
    expect(Array.from(await gatherRows(table, ids).data())).toEqual(Array.from(await tf.gather(table, ids).data()));
    tf.dispose([table, ids, w, g]);
    await tf.setBackend('wasm');
  });
});
