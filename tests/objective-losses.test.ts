// The KTO, ORPO and GRPO losses against plain float64 computations from per-sequence (or per-token)
// log-probabilities, their gradients against closed forms or central finite differences, and GRPO's
// advantages and clipping against a hand-worked table.
import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ktoKl, ktoLoss, mismatchedRows, answerStart } from '../src/train/objectives/kto';
import { orpoLoss } from '../src/train/objectives/orpo';
import { detach, groupAdvantages, grpoLoss, sampleStd } from '../src/train/objectives/grpo';
import { DEFAULT_KTO } from '../src/train/settings';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logSigmoid = (x: number) => -(Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x))));

describe('KTO loss', () => {
  const policy = [-12.5, -20.25, -7.0, -15.5];
  const reference = [-13.0, -19.0, -7.5, -15.0];
  const labels = [1, 0, 1, 0];
  const s = { beta: 0.3, desirableWeight: 1.5, undesirableWeight: 0.75 };

  it('equals the plain per-row formula, and its gradient the closed form', async () => {
    const kl = 0.2;
    let plain = 0;
    const grad: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = policy[i] - reference[i];
      if (labels[i]) {
        const z = sigmoid(s.beta * (r - kl));
        plain += (s.desirableWeight * (1 - z)) / 4;
        grad.push((-s.desirableWeight * z * (1 - z) * s.beta) / 4);
      } else {
        const z = sigmoid(s.beta * (kl - r));
        plain += (s.undesirableWeight * (1 - z)) / 4;
        grad.push((s.undesirableWeight * z * (1 - z) * s.beta) / 4);
      }
    }
    const p = tf.tensor1d(policy);
    const f = (x: tf.Tensor1D) => ktoLoss(x, tf.tensor1d(reference), tf.tensor1d(labels), tf.ones([4]) as tf.Tensor1D, kl, s).loss;
    expect((await f(p).data())[0]).toBeCloseTo(plain, 6);
    const g = await tf.grad(f as (x: tf.Tensor) => tf.Tensor)(p).data();
    for (let i = 0; i < 4; i++) expect(g[i]).toBeCloseTo(grad[i], 6);
    const { rewards } = ktoLoss(p, tf.tensor1d(reference), tf.tensor1d(labels), tf.ones([4]) as tf.Tensor1D, kl, s);
    expect(Array.from(await rewards.data())).toEqual(policy.map((x, i) => expect.closeTo(s.beta * (x - reference[i]), 5)));
  });

  it('is exactly 0.5 (with unit weights) when the policy equals the reference and the KL estimate is 0', async () => {
    const p = tf.tensor1d(reference);
    const { loss } = ktoLoss(p, tf.tensor1d(reference), tf.tensor1d(labels), tf.ones([4]) as tf.Tensor1D, ktoKl([1, 2], [1, 2]), DEFAULT_KTO);
    expect((await loss.data())[0]).toBe(0.5);
  });

  it('leaves padding rows out of the mean', async () => {
    const kl = 0;
    const valid = tf.tensor1d([1, 1, 0, 0]);
    const l = (await ktoLoss(tf.tensor1d(policy), tf.tensor1d(reference), tf.tensor1d(labels), valid, kl, s).loss.data())[0];
    const r0 = policy[0] - reference[0];
    const r1 = policy[1] - reference[1];
    expect(l).toBeCloseTo((s.desirableWeight * (1 - sigmoid(s.beta * r0)) + s.undesirableWeight * (1 - sigmoid(s.beta * -r1))) / 2, 6);
  });

  it('estimates the KL as the mean policy-reference gap of mismatched rows, clamped at 0', () => {
    expect(ktoKl([-3, -5], [-4, -5.5])).toBeCloseTo(0.75, 10);
    expect(ktoKl([-5, -5], [-4, -4])).toBe(0);
    expect(ktoKl([-3, -5, 99], [-4, -5.5, 0], 2)).toBeCloseTo(0.75, 10); // padding left out
  });

  it('pairs row i\'s answer with row i+1\'s prompt (TRL shifts completions by one in the batch)', () => {
    const rows = [
      { inputIds: [1, 10, 11, 50, 51], lossMask: [0, 0, 0, 1, 1] },
      { inputIds: [1, 20, 60], lossMask: [0, 0, 1] },
      { inputIds: [1, 30, 31, 32, 70, 71, 72], lossMask: [0, 0, 0, 0, 1, 1, 1] },
    ];
    expect(answerStart(rows[2])).toBe(4);
    expect(mismatchedRows(rows)).toEqual([
      { inputIds: [1, 20, 50, 51], lossMask: [0, 0, 1, 1] },
      { inputIds: [1, 30, 31, 32, 60], lossMask: [0, 0, 0, 0, 1] },
      { inputIds: [1, 10, 11, 70, 71, 72], lossMask: [0, 0, 0, 1, 1, 1] },
    ]);
  });
});

describe('ORPO loss', () => {
  // P = 2 pairs, T = 4: chosen rows 0-1, rejected rows 2-3; weights mark the answer tokens.
  const logps = [
    [-9, -0.4, -0.9, -1.2],
    [-9, -9, -0.2, -0.3],
    [-9, -1.6, -2.1, -0.8],
    [-9, -9, -1.1, -0.05],
  ];
  const weights = [
    [0, 1, 1, 1],
    [0, 0, 1, 1],
    [0, 1, 1, 1],
    [0, 0, 1, 0],
  ];
  const lambda = 0.25;

  function plain(lp: number[][]): number {
    const mean = (r: number) => lp[r].reduce((a, x, t) => a + x * weights[r][t], 0) / weights[r].reduce((a, w) => a + w, 0);
    let chosenSum = 0;
    let chosenTokens = 0;
    for (const r of [0, 1]) for (let t = 0; t < 4; t++) if (weights[r][t]) { chosenSum += lp[r][t]; chosenTokens++; }
    const nll = -chosenSum / chosenTokens;
    let ratio = 0;
    for (const i of [0, 1]) {
      const c = mean(i);
      const r = mean(i + 2);
      const logOdds = c - r - (Math.log(1 - Math.exp(c)) - Math.log(1 - Math.exp(r)));
      ratio += logSigmoid(logOdds) / 2;
    }
    return nll - lambda * ratio;
  }

  it('equals NLL - lambda * mean log sigmoid(log odds) from length-normalised log-probs', async () => {
    const t = orpoLoss(tf.tensor2d(logps), tf.tensor2d(weights), lambda);
    expect((await t.loss.data())[0]).toBeCloseTo(plain(logps), 5);
    expect(Array.from(await t.chosen.data())).toEqual([expect.closeTo(-2.5 / 3, 5), expect.closeTo(-0.25, 5)]);
  });

  it('has the gradient of central finite differences', async () => {
    const g = (await tf.grad(((x: tf.Tensor2D) => orpoLoss(x, tf.tensor2d(weights), lambda).loss) as (x: tf.Tensor) => tf.Tensor)(tf.tensor2d(logps)).array()) as number[][];
    const h = 1e-5;
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const up = logps.map((row) => [...row]);
        const down = logps.map((row) => [...row]);
        up[r][c] += h;
        down[r][c] -= h;
        const fd = (plain(up) - plain(down)) / (2 * h);
        expect(g[r][c]).toBeCloseTo(fd, 3);
        if (!weights[r][c]) expect(Math.abs(g[r][c])).toBe(0);
      }
    }
  });
});

describe('GRPO', () => {
  it('normalises advantages within each group: (r - mean) / (std + 1e-4), std with Bessel\'s correction', () => {
    // Group 1: rewards 1, 0, 0, 1 -> mean 0.5, sample variance (4 x 0.25) / 3 = 1/3, std 0.57735.
    // Group 2: all 2 -> std 0, every advantage 0.
    const { advantages, groupStd } = groupAdvantages([1, 0, 0, 1, 2, 2, 2, 2], 4);
    expect(groupStd[0]).toBeCloseTo(0.57735, 5);
    expect(groupStd[1]).toBe(0);
    const a = 0.5 / (0.57735027 + 1e-4); // 0.86588
    expect(advantages.slice(0, 4).map((x) => +x.toFixed(5))).toEqual([+a.toFixed(5), -a.toFixed(5), -a.toFixed(5), +a.toFixed(5)]);
    expect(advantages.slice(4)).toEqual([0, 0, 0, 0]);
    expect(sampleStd([1, 0, 0, 1, 2, 2, 2, 2])).toBeCloseTo(Math.sqrt((0.0625 * 2 + 1.5625 * 2 + 0.5625 * 4) / 7), 10); // mean 1.25
  });

  it('is the same whatever the padding: columns past every completion (weight 0) change neither loss nor kl', () => {
    const logp = tf.tensor2d([[-1.2, -0.7, -2.1], [-0.4, -1.9, -0.8]]);
    const ref = tf.tensor2d([[-1.0, -0.9, -2.0], [-0.5, -1.5, -1.1]]);
    const mask = tf.tensor2d([[0, 1, 1], [0, 1, 0]]);
    const adv = tf.tensor1d([0.7, -0.7]);
    const pad = (t: tf.Tensor2D, v: number) => tf.concat([t, tf.fill([2, 61], v)], 1) as tf.Tensor2D; // [2, 64], as a batch padded to 64
    const s = { epsilon: 0.2, beta: 0.04 };
    const short = grpoLoss(logp, detach(logp) as tf.Tensor2D, ref, mask, adv, s);
    const long = grpoLoss(pad(logp, -3), detach(pad(logp, -3)) as tf.Tensor2D, pad(ref, -5), pad(mask, 0), adv, s);
    expect(long.loss.dataSync()[0]).toBeCloseTo(short.loss.dataSync()[0], 6);
    expect(Math.abs(long.loss.dataSync()[0])).toBeGreaterThan(1e-3);
  });

  it('clips the ratio as the hand-worked table says, and passes no gradient through clipped tokens', async () => {
    // eps 0.2, beta 0, one token per row:
    // A   ratio  rho*A  clip*A  -min   d/dlogp
    // +1  1.5    1.5    1.2     -1.2   0        (clipped)
    // +1  0.5    0.5    0.8     -0.5   -0.5
    // -1  1.5    -1.5   -1.2    1.5    1.5
    // -1  0.5    -0.5   -0.8    0.8    0        (clipped)
    // loss = mean = 0.15; gradient = column / 4.
    const old = tf.tensor2d([[-2], [-2], [-2], [-2]]);
    const logp = tf.tensor2d([[-2 + Math.log(1.5)], [-2 + Math.log(0.5)], [-2 + Math.log(1.5)], [-2 + Math.log(0.5)]]);
    const adv = tf.tensor1d([1, 1, -1, -1]);
    const mask = tf.ones([4, 1]) as tf.Tensor2D;
    const f = (x: tf.Tensor2D) => grpoLoss(x, old as tf.Tensor2D, x, mask, adv, { epsilon: 0.2, beta: 0 }).loss;
    expect((await f(logp as tf.Tensor2D).data())[0]).toBeCloseTo(0.15, 6);
    const g = Array.from(await tf.grad(f as (x: tf.Tensor) => tf.Tensor)(logp).data());
    expect(g.map((x) => +x.toFixed(6))).toEqual([0, -0.125, 0.375, 0]);
  });

  it('adds beta x the k3 KL per token, averaging over each completion\'s own tokens', async () => {
    // Row 0: two answer tokens, ref - logp = ln 2 and 0 -> k3 = 2 - ln 2 - 1 = 0.306853 and 0.
    // Row 1: one answer token (the second is padding), ref - logp = -ln 2 -> k3 = 0.5 + ln 2 - 1 = 0.193147.
    // Advantages 0 and ratio 1, so loss = beta * mean(row means) = 0.1 * (0.306853 / 2 + 0.193147) / 2.
    const logp = tf.tensor2d([[-1, -1], [-1, -3]]);
    const ref = tf.tensor2d([[-1 + Math.LN2, -1], [-1 - Math.LN2, 5]]);
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const { loss, kl } = grpoLoss(logp, detach(logp) as tf.Tensor2D, ref, mask, tf.zeros([2]) as tf.Tensor1D, { epsilon: 0.2, beta: 0.1 });
    expect((await loss.data())[0]).toBeCloseTo((0.1 * (0.306853 / 2 + 0.193147)) / 2, 6);
    expect(((await kl.array()) as number[][])[0][0]).toBeCloseTo(0.306853, 5);
  });

  it('with the old log-probs detached from the current ones (one pass per batch), the gradient is A x d log p', async () => {
    const logp = tf.tensor2d([[-0.7, -1.3], [-2.0, -0.1]]);
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const adv = tf.tensor1d([0.8, -1.2]);
    const g = (await tf.grad(((x: tf.Tensor2D) => grpoLoss(x, detach(x) as tf.Tensor2D, x, mask, adv, { epsilon: 0.2, beta: 0 }).loss) as (x: tf.Tensor) => tf.Tensor)(logp).array()) as number[][];
    // loss = mean_r( -A_r * sum_t mask / n_r ), so d/dlogp[r][t] = -A_r * mask / (n_r * R).
    expect(g[0][0]).toBeCloseTo(-0.8 / 4, 6);
    expect(g[0][1]).toBeCloseTo(-0.8 / 4, 6);
    expect(g[1][0]).toBeCloseTo(1.2 / 2, 6);
    expect(g[1][1]).toBe(0);
  });
});
