// `npx tsx bench/nf4-quality.ts [model dir]`: how much an NF4 base changes stories260K, in Node on
// wasm: greedy tokens that still match the fp32 model's (which reproduces the README references),
// and the mean next-token loss on a held-out story for fp32 vs NF4 (plain and double-quant) bases.
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { generate } from '../src/model/generate';
import { loadModel, type LinearFactory } from '../src/model/load';
import { DenseLinear } from '../src/model/linear';
import { createNf4Linear } from '../src/model/nf4-linear';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { maskedCrossEntropy } from '../src/train/loss';

const PROMPTS = ['Once upon a time', 'Lily wanted to', 'The cat', ''];
// Written for this check (not from any training set).
const HELD_OUT =
  'Tom had a small red boat. Every day he took the boat to the pond near his house. One day the wind was very strong and the boat went far away. Tom was sad. His sister Sue saw him and said, "Do not be sad, Tom. We can find it together." They walked around the pond and found the boat under a big tree. Tom smiled and gave Sue a hug.';

const FACTORIES: Record<string, LinearFactory> = {
  fp32: (w, out, inF) => new DenseLinear(tf.tensor2d(w, [out, inF])),
  nf4: (w, out, inF) => createNf4Linear(w, out, inF),
  'nf4-dq': (w, out, inF) => createNf4Linear(w, out, inF, { doubleQuant: true }),
};

async function main(): Promise<void> {
  await initNodeBackend('wasm');
  const files = await openModelFiles(process.argv[2] ?? new URL('../../shared/models/stories260K/', import.meta.url).pathname);
  const tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const ids = tok.encode(HELD_OUT); // starts with BOS
  let reference: number[][] = [];
  for (const [name, factory] of Object.entries(FACTORIES)) {
    const model = await loadModel(files, { linearFactory: factory });
    const outs: number[][] = [];
    for (const p of PROMPTS) outs.push(await generate(model, tok.encode(p), { maxNewTokens: 64 }));
    if (name === 'fp32') reference = outs;
    let same = 0;
    let prefix = 0;
    outs.forEach((o, i) => {
      same += o.filter((t, j) => t === reference[i]![j]).length;
      const k = o.findIndex((t, j) => t !== reference[i]![j]);
      prefix += k < 0 ? o.length : k;
    });
    const loss = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32')); // [T, V]
      return maskedCrossEntropy(logits, tf.tensor1d(ids.slice(1), 'int32'), tf.ones([ids.length - 1]) as tf.Tensor1D);
    });
    const bytes = model.baseWeightBytes();
    console.log(JSON.stringify({
      base: name,
      greedy_tokens_matching_fp32: `${same}/${PROMPTS.length * 64}`,
      greedy_prefix_tokens_matching_fp32: `${prefix}/${PROMPTS.length * 64}`,
      held_out_tokens: ids.length - 1,
      held_out_mean_loss: Math.round((await loss.data())[0]! * 1e4) / 1e4,
      base_linear_bytes: bytes.linear,
    }));
    loss.dispose();
    model.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
