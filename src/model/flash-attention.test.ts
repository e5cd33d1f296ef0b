// The flash kernels exist only on WebGPU (e2e/flash-attention.spec.ts checks them there): off it
// the decoder never picks them, whatever the switch says, and a direct call fails with a named
// error instead of a missing-kernel message from deep inside tfjs.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlashAttentionBackendError, flashAttention, flashAttentionActive, setFlashAttention } from './flash-attention';

describe('flash attention off WebGPU', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => setFlashAttention(null));

  it('is never active on cpu, switched on or not', () => {
    for (const on of [null, true, false]) {
      setFlashAttention(on);
      expect(flashAttentionActive()).toBe(false);
    }
  });

  it('refuses to run with a named error that says the backend', () => {
    const q = tf.zeros([1, 1, 4, 8]) as tf.Tensor4D;
    const k = tf.zeros([1, 1, 4, 8]) as tf.Tensor4D;
    const call = () => flashAttention(q, k, k, { B: 1, T: 4, G: 1, past: 0, window: null }, { scale: 1, softcap: null });
    expect(call).toThrow(FlashAttentionBackendError);
    expect(call).toThrow(/'cpu'/);
    tf.dispose([q, k]);
  });
});
