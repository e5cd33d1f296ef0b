// stories260K with an NF4 base (Node, wasm, the js-dequant path): the held-out loss stays close to
// the fp32 base's, greedy decoding still follows the reference continuations for a while (count
// recorded), and LoRA training over the 4-bit base lowers the loss with no tensor leak per step.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModelWithReport, type LinearFactory } from '../src/model/load';
import { DenseLinear } from '../src/model/linear';
import { generate } from '../src/model/generate';
import type { LlamaModel } from '../src/model/llama';
import type { ModelFileSet } from '../src/model/files';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { maskedCrossEntropy } from '../src/train/loss';
import { LoraAdapter } from '../src/train/lora';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { textExamples, STORIES } from './stories-fixture';

// Written for this check (not from any training set), as in bench/nf4-quality.ts.
const HELD_OUT =
  'Tom had a small red boat. Every day he took the boat to the pond near his house. One day the wind was very strong and the boat went far away. Tom was sad. His sister Sue saw him and said, "Do not be sad, Tom. We can find it together." They walked around the pond and found the boat under a big tree. Tom smiled and gave Sue a hug.';
// The prompts of the model README's reference continuations (the fp32 base reproduces them
// token for token: tests/stories260k-reference.test.ts), 64 greedy tokens each.
const PROMPTS = ['Once upon a time', 'Lily wanted to', 'The cat', ''];
const NEW_TOKENS = 64;
/**
 * Allowed rise of the held-out mean loss (nats/token) from fp32 to NF4. NF4's per-weight error is
 * at most half a level gap times the block absmax (~8% of absmax in the densest region), which
 * perturbs logits slightly: measured +0.06. 0.15 nats (12% of the fp32 loss, 2.4% of ln 512) leaves
 * room for float noise across backends while failing a broken base (zeroed projections: +22).
 */
const MAX_LOSS_RISE = 0.15;

const zeroFactory: LinearFactory = (_w, out, inF) => new DenseLinear(tf.zeros([out, inF]));

describe('stories260K over an NF4 base', () => {
  let files: ModelFileSet;
  let tok: TextTokenizer;
  let ids: number[];
  beforeAll(async () => {
    await initNodeBackend('wasm');
    files = await openModelFiles(STORIES);
    tok = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
    ids = tok.encode(HELD_OUT);
  });

  async function heldOutLoss(model: LlamaModel): Promise<number> {
    const loss = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32')); // [T, V]
      return maskedCrossEntropy(logits, tf.tensor1d(ids.slice(1), 'int32'), tf.ones([ids.length - 1]) as tf.Tensor1D);
    });
    const v = (await loss.data())[0]!;
    loss.dispose();
    return v;
  }

  it('keeps the held-out loss within the bound of fp32, records greedy agreement, and a broken base fails the bound', async () => {
    const fp32 = await loadModelWithReport(files, { precision: 'fp32' });
    const nf4 = await loadModelWithReport(files, { precision: 'nf4' });
    const nf4dq = await loadModelWithReport(files, { precision: 'nf4', quantization: { doubleQuant: true } });
    const zero = await loadModelWithReport(files, { linearFactory: zeroFactory });
    expect(nf4.report).toMatchObject({ precision: 'nf4', linearPath: 'js-dequant' });
    const [lFp32, lNf4, lDq, lZero] = await Promise.all([fp32, nf4, nf4dq, zero].map((m) => heldOutLoss(m.model)));

    let same = 0;
    let prefix = 0;
    for (const p of PROMPTS) {
      const prompt = tok.encode(p);
      const ref = await generate(fp32.model, prompt, { maxNewTokens: NEW_TOKENS });
      const out = await generate(nf4.model, prompt, { maxNewTokens: NEW_TOKENS });
      same += out.filter((t, j) => t === ref[j]).length;
      const k = out.findIndex((t, j) => t !== ref[j]);
      prefix += k < 0 ? out.length : k;
      expect(out[0]).toBe(ref[0]); // the most confident next token survives 4-bit weights
    }
    const mem = nf4.report.memory;
    console.log(JSON.stringify({
      held_out_tokens: ids.length - 1,
      held_out_loss: { fp32: lFp32, nf4: lNf4, nf4_double_quant: lDq, zeroed_linears: lZero },
      reference_tokens_matching: `${same}/${PROMPTS.length * NEW_TOKENS}`,
      reference_prefix_tokens_matching: `${prefix}/${PROMPTS.length * NEW_TOKENS}`,
      linear_bytes: { fp32: mem.linearFp32Bytes, nf4: mem.linearNf4Bytes, nf4_double_quant: nf4dq.report.memory.linearNf4Bytes },
    }));
    expect(Math.abs(lNf4 - lFp32)).toBeLessThan(MAX_LOSS_RISE);
    expect(Math.abs(lDq - lFp32)).toBeLessThan(MAX_LOSS_RISE);
    expect(lNf4).not.toBe(lFp32); // the NF4 base really is a different base
    expect(lZero - lFp32).toBeGreaterThan(MAX_LOSS_RISE);
    expect(same).toBeGreaterThanOrEqual(PROMPTS.length * 8);
    // The quantized linear weights take at most 0.15 of their fp32 bytes (the target).
    expect(mem.linearNf4Bytes / mem.linearFp32Bytes).toBeLessThanOrEqual(0.15);
    expect(nf4.model.baseWeightBytes().linear).toBe(mem.linearNf4Bytes);
    for (const m of [fp32, nf4, nf4dq, zero]) m.model.dispose();
  });

  it('LoRA training over the NF4 base lowers the loss without leaking tensors', async () => {
    const { model } = await loadModelWithReport(files, { precision: 'nf4' });
    const texts = [
      'Zed the purple dragon liked to fly over the green hill.',
      'Zed the purple dragon found a shiny red ball in the park.',
      'Zed the purple dragon was happy and sang a song with Lily.',
      'Zed the purple dragon ate a big cake and said thank you.',
    ];
    const examples = textExamples(tok, texts);
    const adapter = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' }, 1);
    const trainer = new Trainer(model, adapter, examples, { ...DEFAULT_TRAIN, steps: 30, batchSize: 4, seqLen: 24, learningRate: 1e-2, warmupSteps: 2 });
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    await trainer.run((r) => {
      losses.push(r.loss);
      if (r.step === 1) tensorsAfterFirst = tf.memory().numTensors;
    });
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    console.log(JSON.stringify({ nf4_lora_first_loss: losses[0], nf4_lora_last5_mean: last }));
    expect(last).toBeLessThan(losses[0]! * 0.6);
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  });
});
