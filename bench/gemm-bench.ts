// `npm run bench -- --gemm`: the studio's GEMM (src/kernels/gemm.ts) beside tfjs-wasm's own
// BatchMatMul and torch.matmul (bench/peer/torch-matmul.py, 1 and 2 threads) on the products of
// one LoRA training step at a real config (rows = batch x sequence; the forward x·Wᵀ, the input
// gradient dy·W and a weight-gradient-shaped xᵀ·dy), in Node's tfjs-wasm on one thread. Also the
// NF4 products, W decoded while packing, against the path they replace (decode Wᵀ in JS, then
// tfjs's matMul). One JSON line per row with milliseconds and GFLOP/s (best of --repeats).
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BenchArgumentError, NAMED_MODEL_DIRS } from './args';
import { initNodeBackend } from '../cli/node-runtime';
import { gemmMatMul, nf4Gemm, setGemmKernel } from '../src/kernels/gemm';
import { simdKernels } from '../src/kernels/simd-kernels';
import { blockAbsmax, dequantizeNf4Into, quantizeNf4 } from '../src/model/nf4';
import { heapFloat32 } from '../src/gpu/wasm-kernels';

export interface GemmBenchOptions {
  model: string;
  rows: number;
  repeats: number;
  torch: boolean;
  python: string;
}

type Layout = 'nn' | 'nt' | 'tn';

function best(repeats: number, f: () => tf.Tensor): number {
  f().dispose(); // warm-up (XNNPACK packs its weights on the first product by a tensor)
  let ms = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const y = f();
    y.dataSync();
    ms = Math.min(ms, performance.now() - t0);
    y.dispose();
  }
  return ms;
}

const row = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

export async function runGemmBench(o: GemmBenchOptions, root: string): Promise<void> {
  const dir = NAMED_MODEL_DIRS[o.model];
  if (!dir) throw new BenchArgumentError(`bench/run.ts --gemm: --model must be ${Object.keys(NAMED_MODEL_DIRS).join(' or ')}, found "${o.model}"`);
  const cfg = JSON.parse(readFileSync(resolve(root, dir, 'config.json'), 'utf8')) as Record<string, number>;
  const C = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const kv = (C / cfg.num_attention_heads) * (cfg.num_key_value_heads ?? cfg.num_attention_heads);
  const M = o.rows;
  // [K, N] of the model's projections: q/o, k/v, gate/up, down.
  const proj: [string, number, number][] = [['q_proj', C, C], ['v_proj', C, kv], ['up_proj', C, I], ['down_proj', I, C]];
  // The forward x·Wᵀ (W [N, K] as stored, "nt"), the input gradient dy·W ("nn" over W [K', N'])
  // and xᵀ·dy ("tn", the weight-gradient shape of a full fine-tune).
  const shapes: [number, number, number, Layout, string][] = [];
  for (const [name, K, N] of proj) {
    shapes.push([M, K, N, 'nt', `${name} forward`], [M, N, K, 'nn', `${name} input gradient`], [K, M, N, 'tn', `${name} weight gradient`]);
  }
  const backend = await initNodeBackend('wasm');
  const k = simdKernels();
  if (backend !== 'wasm' || !k) throw new Error('bench/run.ts --gemm: needs tfjs-wasm with SIMD');
  const flops = (m: number, kk: number, n: number) => (2 * m * kk * n) / 1e6;
  for (const [m, kk, n, layout, what] of shapes) {
    const a = tf.randomNormal(layout === 'tn' ? [kk, m] : [m, kk]);
    const b = tf.randomNormal(layout === 'nt' ? [n, kk] : [kk, n]);
    const ta = layout === 'tn';
    const tb = layout === 'nt';
    const mine = best(o.repeats, () => gemmMatMul(k, a, b, ta, tb));
    setGemmKernel(false);
    const theirs = best(o.repeats, () => tf.matMul(a, b, ta, tb));
    // tfjs's fast path needs both operands untransposed: what the model did before (explicit transposes).
    const theirsPlain = layout === 'nn' ? theirs : best(o.repeats, () => tf.tidy(() => tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b)));
    setGemmKernel(true);
    row({
      what, M: m, K: kk, N: n, layout, gemm_ms: +mine.toFixed(2), gemm_gflops: +(flops(m, kk, n) / mine).toFixed(1),
      tfjs_ms: +theirs.toFixed(2), tfjs_gflops: +(flops(m, kk, n) / theirs).toFixed(1),
      tfjs_transposed_first_gflops: +(flops(m, kk, n) / theirsPlain).toFixed(1), kernel: k.variant,
    });
    tf.dispose([a, b]);
  }
  for (const [name, K, N] of proj) {
    const w = new Float32Array(N * K).map(() => Math.random() - 0.5);
    const q = quantizeNf4(w, N, K, { doubleQuant: true });
    const heap = { outFeatures: N, inFeatures: K, codes: tf.tensor1d(q.codes, 'int32'), absmax: tf.tensor1d(blockAbsmax(q), 'float32') };
    const x = tf.randomNormal([M, K]) as tf.Tensor2D;
    const dy = tf.randomNormal([M, N]) as tf.Tensor2D;
    const fwd = best(o.repeats, () => nf4Gemm(k, x, heap, true));
    const grad = best(o.repeats, () => nf4Gemm(k, dy, heap, false));
    setGemmKernel(false);
    const decode = (transposed: boolean) => heapFloat32(transposed ? [K, N] : [N, K], (out) => dequantizeNf4Into(q, out, { transposed }));
    const fwdOld = best(o.repeats, () => tf.tidy(() => tf.matMul(x, decode(true))));
    const gradOld = best(o.repeats, () => tf.tidy(() => tf.matMul(dy, decode(false))));
    setGemmKernel(true);
    row({
      what: `${name} NF4`, M, K, N, forward_ms: +fwd.toFixed(2), forward_before_ms: +fwdOld.toFixed(2),
      input_gradient_ms: +grad.toFixed(2), input_gradient_before_ms: +gradOld.toFixed(2), before: 'decode in JS, then tfjs matMul',
    });
    tf.dispose([heap.codes, heap.absmax, x, dy]);
  }
  if (!o.torch) return;
  for (const threads of [1, 2]) {
    const req = { shapes: shapes.map(([m, kk, n, layout]) => [m, kk, n, layout]), threads, repeats: o.repeats };
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    const r = spawnSync(o.python, [resolve(root, 'bench/peer/torch-matmul.py')], { input: JSON.stringify(req), encoding: 'utf8', env });
    if (r.status !== 0) {
      row({ peer: 'torch.matmul', error: `${o.python} bench/peer/torch-matmul.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` });
      return;
    }
    process.stdout.write(r.stdout);
  }
}
