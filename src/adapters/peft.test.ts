import { describe, expect, it } from 'vitest';
import { parseConfig, type LinearModule } from '../model/config';
import { bufferSource, readHeader, writeSafetensors, type TensorToWrite } from '../model/safetensors';
import type { LoraSpec } from './lora-types';
import { loraScale } from './lora-types';
import { AdapterFormatError, fromPeftFiles, peftTensorKey, toPeftFiles } from './peft';
import { syntheticLoraWeights } from './synthetic-adapter';

// stories260K's shapes (../shared/models/stories260K/config.json): C=64, 8 heads x 8, 4 KV heads, MLP 172, 5 layers.
const STORIES = parseConfig({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 172,
  num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8, vocab_size: 512,
  hidden_act: 'silu', tie_word_embeddings: true,
});

const specFor = (targetModules: LinearModule[], over: Partial<LoraSpec> = {}): LoraSpec => ({
  r: 8, alpha: 16, dropout: 0.05, targetModules, useRslora: false, baseModel: 'local/stories260K', ...over,
});

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('loraScale', () => {
  it.each([
    [{ r: 8, alpha: 16, useRslora: false }, 2],
    [{ r: 16, alpha: 16, useRslora: true }, 4],
    [{ r: 4, alpha: 1, useRslora: false }, 0.25],
  ])('%o scales by %d', (spec, expected) => expect(loraScale(spec)).toBe(expected));
});

describe('toPeftFiles / fromPeftFiles', () => {
  it.each([
    [['q_proj', 'v_proj'] as LinearModule[]],
    [['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as LinearModule[]],
  ])('round-trips %j bit for bit, with and without the model config', async (targets) => {
    const spec = specFor(targets);
    const weights = syntheticLoraWeights(STORIES, spec, 7);
    // Values whose bits a lossy path would change: subnormal, negative zero, extremes.
    weights.layers[0]!.A[0] = 1e-45;
    weights.layers[0]!.A[1] = -0;
    weights.layers[0]!.B[0] = 3.4028234663852886e38;
    const files = toPeftFiles(spec, weights);
    for (const model of [undefined, STORIES]) {
      const back = await fromPeftFiles(files.adapterConfigJson, files.adapterSafetensors, model);
      expect(back.spec).toEqual(spec);
      expect(back.weights.layers.map((l) => [l.layer, l.module, l.inFeatures, l.outFeatures]))
        .toEqual(weights.layers.map((l) => [l.layer, l.module, l.inFeatures, l.outFeatures]));
      back.weights.layers.forEach((l, i) => {
        expect(bits(l.A)).toEqual(bits(weights.layers[i]!.A));
        expect(bits(l.B)).toEqual(bits(weights.layers[i]!.B));
      });
    }
  });

  it('writes PEFT key names with A [r, in] and B [out, r] for attention and MLP targets', async () => {
    const spec = specFor(['q_proj', 'v_proj', 'down_proj']);
    const { adapterSafetensors } = toPeftFiles(spec, syntheticLoraWeights(STORIES, spec));
    const header = await readHeader(bufferSource(adapterSafetensors));
    const shapes = Object.fromEntries([...header.tensors].map(([k, v]) => [k, v.shape]));
    expect(Object.keys(shapes)).toHaveLength(5 * 3 * 2);
    expect(shapes['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight']).toEqual([8, 64]);
    expect(shapes['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight']).toEqual([64, 8]);
    expect(shapes['base_model.model.model.layers.4.self_attn.v_proj.lora_A.weight']).toEqual([8, 64]);
    expect(shapes['base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight']).toEqual([32, 8]);
    expect(shapes['base_model.model.model.layers.2.mlp.down_proj.lora_A.weight']).toEqual([8, 172]);
    expect(shapes['base_model.model.model.layers.2.mlp.down_proj.lora_B.weight']).toEqual([64, 8]);
    expect(header.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.dtype).toBe('F32');
    expect(peftTensorKey(3, 'gate_proj', 'B')).toBe('base_model.model.model.layers.3.mlp.gate_proj.lora_B.weight');
  });

  it('puts format "pt" and the provenance into __metadata__', async () => {
    const spec = specFor(['q_proj', 'v_proj']);
    const { adapterSafetensors } = toPeftFiles(spec, syntheticLoraWeights(STORIES, spec), { model_fingerprint: 'abc123', steps: '200' });
    const header = await readHeader(bufferSource(adapterSafetensors));
    expect(header.metadata).toEqual({ format: 'pt', model_fingerprint: 'abc123', steps: '200' });
  });

  it('writes adapter_config.json with the fields PEFT writes for a LoRA CAUSAL_LM adapter, keys sorted', () => {
    const spec = specFor(['q_proj', 'v_proj'], { r: 4, alpha: 32, dropout: 0, useRslora: true, baseModel: 'HuggingFaceTB/SmolLM2-135M' });
    const { adapterConfigJson } = toPeftFiles(spec, syntheticLoraWeights(STORIES, spec));
    const cfg = JSON.parse(adapterConfigJson) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 32, lora_dropout: 0,
      target_modules: ['q_proj', 'v_proj'], bias: 'none', fan_in_fan_out: false,
      base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M', inference_mode: true, use_rslora: true,
      init_lora_weights: true, modules_to_save: null, layers_to_transform: null, layers_pattern: null,
      rank_pattern: {}, alpha_pattern: {}, revision: null, use_dora: false, auto_mapping: null,
    });
    expect(Object.keys(cfg)).toEqual([...Object.keys(cfg)].sort());
    expect(adapterConfigJson).toContain('\n  "r": 4,'); // indent=2 like PEFT's json.dumps
  });

  it('refuses to write weights whose sizes do not match the spec', () => {
    const spec = specFor(['q_proj']);
    const w = syntheticLoraWeights(STORIES, spec);
    w.layers[1]!.A = w.layers[1]!.A.subarray(1);
    expect(() => toPeftFiles(spec, w)).toThrow(/layer 1 q_proj: A has 511 values, expected r\*in = 8\*64/);
    expect(() => toPeftFiles(spec, syntheticLoraWeights(STORIES, specFor(['v_proj'])))).toThrow(/v_proj is not in target_modules/);
  });
});

// Each malformed adapter, the message it must produce. Built from a good q/v adapter, then damaged.
describe('fromPeftFiles refuses malformed adapters with a message saying what and where', () => {
  const spec = specFor(['q_proj', 'v_proj']);
  const good = toPeftFiles(spec, syntheticLoraWeights(STORIES, spec, 3));
  const goodConfig = JSON.parse(good.adapterConfigJson) as Record<string, unknown>;
  const goodTensors = (): TensorToWrite[] =>
    syntheticLoraWeights(STORIES, spec, 3).layers.flatMap((l) => [
      { name: peftTensorKey(l.layer, l.module, 'A'), shape: [8, l.inFeatures], data: l.A },
      { name: peftTensorKey(l.layer, l.module, 'B'), shape: [l.outFeatures, 8], data: l.B },
    ]);
  const withTensors = (edit: (t: TensorToWrite[]) => TensorToWrite[]): Uint8Array => writeSafetensors(edit(goodTensors()), { format: 'pt' });
  const withConfig = (over: Record<string, unknown>): string => JSON.stringify({ ...goodConfig, ...over });
  const Q0A = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
  const Q0B = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';

  const cases: [string, string, Uint8Array, RegExp][] = [
    ['wrong peft_type', withConfig({ peft_type: 'IA3' }), good.adapterSafetensors, /adapter_config.json: "peft_type" is "IA3", expected "LORA"/],
    ['config not JSON', '{"peft_type": "LORA",', good.adapterSafetensors, /adapter_config.json is not valid JSON/],
    ['r not a number', withConfig({ r: '8' }), good.adapterSafetensors, /"r" must be an integer from 1 to 4096, found "8"/],
    ['lora_alpha not a number', withConfig({ lora_alpha: null }), good.adapterSafetensors, /"lora_alpha" must be a number, found null/],
    ['regex target_modules', withConfig({ target_modules: '.*proj' }), good.adapterSafetensors, /"target_modules" is the pattern ".\*proj"; only a list/],
    ['unknown target module', withConfig({ target_modules: ['q_proj', 'lm_head'] }), good.adapterSafetensors, /"lm_head" is not a supported module/],
    ['DoRA', withConfig({ use_dora: true }), good.adapterSafetensors, /"use_dora" is true; this app supports only plain LoRA/],
    ['garbage safetensors bytes', good.adapterConfigJson, new TextEncoder().encode('this is not a safetensors file at all'), /adapter_model.safetensors: header length \d+ is not plausible/],
    ['too short', good.adapterConfigJson, new Uint8Array(3), /3 bytes is too short/],
    ['A with the wrong rank', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0A ? { ...x, shape: [4, 128] } : x))),
      new RegExp(`tensor "${Q0A.replaceAll('.', '\\.')}": shape \\[4, 128\\] but lora_A must be \\[r=8, in_features\\]`)],
    ['B with the wrong rank', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0B ? { ...x, shape: [128, 4] } : x))),
      /q_proj\.lora_B\.weight": shape \[128, 4\] but lora_B must be \[out_features, r=8\]/],
    ['in_features inconsistent across layers', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0A ? { ...x, shape: [8, 32], data: x.data.subarray(0, 256) } : x))),
      /q_proj is \[64 out, 32 in\] in layer 0 but \[64, 64\] in layer 1|q_proj is \[64 out, 64 in\] in layer \d but \[64, 32\] in layer 0/],
    ['missing B', good.adapterConfigJson, withTensors((t) => t.filter((x) => x.name !== Q0B)), /tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight" is missing/],
    ['missing a whole layer', good.adapterConfigJson, withTensors((t) => t.filter((x) => !x.name.includes('layers.2.self_attn.v_proj'))), /layers\.2\.self_attn\.v_proj\.lora_A\.weight" is missing/],
    ['NaN in B', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0B ? { ...x, data: Float32Array.from(x.data, (v, i) => (i === 17 ? NaN : v)) } : x))),
      /q_proj\.lora_B\.weight" holds a non-finite value \(NaN\) at flat index 17/],
    ['Infinity in A', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0A ? { ...x, data: Float32Array.from(x.data, (v, i) => (i === 3 ? -Infinity : v)) } : x))),
      /lora_A\.weight" holds a non-finite value \(-Infinity\) at flat index 3/],
    ['a key that is not LoRA', good.adapterConfigJson,
      withTensors((t) => [...t, { name: 'model.layers.0.self_attn.q_proj.weight', shape: [1], data: new Float32Array(1) }]),
      /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" is not a LoRA weight of the form/],
    ['an MLP module under self_attn', good.adapterConfigJson,
      withTensors((t) => [...t, { name: 'base_model.model.model.layers.0.self_attn.up_proj.lora_A.weight', shape: [8, 64], data: new Float32Array(512) }]),
      /up_proj does not belong under "self_attn"/],
    ['a module not in target_modules', good.adapterConfigJson,
      withTensors((t) => [...t, { name: 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight', shape: [8, 64], data: new Float32Array(512) }]),
      /k_proj is not in target_modules \["q_proj","v_proj"\]/],
    ['no tensors at all', good.adapterConfigJson, withTensors(() => []), /holds no LoRA tensors/],
    ['3-D tensor', good.adapterConfigJson,
      withTensors((t) => t.map((x) => (x.name === Q0A ? { ...x, shape: [8, 8, 8] } : x))), /shape \[8,8,8\] is not 2-D/],
  ];

  it.each(cases)('%s', async (_name, config, st, message) => {
    const err = await fromPeftFiles(config, st).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterFormatError);
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    ['layer beyond the model', withTensors((t) => [...t,
      { name: 'base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight', shape: [8, 64], data: new Float32Array(512) },
      { name: 'base_model.model.model.layers.5.self_attn.q_proj.lora_B.weight', shape: [64, 8], data: new Float32Array(512) }]),
    /layer 5 does not exist in a model of 5 layers/],
    ['v_proj shaped for another model', withTensors((t) => t.map((x) => (x.name.endsWith('v_proj.lora_B.weight') ? { ...x, shape: [16, 8], data: x.data.subarray(0, 128) } : x))),
      /v_proj of this model has 32 outputs \(expected \[32, 8\]\)/],
    ['q_proj A shaped for another model', withTensors((t) => t.map((x) => (x.name.endsWith('q_proj.lora_A.weight') ? { ...x, shape: [8, 32], data: x.data.subarray(0, 256) } : x))),
      /q_proj of this model takes 64 inputs \(expected \[8, 64\]\)/],
  ])('with the model config: %s', async (_name, st, message) => {
    const err = await fromPeftFiles(good.adapterConfigJson, st, STORIES).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterFormatError);
    expect((err as Error).message).toMatch(message);
  });
});
