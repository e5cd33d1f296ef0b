// Browser-side checks of the NF4 WGSL kernels and backend choice, exposed on window.nf4Checks for
// e2e/kernels.spec.ts: each compares a kernel against tfjs ops on the dequantized weight. The same
// page carries window.fusedChecks (fused-ops-checks.ts) for e2e/fused-ops.spec.ts and
// window.flashChecks (flash-attention-checks.ts) for e2e/flash-attention.spec.ts.
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, type BackendChoice, type BackendName } from '../../src/gpu/backend-choice';
import { WASM_URLS } from '../../src/gpu/wasm-urls';
import { createNf4LinearFromQuantized } from '../../src/model/nf4-linear';
import { nf4Tile, setNf4Tile, type Nf4Tile } from '../../src/gpu/nf4-matmul';
import { dequantizeNf4, quantizeNf4 } from '../../src/model/nf4';
import { uniformValues as randoms } from '../../src/util/random';
import { maxRelativeError } from '../../src/util/compare';
import './fused-ops-checks'; // window.fusedChecks, for e2e/fused-ops.spec.ts
import './flash-attention-checks'; // window.flashChecks, for e2e/flash-attention.spec.ts

/** max |a - b| / max |b| */
async function relErr(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [av, bv] = await Promise.all([a.data(), b.data()]);
  return maxRelativeError(av, bv);
}

export interface KernelCase {
  m: number; // rows of x
  out: number; // N
  in: number; // K
  doubleQuant: boolean;
  unfused?: boolean;
  /** The fused kernel's output tile (default: the kernel's default, 32). */
  tile?: Nf4Tile;
}

export interface KernelResult {
  path: string;
  forwardRelErr: number;
  gradRelErr: number;
  /** The same check against the unquantized weight: must be far larger, or the test proves nothing. */
  forwardRelErrVsFp32: number;
  gpuErrors: string[];
}

const gpuErrors: string[] = [];

async function runCase(c: KernelCase): Promise<KernelResult> {
  const before = nf4Tile();
  if (c.tile) setNf4Tile(c.tile);
  try {
    return await runCaseAtTile(c);
  } finally {
    setNf4Tile(before);
  }
}

async function runCaseAtTile(c: KernelCase): Promise<KernelResult> {
  const w = randoms(c.out * c.in, c.out * 7 + c.in);
  const q = quantizeNf4(w, c.out, c.in, { doubleQuant: c.doubleQuant });
  const lin = createNf4LinearFromQuantized(q, { doubleQuant: c.doubleQuant, mode: c.unfused ? 'unfused' : 'auto' });
  const x = tf.tensor2d(randoms(c.m * c.in, 3), [c.m, c.in]);
  const dy = tf.tensor2d(randoms(c.m * c.out, 5), [c.m, c.out]);
  const deqW = tf.tensor2d(dequantizeNf4(q), [c.out, c.in]);
  const fp32W = tf.tensor2d(w, [c.out, c.in]);
  const y = lin.apply(x); // [m, out]
  const yRef = tf.matMul(x, deqW, false, true);
  const yFp32 = tf.matMul(x, fp32W, false, true);
  const gx = tf.grad((xx: tf.Tensor) => lin.apply(xx as tf.Tensor2D).mul(dy).sum())(x); // [m, in]
  const gxRef = tf.grad((xx: tf.Tensor) => tf.matMul(xx, deqW, false, true).mul(dy).sum())(x);
  const result: KernelResult = {
    path: lin.path,
    forwardRelErr: await relErr(y, yRef),
    gradRelErr: await relErr(gx, gxRef),
    forwardRelErrVsFp32: await relErr(y, yFp32),
    gpuErrors: [...gpuErrors],
  };
  tf.dispose([x, dy, deqW, fp32W, y, yRef, yFp32, gx, gxRef]);
  lin.dispose();
  return result;
}

async function useBackend(force?: BackendName): Promise<BackendChoice> {
  return chooseBackend({ force, wasmPaths: WASM_URLS, onGpuError: (m) => gpuErrors.push(m), probeSize: 64 });
}

declare global {
  interface Window {
    nf4Checks: {
      useBackend: typeof useBackend;
      runCase: typeof runCase;
      numTensors: () => number;
    };
  }
}

window.nf4Checks = { useBackend, runCase, numTensors: () => tf.memory().numTensors };
document.getElementById('status')!.textContent = 'ready';
