// `npx tsx bench/fused-loss.ts`: the fused head cross-entropy alone (loss and dL/dh), Node wasm, at
// SmolLM2-135M's head (1,024 rows x 576 x 49,152 vocabulary), for the int8 and the fp32 head. The
// step-level benchmark varies by ~10% run to run on shared machines; this isolates the head.
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../cli/node-runtime';
import { DenseHead, Int8Head, quantizeInt8Rows } from '../src/model/frozen-head';
import { fusedCrossEntropy } from '../src/train/fused-cross-entropy';
await initNodeBackend('wasm');
const N = 1024, C = 576, V = 49152;
const w = new Float32Array(V * C).map((_, i) => Math.sin(i * 0.37) * 0.05);
const heads = { int8: new Int8Head(quantizeInt8Rows(w, V, C)), fp32: new DenseHead(tf.tensor2d(w, [V, C])) };
const h = tf.randomNormal([N, C], 0, 1, 'float32', 1) as tf.Tensor2D;
const targets = Int32Array.from({ length: N }, (_, i) => (i * 7919) % V);
const weights = new Float32Array(N).fill(1);
for (const [name, head] of Object.entries(heads)) {
  const run = () => tf.tidy(() => tf.grad((x: tf.Tensor) => fusedCrossEntropy(x as tf.Tensor2D, head, targets, weights))(h).dataSync());
  run();
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) run();
  console.log(name, ((performance.now() - t0) / 3).toFixed(0), 'ms per loss+grad');
}
