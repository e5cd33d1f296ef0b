// Side-by-side decoding (src/model/generate-rows.ts) against one `generate` per row: the base and a
// tuned adapter decoded in one batch give each row exactly the tokens it gets alone, on every family
// and stories260K, with an fp32 base and with an NF4 base and int8 head; rows that stop early leave
// the batch; sampling rows match sampled lone runs; nothing is left behind.
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, openModelFiles } from '../cli/node-runtime';
import { loadModel } from '../src/model/load';
import { generate } from '../src/model/generate';
import { generateRows } from '../src/model/generate-rows';
import { LoraAdapter } from '../src/train/lora';
import { SoftPromptAdapter } from '../src/train/soft-prompt';
import { LINEAR_MODULES } from '../src/model/config';
import { FAMILY_MODELS, modelDir } from './families-fixture';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

const dirOf = (name: string) => (name === 'stories260K' ? '../shared/models/stories260K' : modelDir(name));

/** An adapter on every linear with non-zero B, strong enough that its tokens differ from the base's. */
function tunedAdapter(config: Parameters<typeof LoraAdapter.create>[0], name: string): LoraAdapter {
  const a = LoraAdapter.create(config, { r: 4, alpha: 8, dropout: 0, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel: name }, 3);
  for (const v of a.variables()) if (v.name.endsWith('.B')) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 5));
  return a;
}

describe.each([[false], [true]])('generateRows (NF4 base %s)', (nf4) => {
  it.each([...FAMILY_MODELS, 'stories260K'])('%s: base and tuned side by side equal one generate each', async (name) => {
    const model = await loadModel(await openModelFiles(dirOf(name)), nf4 ? { precision: 'nf4', headPrecision: 'int8' } : { precision: 'fp32' });
    const adapter = tunedAdapter(model.config, name);
    const prompt = [1, 403, 407, 261, 378, 434, 288];
    const alone = [await generate(model, prompt, { maxNewTokens: 24, lora: null }), await generate(model, prompt, { maxNewTokens: 24, lora: adapter })];
    expect(alone[0]).not.toEqual(alone[1]); // the adapter changes the text, so a mixed-up row would show
    const before = tf.memory().numTensors;
    const rows = await generateRows(model, prompt, [null, adapter], { maxNewTokens: 24 });
    expect(rows).toEqual(alone);
    expect(tf.memory().numTensors).toBe(before);
    // Sampled: each row draws from its own generator seeded as a lone run's.
    const sampled = { maxNewTokens: 12, temperature: 0.9, topP: 0.95, seed: 7 };
    const aloneSampled = [await generate(model, prompt, { ...sampled, lora: adapter }), await generate(model, prompt, { ...sampled, lora: null })];
    expect(await generateRows(model, prompt, [adapter, null], sampled)).toEqual(aloneSampled);
    model.dispose();
    adapter.dispose();
  });
});

it('a row that stops leaves the batch and the other goes on as it would alone', async () => {
  const model = await loadModel(await openModelFiles(dirOf('stories260K')));
  const adapter = tunedAdapter(model.config, 'stories260K');
  const prompt = [1, 403, 407];
  const base = await generate(model, prompt, { maxNewTokens: 20, lora: null });
  const tuned = await generate(model, prompt, { maxNewTokens: 20, lora: adapter });
  // Stop the base row at its 4th token (a token the tuned row does not produce before its end).
  const stop = base.find((t, i) => i >= 3 && !tuned.includes(t));
  expect(stop).toBeDefined();
  const stopIds = [stop!];
  const want = [await generate(model, prompt, { maxNewTokens: 20, lora: null, stopIds }), await generate(model, prompt, { maxNewTokens: 20, lora: adapter, stopIds })];
  expect(want[0].length).toBeLessThan(20);
  expect(want[1]).toEqual(tuned);
  const seen: [number, number][] = [];
  const rows = await generateRows(model, prompt, [null, adapter], { maxNewTokens: 20, stopIds, onToken: (r, id) => void seen.push([r, id]) });
  expect(rows).toEqual(want);
  expect(seen.filter(([r]) => r === 1).map(([, id]) => id)).toEqual(want[1]);
  // onToken returning false ends that row after the token.
  const early = await generateRows(model, prompt, [null, adapter], { maxNewTokens: 20, onToken: (r, id) => !(r === 1 && id === tuned[2]) });
  expect(early[1]).toEqual(tuned.slice(0, tuned.indexOf(tuned[2]) + 1));
  expect(early[0]).toEqual(base);
  model.dispose();
  adapter.dispose();
});

describe.each([[false], [true]])('a group of samples of one prompt (GRPO), NF4 base %s', (nf4) => {
  it.each(['tiny-qwen2', 'stories260K'])('%s: one hook, a seed per row: each row samples as a lone run with its seed', async (name) => {
    const model = await loadModel(await openModelFiles(dirOf(name)), nf4 ? { precision: 'nf4', headPrecision: 'int8' } : { precision: 'fp32' });
    const adapter = tunedAdapter(model.config, name);
    const prompt = [1, 403, 407, 261];
    const seeds = [11, 12, 13, 14, 15];
    const opts = { maxNewTokens: 16, temperature: 1, stopIds: [2] };
    const alone = [];
    for (const seed of seeds) alone.push(await generate(model, prompt, { ...opts, seed, lora: adapter }));
    expect(new Set(alone.map((a) => a.join())).size).toBeGreaterThan(1); // the seeds give different samples
    const before = tf.memory().numTensors;
    // Five rows: one four-row product and one single row per weight. On the NF4 base the four-row
    // kernel sums in another order than one row's (within rounding): sampling at these margins gives the same tokens.
    expect(await generateRows(model, prompt, seeds.map(() => adapter), { ...opts, seeds })).toEqual(alone);
    expect(tf.memory().numTensors).toBe(before);
    await expect(generateRows(model, prompt, [adapter], { ...opts, seeds })).rejects.toThrow(/1 rows but 5 seeds/);
    model.dispose();
    adapter.dispose();
  });
});

it('rows may hold different prompts of one length (a run\'s samples): each as its lone run; lengths that differ are refused', async () => {
  const model = await loadModel(await openModelFiles(dirOf('stories260K')), { precision: 'nf4', headPrecision: 'int8' });
  const adapter = tunedAdapter(model.config, 'stories260K');
  const prompts = [[1, 403, 407, 261, 378, 434], [1, 365, 291, 261, 302, 411]];
  const alone = [];
  for (const p of prompts) alone.push(await generate(model, p, { maxNewTokens: 20, lora: adapter }));
  expect(alone[0]).not.toEqual(alone[1]);
  expect(await generateRows(model, prompts, [adapter, adapter], { maxNewTokens: 20 })).toEqual(alone);
  await expect(generateRows(model, [[1, 2, 3], [1, 2]], [adapter, adapter], { maxNewTokens: 4 })).rejects.toThrow(/one length, found 3, 2/);
  await expect(generateRows(model, prompts, [adapter], { maxNewTokens: 4 })).rejects.toThrow(/1 rows but 2 prompts/);
  model.dispose();
  adapter.dispose();
});

it.each(['prompt-tuning', 'prefix-tuning'] as const)('a %s soft prompt goes before every row: each row as its lone run', async (kind) => {
  const model = await loadModel(await openModelFiles(dirOf('stories260K')), { precision: 'nf4', headPrecision: 'int8' });
  const soft = SoftPromptAdapter.create(model, { kind, numVirtualTokens: 4, init: 'random', initText: null, baseModel: 'stories260K' }, 5);
  const prompts = [[1, 403, 407, 261, 378, 434], [1, 365, 291, 261, 302, 411]];
  const alone = [];
  for (const p of prompts) alone.push(await generate(model, p, { maxNewTokens: 16, soft: soft.hook() }));
  expect(alone[0]).not.toEqual(alone[1]);
  expect(alone[0]).not.toEqual(await generate(model, prompts[0], { maxNewTokens: 16 })); // the soft prompt changes the text
  const before = tf.memory().numTensors;
  expect(await generateRows(model, prompts, [null, null], { maxNewTokens: 16, soft: soft.hook() })).toEqual(alone);
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
  soft.dispose();
});
