// Pure training pieces, table-driven: AdamW on tfjs variables against the plain-array specification
// (with and without weight decay), step counts from epochs, target presets, the memory/time
// estimate's formula, and checkpoint files that round-trip bit for bit.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { AdamW, adamwReference, DEFAULT_ADAMW, type AdamWParams } from '../src/train/adamw';
import { totalSteps, DEFAULT_TRAIN } from '../src/train/settings';
import { parseTargets, presetOf, TARGET_PRESETS } from '../src/train/presets';
import { ACTIVATION_FACTOR, SAVED_MARGIN, estimateTraining, savedFloatsPerToken, type EstimateInput } from '../src/train/estimate';
import { checkpointFromFiles, checkpointToFiles, CheckpointFormatError, CHECKPOINT_FORMAT, emptyHistory, type TrainCheckpoint } from '../src/train/checkpoint';
import { parseConfig, type LlamaConfig } from '../src/model/config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW matches adamwReference', () => {
  const cases: { name: string; hp: AdamWParams; lrs: number[] }[] = [
    { name: 'defaults, constant lr', hp: DEFAULT_ADAMW, lrs: [1e-2, 1e-2, 1e-2, 1e-2] },
    { name: 'weight decay 0.1, varying lr', hp: { ...DEFAULT_ADAMW, weightDecay: 0.1 }, lrs: [1e-3, 5e-2, 2e-2, 0] },
    { name: 'strong decay, low beta2', hp: { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.5 }, lrs: [0.1, 0.1, 0.05] },
    { name: 'no momentum', hp: { beta1: 0, beta2: 0.9, eps: 1e-8, weightDecay: 0.01 }, lrs: [0.01, 0.02] },
  ];
  it.each(cases)('$name', ({ hp, lrs }) => {
    const init = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
    const gradsPerStep = lrs.map((_, s) => Float32Array.from({ length: 12 }, (_, i) => Math.cos(i * 0.7 + s) * (i % 3 === 0 ? 1e-3 : 1)));
    const p = tf.variable(tf.tensor2d(init, [3, 4]));
    const opt = new AdamW([p], hp);
    const rp = Float64Array.from(init);
    const rm = new Float64Array(12);
    const rv = new Float64Array(12);
    lrs.forEach((lr, s) => {
      const g = tf.tensor2d(gradsPerStep[s], [3, 4]);
      opt.apply([g], lr);
      g.dispose();
      adamwReference(rp, gradsPerStep[s], rm, rv, s + 1, lr, hp);
    });
    const got = p.dataSync();
    for (let i = 0; i < 12; i++) expect(got[i]).toBeCloseTo(rp[i], 5);
    // Weight decay must have acted: with it, the result differs from the same run without it.
    if (hp.weightDecay > 0) {
      const np = Float64Array.from(init);
      const nm = new Float64Array(12);
      const nv = new Float64Array(12);
      lrs.forEach((lr, s) => adamwReference(np, gradsPerStep[s], nm, nv, s + 1, lr, { ...hp, weightDecay: 0 }));
      expect(Math.max(...np.map((x, i) => Math.abs(x - rp[i])))).toBeGreaterThan(1e-5);
    }
    opt.dispose();
    p.dispose();
  });

  it('decays weights by exactly lr * weightDecay when the gradient is zero', () => {
    const p = Float64Array.from([2, -4]);
    adamwReference(p, [0, 0], new Float64Array(2), new Float64Array(2), 1, 0.1, { ...DEFAULT_ADAMW, weightDecay: 0.5 });
    expect([...p]).toEqual([2 * 0.95, -4 * 0.95]);
  });
});

describe('totalSteps', () => {
  it.each([
    { steps: 30, epochs: 0, batchSize: 4, gradAccum: 1, examples: 100, want: 30 },
    { steps: 30, epochs: 1, batchSize: 4, gradAccum: 1, examples: 100, want: 25 },
    { steps: 30, epochs: 2, batchSize: 4, gradAccum: 2, examples: 100, want: 25 },
    { steps: 30, epochs: 1, batchSize: 8, gradAccum: 1, examples: 3, want: 1 },
    { steps: 30, epochs: 0.5, batchSize: 4, gradAccum: 1, examples: 10, want: 2 },
  ])('epochs $epochs x $examples examples, B $batchSize, accum $gradAccum -> $want', ({ want, examples, ...s }) => {
    expect(totalSteps(s, examples)).toBe(want);
  });
});

describe('target presets', () => {
  it.each([
    ['qv', ['q_proj', 'v_proj']],
    ['attention', ['q_proj', 'k_proj', 'v_proj', 'o_proj']],
    ['all-linear', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']],
  ] as const)('%s', (name, modules) => {
    expect(TARGET_PRESETS[name].modules).toEqual(modules);
    expect(presetOf([...modules].reverse())).toBe(name);
    expect(parseTargets(name)).toEqual(modules);
  });
  it('parses comma lists and names an unknown module', () => {
    expect(parseTargets('q_proj, o_proj')).toEqual(['q_proj', 'o_proj']);
    expect(presetOf(['q_proj', 'o_proj'])).toBeNull();
    expect(() => parseTargets('q_proj,qkv')).toThrow(/unknown module "qkv"/);
  });
});

const TINY: LlamaConfig = parseConfig({
  architectures: ['LlamaForCausalLM'], hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
  head_dim: 4, vocab_size: 10, max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 1e4, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
});

describe('estimateTraining', () => {
  const base: EstimateInput = { config: TINY, rank: 2, targets: ['q_proj', 'v_proj'], batchSize: 2, seqLen: 4, gradAccum: 1, examples: 10, steps: 20, backend: 'wasm', layerOverheadS: 0 };
  it('follows the documented formula on a hand-computed config', () => {
    const e = estimateTraining(base);
    // q: 8->8, v: 8->4. P = L * R * ((8+8) + (8+4)) = 2 * 2 * 28.
    expect(e.loraParameters).toBe(112);
    expect(e.memory.trainable).toBe(16 * 112);
    // A layer keeps per token 2C + (H + 2Hkv)D + 2I + C (q/v LoRA input) + R*targets = 16 + 16 + 32 + 8 + 4 = 76
    // (with a margin); one layer in flight is the layer unit 6C + (H + 2Hkv)D + H*T + 3I + R*targets
    // = 48 + 16 + 8 + 48 + 4 = 124 floats per token, times the measured factor.
    expect(savedFloatsPerToken(TINY, base.targets, { rank: 2, blocked: false, full: false })).toBe(76);
    expect(e.memory.activations).toBeCloseTo(2 * SAVED_MARGIN * 4 * 2 * 4 * 76 + ACTIVATION_FACTOR * 4 * 2 * 4 * 124, 6);
    // Recomputation keeps each layer's input (4 B T L C) plus one layer in flight.
    expect(estimateTraining({ ...base, recompute: true }).memory.activations).toBeCloseTo(4 * 2 * 4 * 2 * 8 + ACTIVATION_FACTOR * 4 * 2 * 4 * 124, 6);
    // Full fine-tuning keeps every linear's input too: + C (gate/up input) + HD (o) + I (down), no LoRA.
    expect(savedFloatsPerToken(TINY, [], { rank: 0, blocked: false, full: true })).toBe(16 + 16 + 32 + 8 + 8 + 8 + 16);
    // The fused loss holds one chunk (here all 8 rows x V) and dH instead of three [N, V] tensors.
    expect(estimateTraining({ ...base, fusedLossChunkBytes: 1 << 20 }).memory.logits).toBe(24 * 8 * 10 + 4 * 8 * 8);
    expect(e.memory.logits).toBe(4 * 2 * 4 * 10 * 3);
    // Nlin per layer: q 64 + k 32 + v 32 + o 64 + 3 * 128 = 576; all params: 2*576 + 80 (tied) + 5*8.
    expect(e.memory.base).toBe(4 * (1152 + 80 + 40));
    // forward/token = 2*2*576 + 2*8*10 + 4*2*4*8 + 2*112 = 2304 + 160 + 256 + 224
    expect(e.flopsPerToken).toBe(2 * 2944);
    expect(e.stepsPerEpoch).toBe(5);
    expect(e.secondsPerStep).toBeCloseTo((2 * 2944 * 8) / 12e9, 15);
    expect(e.secondsTotal).toBeCloseTo(e.secondsPerStep * 20, 15);
    // The fixed per-layer cost: accum x L x overhead on top.
    const withOverhead = estimateTraining({ ...base, gradAccum: 3, layerOverheadS: 0.01 });
    expect(withOverhead.secondsPerStep).toBeCloseTo(3 * 2 * 0.01 + (2 * 2944 * 24) / 12e9, 12);
  });
  it.each([
    { change: { rank: 4 }, field: 'trainable', factor: 2 },
    { change: { seqLen: 8 }, field: 'logits', factor: 2 },
    { change: { batchSize: 4 }, field: 'activations', factor: 2 },
    { change: { backend: 'cpu' as const }, field: 'secondsPerStep', factor: 20 },
    { change: { gflops: 24 }, field: 'secondsPerStep', factor: 0.5 },
  ])('$field scales by $factor with $change', ({ change, field, factor }) => {
    const pick = (e: ReturnType<typeof estimateTraining>) => (field === 'secondsPerStep' ? e.secondsPerStep : e.memory[field as 'trainable']);
    expect(pick(estimateTraining({ ...base, ...change })) / pick(estimateTraining(base))).toBeCloseTo(factor, 6);
  });
});

describe('checkpoint files', () => {
  const ckpt: TrainCheckpoint = {
    format: CHECKPOINT_FORMAT,
    runId: 'run-1',
    savedAt: 123,
    base: { source: 'stories260K', fingerprint: 'abc' },
    lora: { r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj'], useRslora: true, baseModel: 'stories260K' },
    settings: { ...DEFAULT_TRAIN, steps: 7 },
    totalSteps: 7,
    elapsedMs: 99,
    state: {
      step: 3,
      position: { epoch: 1, index: 2 },
      dropoutSeed: 77,
      firstLoss: 2.5,
      adapter: {
        layers: [
          { layer: 0, module: 'q_proj', inFeatures: 3, outFeatures: 2, A: Float32Array.from([1, 2, 3, 4, 5, 6]), B: Float32Array.from([0.5, -1, 1e-30, 7]) },
          { layer: 1, module: 'q_proj', inFeatures: 3, outFeatures: 2, A: Float32Array.from([6, 5, 4, 3, 2, 1]), B: Float32Array.from([1, 2, 3, 4]) },
        ],
      },
      m: [Float32Array.from([1, 1, 1, 1, 1, 1]), Float32Array.from([2, 2, 2, 2]), Float32Array.from([3, 3, 3, 3, 3, 3]), Float32Array.from([4, 4, 4, 4])],
      v: [Float32Array.from([5, 5, 5, 5, 5, 5]), Float32Array.from([6, 6, 6, 6]), Float32Array.from([7, 7, 7, 7, 7, 7]), Float32Array.from([8, 8, 8, 8])],
    },
    history: { ...emptyHistory(), steps: [1, 2, 3], loss: [3, 2, 1] },
  };
  it('round-trips every field and array exactly', async () => {
    const f = checkpointToFiles(ckpt);
    const back = await checkpointFromFiles(f.json, f.tensors, 'ckpt');
    expect(back).toEqual(ckpt);
  });
  it('names the folder and field when the format is wrong', async () => {
    const f = checkpointToFiles(ckpt);
    await expect(checkpointFromFiles(f.json.replace(CHECKPOINT_FORMAT, 'nope'), f.tensors, 'out/checkpoint-3')).rejects.toThrow(CheckpointFormatError);
    await expect(checkpointFromFiles(f.json.replace(CHECKPOINT_FORMAT, 'nope'), f.tensors, 'out/checkpoint-3')).rejects.toThrow(/out\/checkpoint-3\/trainer_state.json: field "format"/);
  });
});
