import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from './cli/node-runtime';
import { syntheticModelFiles } from './bench/synthetic-model';
import { loadModel } from './src/model/load';
import { newKvCache } from './src/model/llama';
await initNodeBackend('wasm');
const cfg = JSON.parse(readFileSync('../shared/tokenizers/smollm2/config.json', 'utf8'));
cfg.num_hidden_layers = 4;
const files = syntheticModelFiles(cfg, 'x');
for (const [precision, headPrecision] of [['nf4', 'int8'], ['fp32', 'fp32']] as const) {
  const model = await loadModel(files, { precision, headPrecision });
  const cache = newKvCache(model.config);
  model.forward(tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32'), { cache }).dispose();
  const step = () => { const ids = tf.tensor2d([[5]], [1, 1], 'int32'); const y = model.forward(ids, { cache }); y.dataSync(); y.dispose(); ids.dispose(); };
  for (let i = 0; i < 3; i++) step();
  const best = (f: () => void, n: number) => { let b = 1e9; for (let i = 0; i < n; i++) { const t = performance.now(); f(); b = Math.min(b, performance.now() - t); } return b; };
  const tStep = best(step, 10);
  const h = tf.randomNormal([1, 576]) as tf.Tensor2D;
  const tHead = best(() => { const y = model.logitsFrom(h); y.dataSync(); y.dispose(); }, 10);
  const l = model.weights.layers[0];
  let tLin = 0;
  for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const) {
    const x = tf.randomNormal([1, l.linear[m].inFeatures]) as tf.Tensor2D;
    tLin += best(() => { const y = l.linear[m].apply(x); y.dataSync(); y.dispose(); }, 20);
  }
  const prof = await tf.profile(() => { step(); });
  const byKernel = new Map<string, number>();
  for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + 1);
  console.log(precision, `step(4 layers) ${tStep.toFixed(2)} ms; head ${tHead.toFixed(2)}; linears/layer ${tLin.toFixed(2)}; kernels/step ${prof.kernels.length}`, JSON.stringify([...byKernel]));
  model.dispose();
}
