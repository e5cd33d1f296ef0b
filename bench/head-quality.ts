// `npx tsx bench/head-quality.ts [model dir]`: what an int8 token table / output head (per-row
// absmax, src/model/frozen-head.ts) costs stories260K, in Node on wasm: the mean next-token loss on a
// held-out story and greedy tokens matching the fp32 model, for fp32 and NF4 bases with each head.
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { generate } from '../src/model/generate';
import { loadModel } from '../src/model/load';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { maskedCrossEntropy } from '../src/train/loss';

const HELD_OUT =
  'Tom had a small red boat. Every day he took the boat to the pond near his house. One day the wind was very strong and the boat went far away. Tom was sad. His sister Sue saw him and said, "Do not be sad, Tom. We can find it together." They walked around the pond and found the boat under a big tree. Tom smiled and gave Sue a hug.';
const PROMPTS = ['Once upon a time', 'Lily wanted to', 'The cat', ''];

async function main(): Promise<void> {
  await initNodeBackend('wasm');
  const files = await openModelFiles(process.argv[2] ?? new URL('../../shared/models/stories260K/', import.meta.url).pathname);
  const tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const ids = tok.encode(HELD_OUT);
  let reference: number[][] = [];
  for (const precision of ['fp32', 'nf4'] as const) {
    for (const head of ['fp32', 'int8'] as const) {
      const model = await loadModel(files, { precision, headPrecision: head });
      const loss = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32')); // [T, V]
        return maskedCrossEntropy(logits, tf.tensor1d(ids.slice(1), 'int32'), tf.ones([ids.length - 1]) as tf.Tensor1D).dataSync()[0];
      });
      const outs: number[][] = [];
      for (const p of PROMPTS) outs.push(await generate(model, tok.encode(p), { maxNewTokens: 64 }));
      if (precision === 'fp32' && head === 'fp32') reference = outs;
      const same = outs.reduce((a, o, i) => a + o.filter((t, j) => t === reference[i][j]).length, 0);
      const bytes = model.baseWeightBytes();
      process.stdout.write(JSON.stringify({ base: precision, head, held_out_loss: Math.round(loss * 1e4) / 1e4, tokens: ids.length - 1, greedy_matching: `${same}/${PROMPTS.length * 64}`, base_bytes: bytes.linear + bytes.other }) + '\n');
      model.dispose();
    }
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
