// `npx tsx bench/attention-core.ts [--seq 256,512,1024] [--heads 9 --kv 3 --dim 64] [--reps 2]`:
// the attention core alone (forward + backward of one layer's attention, Node tfjs-wasm, one thread),
// dense (attention-core.ts) against blocked (blocked-attention.ts), to place the switch between them
// (BLOCKED_ATTENTION_MIN_SCORES). Prints one JSON line per sequence length and path.
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../cli/node-runtime';
import { attentionCore } from '../src/model/attention-core';
import { attentionMask } from '../src/model/attention-mask';
import { blockedAttention } from '../src/model/blocked-attention';
import { parseArgs } from './args';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), 'bench/attention-core.ts');
  await initNodeBackend('wasm');
  const H = Number(args.heads ?? 9);
  const K = Number(args.kv ?? 3);
  const D = Number(args.dim ?? 64);
  const reps = Number(args.reps ?? 2);
  const G = H / K;
  for (const T of (args.seq ?? '256,512,1024').split(',').map(Number)) {
    const r = { B: 1, T, G, past: 0, window: null };
    const q = tf.randomNormal([1, K, G * T, D]) as tf.Tensor4D;
    const k = tf.randomNormal([1, K, T, D]) as tf.Tensor4D;
    const v = tf.randomNormal([1, K, T, D]) as tf.Tensor4D;
    const mask = attentionMask(r);
    const o = { scale: 1 / Math.sqrt(D), softcap: null };
    const paths = {
      dense: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => attentionCore(a, b, c, mask, o),
      blocked: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => blockedAttention(a, b, c, r, o),
    };
    for (const [name, f] of Object.entries(paths)) {
      let ms = Infinity;
      let peak = 0;
      for (let i = 0; i <= reps; i++) {
        const t0 = performance.now();
        const info = await tf.profile(async () => {
          const g = tf.grads((a, b, c) => tf.sum(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D)))([q, k, v]);
          await g[0].data();
          tf.dispose(g);
        });
        if (i > 0) ms = Math.min(ms, performance.now() - t0); // the first run warms up
        peak = info.peakBytes - info.newBytes;
      }
      process.stdout.write(JSON.stringify({ path: name, T, heads: H, kv: K, dim: D, ms_fwd_bwd: Math.round(ms), peak_mb: +(peak / 2 ** 20).toFixed(1) }) + '\n');
    }
    tf.dispose([q, k, v, mask]);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
