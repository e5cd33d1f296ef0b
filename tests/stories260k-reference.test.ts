// Golden test: the project's own model code reproduces the reference greedy continuations of
// stories260K (../shared/models/stories260K/README.md) token for token, on tfjs's wasm backend.
import { describe, it, expect, beforeAll } from 'vitest';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import type { LlamaModel } from '../src/model/llama';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';

export const STORIES = new URL('../../shared/models/stories260K/', import.meta.url).pathname;

// From the model's README: prompt -> (input ids, 64 greedy ids).
const REFERENCES: { prompt: string; input: number[]; generated: number[] }[] = [
  { prompt: 'Once upon a time', input: [1, 403, 407, 261, 378], generated: [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310, 439, 419, 357, 336] },
  { prompt: 'Lily wanted to', input: [1, 317, 391, 266, 267], generated: [298, 414, 353, 261, 273, 421, 433, 426, 338, 394, 261, 370, 268, 414, 444, 335, 261, 370, 268, 414, 444, 426, 338, 391, 266, 267, 262, 411, 411, 263, 415, 294, 286, 322, 419, 292, 411, 426, 338, 391, 266, 267, 262, 411, 411, 263, 415, 294, 286, 322, 419, 292, 411, 426, 13, 436, 440, 411, 306, 414, 432, 376, 268, 414] },
  { prompt: 'The cat', input: [1, 291, 280, 294], generated: [269, 261, 268, 414, 422, 382, 276, 337, 299, 322, 265, 282, 295, 433, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 269, 352, 379, 261, 420, 277, 264, 265, 282, 295, 433, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 269, 262, 411, 411, 433, 426, 13, 441, 416, 411, 328, 432, 261, 376, 268] },
  { prompt: '', input: [1], generated: [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310] },
];

describe('stories260K reference greedy outputs', () => {
  let model: LlamaModel;
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    const files = await openModelFiles(STORIES);
    tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
    model = await loadModel(files);
  });

  it.each(REFERENCES)('prompt "$prompt" tokenizes and continues exactly as the reference', async (ref) => {
    expect(tokenizer.encode(ref.prompt)).toEqual(ref.input);
    const out = await generate(model, ref.input, { maxNewTokens: 64 });
    expect(out).toEqual(ref.generated);
  });

  it('the first reference decodes to the reference text', async () => {
    const ref = REFERENCES[0];
    expect(tokenizer.decode([...ref.input, ...ref.generated])).toBe(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said",
    );
  });

  it('KV-cached decoding gives the same logits as a full forward pass', async () => {
    const tf = await import('@tensorflow/tfjs');
    const ids = [...REFERENCES[0].input, ...REFERENCES[0].generated.slice(0, 10)];
    const full = tf.tidy(() => model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')));
    const { newKvCache, disposeKvCache } = await import('../src/model/llama');
    const cache = newKvCache(model.config);
    const first = model.forward(tf.tensor2d(ids.slice(0, 5), [1, 5], 'int32'), { cache });
    first.dispose();
    let last!: import('@tensorflow/tfjs').Tensor2D;
    for (let t = 5; t < ids.length; t++) {
      last?.dispose();
      last = model.forward(tf.tensor2d([ids[t]], [1, 1], 'int32'), { cache });
    }
    const a = (await full.slice([ids.length - 1, 0], [1, -1]).data()) as Float32Array;
    const b = (await last.data()) as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    disposeKvCache(cache);
    full.dispose();
    last.dispose();
  });
});
