// Prompt tuning and prefix tuning on the real stories260K model (wasm, GQA: 8 query heads, 4 kv heads):
// a soft prompt initialised from a text's tokens (prompt tuning) or from the base's own keys and values
// of that text (prefix tuning) gives exactly the base's logits with the text in front, which pins the
// position convention and PEFT's [L*2, K, D] layout; autograd matches central finite differences;
// training lowers the loss and leaks nothing; KV-cached generation equals a full recompute; and the
// PEFT files round-trip bit-exactly with the fields PEFT writes.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { generate } from '../src/model/generate';
import { newKvCache, disposeKvCache, type LlamaModel } from '../src/model/llama';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import { SoftPromptAdapter } from '../src/train/soft-prompt';
import { Trainer } from '../src/train/trainer';
import { DEFAULT_TRAIN } from '../src/train/settings';
import { makeBatch, type TokenizedExample } from '../src/train/batches';
import { maskedCrossEntropy } from '../src/train/loss';
import { fromPromptPeftFiles, toPromptPeftFiles } from '../src/adapters/peft-prompt';
import { AdapterFormatError } from '../src/adapters/peft';
import { prefixColumn, softPromptWidth, type SoftPromptKind, type SoftPromptSpec } from '../src/adapters/soft-prompt-types';
import { loadStories, textExamples, readAndDispose } from './stories-fixture';
import { maxAbsDiff } from '../src/util/compare';

const KINDS: SoftPromptKind[] = ['prompt-tuning', 'prefix-tuning'];
const spec = (kind: SoftPromptKind, n = 4, init: 'random' | 'text' = 'random', initText: string | null = null): SoftPromptSpec => ({ kind, numVirtualTokens: n, init, initText, baseModel: 'stories260K' });
const TEXTS = [
  'Zed the purple dragon liked to fly over the green hill.',
  'Zed the purple dragon found a shiny red ball in the park.',
  'Zed the purple dragon was happy and sang a song with Lily.',
  'Zed the purple dragon ate a big cake and said thank you.',
];


describe('soft prompts on stories260K', () => {
  let model: LlamaModel;
  let tok: TextTokenizer;
  let examples: TokenizedExample[];
  beforeAll(async () => {
    ({ model, tokenizer: tok } = await loadStories());
    examples = textExamples(tok, TEXTS);
  });

  it('prompt tuning from a text equals the base model reading that text first', async () => {
    const text = tok.encode('Once upon a time'); // BOS included, as PEFT's tokenizer call includes it
    const input = tok.encode(' there was a cat', { addSpecialTokens: false });
    const soft = SoftPromptAdapter.create(model, spec('prompt-tuning', text.length, 'text', 'Once upon a time'), 0, text);
    const tuned = await readAndDispose(soft.logits(model, tf.tensor2d(input, [1, input.length], 'int32'))); // [T, V]
    const base = await readAndDispose(tf.tidy(() => model.forward(tf.tensor2d([...text, ...input], [1, text.length + input.length], 'int32')).slice([text.length, 0], [input.length, -1])));
    expect(maxAbsDiff(tuned, base)).toBeLessThan(1e-4);
    soft.dispose();
  });

  it("prefix tuning filled with the base's own keys and values of a text equals reading that text first", async () => {
    const text = tok.encode('Once upon a time');
    const input = tok.encode(' there was a cat', { addSpecialTokens: false });
    const { numLayers: L, numKvHeads: K, headDim: D } = model.config;
    const N = text.length;
    const cache = newKvCache(model.config);
    model.forward(tf.tensor2d(text, [1, N], 'int32'), { cache }).dispose();
    // PEFT's layout: row n, column ((layer * 2 + kv) * K + k) * D + d.
    const W = softPromptWidth(model.config, 'prefix-tuning');
    expect(W).toBe(L * 2 * K * D);
    const rows = new Float32Array(N * W);
    for (let l = 0; l < L; l++) {
      const kv = [await cache.k[l]!.data(), await cache.v[l]!.data()]; // [1, K, N, D] each
      for (const which of [0, 1] as const) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) rows[n * W + prefixColumn(model.config, l, which, k, d)] = kv[which][(k * N + n) * D + d];
    }
    disposeKvCache(cache);
    const soft = SoftPromptAdapter.fromWeights(model.config, spec('prefix-tuning', N), { values: rows });
    const tuned = await readAndDispose(soft.logits(model, tf.tensor2d(input, [1, input.length], 'int32')));
    const base = await readAndDispose(tf.tidy(() => model.forward(tf.tensor2d([...text, ...input], [1, N + input.length], 'int32')).slice([N, 0], [input.length, -1])));
    expect(maxAbsDiff(tuned, base)).toBeLessThan(1e-4);
    soft.dispose();
  });

  for (const kind of KINDS) {
    it(`${kind}: autograd matches central finite differences`, async () => {
      const soft = SoftPromptAdapter.create(model, spec(kind, 3), 11);
      if (kind === 'prefix-tuning') soft.weight.assign(tf.mul(soft.weight, 0.3)); // keep softmax away from saturation
      const batch = makeBatch(examples.slice(0, 2), 16);
      const lossOf = () => maskedCrossEntropy(soft.logits(model, tf.tensor2d(batch.inputs, [2, 16], 'int32')), tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(batch.weights));
      const { grads } = tf.variableGrads(lossOf, [soft.weight]);
      const g = await readAndDispose(grads[soft.weight.name]);
      const w = (await soft.weight.data()) as Float32Array;
      const top = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 4);
      const lossAt = async (i: number, x: number) => {
        const c = w.slice();
        c[i] = x;
        tf.tidy(() => soft.weight.assign(tf.tensor2d(c, soft.weight.shape)));
        return (await readAndDispose(tf.tidy(lossOf)))[0];
      };
      for (const i of top) {
        const eps = 1e-2;
        const fd = ((await lossAt(i, w[i] + eps)) - (await lossAt(i, w[i] - eps))) / (2 * eps);
        expect(Math.abs(fd - g[i])).toBeLessThan(0.03 * Math.abs(g[i]) + 2e-4);
      }
      expect(Math.abs(g[top[0]])).toBeGreaterThan(1e-3);
      soft.dispose();
    });

    it(`${kind}: training lowers the loss, leaks no tensors, and KV-cached generation equals a full recompute`, async () => {
      const soft = SoftPromptAdapter.create(model, spec(kind, 4), 5);
      const trainer = new Trainer(model, soft, examples, { ...DEFAULT_TRAIN, steps: 25, batchSize: 4, seqLen: 20, learningRate: kind === 'prompt-tuning' ? 0.1 : 0.05, warmupSteps: 2 });
      const losses: number[] = [];
      let tensors = 0;
      await trainer.run((r) => {
        losses.push(r.loss);
        if (r.step === 1) tensors = tf.memory().numTensors;
      });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(losses.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(losses[0] * 0.7);
      const prompt = tok.encode('Zed');
      const cached = await generate(model, prompt, { maxNewTokens: 10, soft: soft.hook() });
      const full: number[] = [];
      for (let s = 0; s < 10; s++) {
        const ids = [...prompt, ...full];
        const row = await readAndDispose(tf.tidy(() => soft.logits(model, tf.tensor2d(ids, [1, ids.length], 'int32')).slice([ids.length - 1, 0], [1, -1])));
        full.push(row.indexOf(Math.max(...row)));
      }
      expect(cached).toEqual(full);
      expect(cached).not.toEqual(await generate(model, prompt, { maxNewTokens: 10 }));
      trainer.dispose();
      soft.dispose();
    });

    it(`${kind}: PEFT files carry PEFT's fields and round-trip bit-exactly`, async () => {
      const soft = SoftPromptAdapter.create(model, spec(kind, 5), 9);
      const w = await soft.toWeights();
      const files = toPromptPeftFiles(soft.spec, model.config, w);
      const cfg = JSON.parse(files.adapterConfigJson);
      const { numLayers: L, numKvHeads: K, headDim: D, hiddenSize: C, numHeads: H } = model.config;
      const common = { auto_mapping: null, base_model_name_or_path: 'stories260K', inference_mode: true, num_layers: L, num_transformer_submodules: 1, num_virtual_tokens: 5, revision: null, task_type: 'CAUSAL_LM' };
      expect(cfg).toEqual(
        kind === 'prompt-tuning'
          ? { ...common, num_attention_heads: H, peft_type: 'PROMPT_TUNING', prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, token_dim: C, tokenizer_kwargs: null, tokenizer_name_or_path: null }
          : { ...common, encoder_hidden_size: K * D, num_attention_heads: K, peft_type: 'PREFIX_TUNING', prefix_projection: false, token_dim: K * D },
      );
      expect(Object.keys(cfg)).toEqual(Object.keys(cfg).sort());
      const back = await fromPromptPeftFiles(files.adapterConfigJson, files.adapterSafetensors, model.config);
      expect(back.spec).toEqual(soft.spec);
      expect(Buffer.from(back.weights.values.buffer, back.weights.values.byteOffset, back.weights.values.byteLength).equals(Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength))).toBe(true);
      // A file for another model is refused with the field at fault.
      await expect(fromPromptPeftFiles(files.adapterConfigJson.replace(`"num_layers": ${L}`, '"num_layers": 7'), files.adapterSafetensors, model.config)).rejects.toThrow(/"num_layers" is 7, but the loaded model has 5 layers/);
      await expect(fromPromptPeftFiles(files.adapterConfigJson.replace('"num_virtual_tokens": 5', '"num_virtual_tokens": 6'), files.adapterSafetensors, model.config)).rejects.toThrow(AdapterFormatError);
      soft.dispose();
    });
  }
});
