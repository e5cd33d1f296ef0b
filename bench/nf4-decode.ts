// NF4 decoding speed in JS at the 135M shape's linear sizes (`npx tsx bench/nf4-decode.ts`): the
// decoder the js-dequant path runs (dequantizeNf4Into: row-major W, and Wᵀ in bands of rows,
// into a caller's buffer such as the wasm heap) against the one before it (a fresh array per
// call, Wᵀ scattered a weight at a time), kept here as the baseline. Prints one JSON line per shape.
import { quantizeNf4, dequantizeNf4Into, blockAbsmax, NF4_LEVELS, type Nf4Weight } from '../src/model/nf4';

const LO = new Float32Array(256);
const HI = new Float32Array(256);
for (let b = 0; b < 256; b++) { LO[b] = NF4_LEVELS[b & 15]; HI[b] = NF4_LEVELS[b >> 4]; }

/** The decoder before this round: a new array per call; Wᵀ written a weight at a time, each to its own cache line. */
function before(w: Nf4Weight, transposed: boolean): Float32Array {
  const absmax = blockAbsmax(w);
  const codes = w.codes;
  const n = w.numel;
  const out = new Float32Array(n);
  const [rows, cols] = w.shape;
  let r = 0;
  let c = 0;
  for (let i = 0; i < n; i += 2) {
    const byte = (codes[i >> 3] >>> ((i & 7) * 4)) & 0xff;
    const s = absmax[i >> 6];
    if (!transposed) { out[i] = LO[byte] * s; out[i + 1] = HI[byte] * s; continue; }
    out[c * rows + r] = LO[byte] * s;
    if (++c === cols) { c = 0; r++; }
    out[c * rows + r] = HI[byte] * s;
    if (++c === cols) { c = 0; r++; }
  }
  return out;
}

function msPer(f: () => void, reps = 20): number {
  for (let i = 0; i < 3; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

for (const [R, C] of [[1536, 576], [576, 1536], [576, 576], [192, 576]]) {
  const w = new Float32Array(R * C).map((_, i) => Math.sin(i * 0.37) * 0.05);
  const q = quantizeNf4(w, R, C, {});
  const out = new Float32Array(R * C);
  for (const transposed of [false, true]) {
    dequantizeNf4Into(q, out, { transposed });
    const ref = before(q, transposed);
    if (out.some((v, i) => v !== ref[i])) throw new Error(`bench/nf4-decode.ts: decoders disagree at [${R}, ${C}] transposed=${transposed}`);
    const b = msPer(() => before(q, transposed));
    const a = msPer(() => dequantizeNf4Into(q, out, { transposed }));
    console.log(JSON.stringify({ shape: [R, C], layout: transposed ? 'Wt' : 'W', before_ms: +b.toFixed(2), after_ms: +a.toFixed(2), speedup: +(b / a).toFixed(2) }));
  }
}
