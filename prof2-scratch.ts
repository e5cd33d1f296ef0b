import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from './cli/node-runtime';
import { syntheticModelFiles } from './bench/synthetic-model';
import { loadModel } from './src/model/load';
import { newKvCache } from './src/model/llama';
import { setSimdKernels } from './src/kernels/simd-kernels';
await initNodeBackend('wasm');
const cfg = JSON.parse(readFileSync('../shared/tokenizers/smollm2/config.json', 'utf8'));
cfg.num_hidden_layers = 4;
const files = syntheticModelFiles(cfg, 'x');
for (const [precision, headPrecision] of [['nf4', 'int8'], ['fp32', 'fp32']] as const) {
  const model = await loadModel(files, { precision, headPrecision });
  const cache = newKvCache(model.config);
  model.forward(tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32'), { cache }).dispose();
  const layers = (x: tf.Tensor2D) => { const ctx = model.layerContext(1, 1, {}); let h = x; for (let i = 0; i < 4; i++) h = model.layerForward(i, h, ctx); return h; };
  const x = tf.randomNormal([1, 576]) as tf.Tensor2D;
  const best: Record<string, number> = { on: 1e9, off: 1e9 };
  for (let r = 0; r < 30; r++) for (const on of [true, false]) {
    setSimdKernels(on);
    const t = performance.now();
    const y = tf.tidy(() => layers(x)); y.dataSync(); y.dispose();
    const key = on ? 'on' : 'off'; best[key] = Math.min(best[key], performance.now() - t);
  }
  console.log(precision, '4 layers (no cache) min ms', JSON.stringify(best));
  model.dispose();
}
