// The decoder's other paths per family: a v5 config computes what its v4 twin does (issue 9's
// silent theta), packed rows with sliding windows equal each example alone, a key/value prefix
// equals having run those tokens first, and NF4 bases load and track fp32 for every family.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel, loadModelWithReport } from '../src/model/load';
import { generate } from '../src/model/generate';
import { newKvCache, disposeKvCache } from '../src/model/llama';
import { FAMILY_MODELS, modelDir, readReference } from './families-fixture';
import { maxAbsDiff } from '../src/util/compare';
import { toV5 } from './config-schemas';
import { STORIES } from './stories-fixture';
import { bufferSource, readHeader, readTensorF32, writeSafetensors, type TensorToWrite } from '../src/model/safetensors';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

async function logitsOf(model: Awaited<ReturnType<typeof loadModel>>, ids: number[]): Promise<Float32Array> {
  const y = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

describe('config schemas end to end', () => {
  it('stories260K with theta 500000 gives the same 40 greedy tokens from a v5 config as from a v4 one, and other tokens than theta 10000', async () => {
    const files = await openModelFiles(STORIES);
    const v4 = { ...(files.config as Record<string, unknown>), rope_theta: 500000 };
    const prompt = [1, 403, 407, 261, 378];
    const run = async (config: unknown) => {
      const model = await loadModel({ ...files, config });
      try {
        return await generate(model, prompt, { maxNewTokens: 40 });
      } finally {
        model.dispose();
      }
    };
    const fromV4 = await run(v4);
    expect(await run(toV5(v4))).toEqual(fromV4);
    expect(await run(files.config)).not.toEqual(fromV4);
  });
});

describe('Gemma3ForConditionalGeneration: the text model of a multimodal checkpoint', () => {
  it.each(['model.language_model.', 'language_model.model.'])('loads its language-model tensors under %s and generates the reference ids', async (prefix) => {
    const files = await openModelFiles(modelDir('tiny-gemma3'));
    const shard = files.shards[0].bytes;
    const header = await readHeader(shard);
    const tensors: TensorToWrite[] = [{ name: 'model.vision_tower.patch_embedding.weight', shape: [2, 2], data: new Float32Array(4) }];
    for (const [name, info] of header.tensors) tensors.push({ name: name.replace(/^model\./, prefix), shape: info.shape, data: await readTensorF32(shard, header, name) });
    const text = files.config as Record<string, unknown>;
    const config = { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { ...text, architectures: undefined }, vision_config: { model_type: 'siglip_vision_model' }, mm_tokens_per_image: 256 };
    const model = await loadModel({ ...files, config, shards: [{ name: 'model.safetensors', bytes: bufferSource(writeSafetensors(tensors)) }] });
    const ref = (await readReference('tiny-gemma3')).base[0];
    expect(await generate(model, ref.prompt_ids, { maxNewTokens: ref.output_ids.length })).toEqual(ref.output_ids);
    model.dispose();
  });

  it('a multimodal config whose checkpoint lacks the language-model tensors is refused naming what is missing', async () => {
    const files = await openModelFiles(modelDir('tiny-gemma3'));
    const config = { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: files.config };
    await expect(loadModel({ ...files, config })).rejects.toThrow(/no tensor "model.language_model.embed_tokens.weight" \(nor under language_model.model.\)/);
  });
});

describe.each(FAMILY_MODELS)('%s', (name) => {
  it('packed rows (examples longer than the window of 12) give each example its logits alone', async () => {
    const model = await loadModel(await openModelFiles(modelDir(name)));
    const ref = await readReference(name);
    const a = [...ref.base[0].prompt_ids, ...ref.base[0].output_ids.slice(0, 15)]; // 20 tokens
    const b = [...ref.base[1].prompt_ids, ...ref.base[1].output_ids.slice(0, 13)];
    const T = a.length + b.length;
    const positions = Int32Array.from([...a.map((_, i) => i), ...b.map((_, i) => i)]);
    const segments = Int32Array.from([...a.map(() => 0), ...b.map(() => 1)]);
    const y = model.forward(tf.tensor2d([...a, ...b], [1, T], 'int32'), { packing: { positions, segments } });
    const packed = (await y.data()) as Float32Array;
    y.dispose();
    const V = model.config.vocabSize;
    expect(maxAbsDiff(packed.subarray(0, a.length * V), await logitsOf(model, a))).toBeLessThan(1e-4);
    expect(maxAbsDiff(packed.subarray(a.length * V), await logitsOf(model, b))).toBeLessThan(1e-4);
    model.dispose();
  });

  it('a key/value prefix of P tokens equals running those tokens first', async () => {
    const model = await loadModel(await openModelFiles(modelDir(name)));
    const ref = await readReference(name);
    const ids = [...ref.base[0].prompt_ids, ...ref.base[0].output_ids.slice(0, 17)]; // 22 tokens
    const P = 9;
    const full = await logitsOf(model, ids);
    const cache = newKvCache(model.config);
    model.forward(tf.tensor2d(ids.slice(0, P), [1, P], 'int32'), { cache }).dispose();
    const prefix = { length: P, kv: (i: number) => ({ k: cache.k[i]!, v: cache.v[i]! }) };
    const y = model.forward(tf.tensor2d(ids.slice(P), [1, ids.length - P], 'int32'), { prefix });
    const got = (await y.data()) as Float32Array;
    y.dispose();
    disposeKvCache(cache);
    expect(maxAbsDiff(got, full.subarray(P * model.config.vocabSize))).toBeLessThan(1e-4);
    model.dispose();
  });

  it('loads with an NF4 base (every linear quantized) whose logits track the fp32 ones', async () => {
    const files = await openModelFiles(modelDir(name));
    const fp32 = await loadModel(files);
    const { model: nf4, report } = await loadModelWithReport(files, { precision: 'nf4' });
    expect(report.linearPath).toBe('js-dequant');
    expect(report.quantized).toBe(7 * nf4.config.numLayers);
    const ids = (await readReference(name)).base[0].prompt_ids;
    const a = await logitsOf(fp32, ids);
    const b = await logitsOf(nf4, ids);
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    expect(b.every(Number.isFinite)).toBe(true);
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.9); // 4-bit weights: close, not equal
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0); // and really quantized
    fp32.dispose();
    nf4.dispose();
  });
});
