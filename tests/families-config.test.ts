// config.json parsing per family: both schemas (v4 top-level rope keys, transformers 5's
// rope_parameters) give the same configuration, each family's traits come out as transformers
// reads them, and what the engine would not compute is refused naming the key.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig, UnsupportedModelError, linearShape } from '../src/model/config';
import { inverseFrequencies, parseRope } from '../src/model/rope';
import { FAMILY_MODELS, modelDir } from './families-fixture';
import { toV4, toV5 } from './config-schemas';

const SHARED = new URL('../../shared/', import.meta.url).pathname;
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const STORIES = () => json(`${SHARED}models/stories260K/config.json`);

describe('both config.json schemas', () => {
  it.each(FAMILY_MODELS)('%s parses identically as v4 and as v5', (name) => {
    const raw = json(`${modelDir(name)}config.json`);
    const v4 = raw.rope_parameters ? toV4(raw) : raw;
    const v5 = raw.rope_parameters ? raw : toV5(raw);
    expect(v4.rope_parameters).toBeUndefined();
    expect(v5.rope_theta).toBeUndefined();
    expect(parseConfig(v5)).toEqual(parseConfig(v4));
  });

  it('stories260K rewritten as v5 with theta 500000 reads theta 500000 (the silent default of issue 9)', () => {
    const v5 = toV5({ ...STORIES(), rope_theta: 500000 });
    expect(parseConfig(v5).rope.full.theta).toBe(500000);
    expect(parseConfig(v5)).toEqual(parseConfig({ ...STORIES(), rope_theta: 500000 }));
  });

  it('refuses rope_theta given twice with different values', () => {
    expect(() => parseConfig({ ...toV5(STORIES()), rope_theta: 20000 })).toThrow(/rope_parameters.rope_theta 10000 disagrees with rope_theta 20000/);
  });
});

describe('family traits', () => {
  const parse = (name: string) => parseConfig(json(`${modelDir(name)}config.json`));
  it('llama3: rope type llama3 with its four parameters, eos list', () => {
    const c = parse('tiny-llama3');
    expect(c.family).toBe('llama');
    expect(c.rope.full).toEqual({ type: 'llama3', theta: 500000, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(c.eosTokenIds).toEqual([2, 3]);
  });
  it('qwen2: q/k/v biases, not o', () => {
    expect(parse('tiny-qwen2').biases).toEqual(['q_proj', 'k_proj', 'v_proj']);
  });
  it('qwen3: q/k norms, head_dim 32 with 4 heads over hidden 64 (non-square q and o)', () => {
    const c = parse('tiny-qwen3');
    expect(c.qkNorm).toBe(true);
    expect(linearShape(c, 'q_proj')).toEqual({ out: 128, in: 64 });
    expect(linearShape(c, 'o_proj')).toEqual({ out: 64, in: 128 });
  });
  it('gemma3: offset norms, sandwich norms, gelu, scales, windows and rope per layer type', () => {
    const c = parse('tiny-gemma3');
    expect(c).toMatchObject({ family: 'gemma3', normOffset: 1, sandwichNorms: true, qkNorm: true, activation: 'gelu_tanh', embedScale: 8, slidingWindow: 12, tieWordEmbeddings: true, eosTokenIds: [2, 3] });
    expect(c.queryScale).toBeCloseTo(32 ** -0.5, 12);
    expect(c.layerTypes).toEqual(['sliding', 'sliding', 'sliding', 'sliding', 'sliding', 'full', 'sliding']);
    expect(c.rope.full.theta).toBe(1e6);
    expect(c.rope.sliding.theta).toBe(10000);
  });
  it('gemma3: without layer_types, the sliding window pattern decides (every 6th layer full)', () => {
    const { layer_types: _, ...raw } = json(`${modelDir('tiny-gemma3')}config.json`);
    expect(parseConfig(raw).layerTypes).toEqual(['sliding', 'sliding', 'sliding', 'sliding', 'sliding', 'full', 'sliding']);
  });
  it('gemma3 multimodal: the text_config of Gemma3ForConditionalGeneration, with its language-model key prefixes', () => {
    const text = json(`${modelDir('tiny-gemma3')}config.json`);
    const c = parseConfig({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { ...text, architectures: undefined }, vision_config: { hidden_size: 1152 }, mm_tokens_per_image: 256 });
    expect(c.weightPrefixes).toEqual(['model.language_model.', 'language_model.model.']);
    expect(c.layerTypes).toEqual(parse('tiny-gemma3').layerTypes);
  });
  it('real hub configs: SmolLM2-135M (v5) and Qwen2.5-0.5B-Instruct (v4) parse', () => {
    expect(parseConfig(json(`${SHARED}tokenizers/smollm2/config.json`))).toMatchObject({ family: 'llama', ropeTheta: 100000, numKvHeads: 3, tieWordEmbeddings: true });
    expect(parseConfig(json(`${SHARED}tokenizers/qwen2.5-0.5b-instruct/config.json`))).toMatchObject({ family: 'qwen2', ropeTheta: 1e6, slidingWindow: null, biases: ['q_proj', 'k_proj', 'v_proj'] });
  });
});

describe('refusals name what is wrong', () => {
  const stories = STORIES();
  const gemma = json(`${modelDir('tiny-gemma3')}config.json`);
  it.each([
    { what: 'an unknown rope type', cfg: { ...stories, rope_scaling: { rope_type: 'yarn', factor: 4 } }, message: /rope_scaling.rope_type "yarn" is not supported \(supported: default, linear, llama3\)/ },
    { what: 'dynamic rope (not implemented)', cfg: { ...stories, rope_scaling: { type: 'dynamic', factor: 2 } }, message: /rope_type "dynamic" is not supported/ },
    { what: 'a rope key not applied', cfg: { ...stories, rope_scaling: { rope_type: 'linear', factor: 2, attention_factor: 1.5 } }, message: /rope_scaling.attention_factor .* not supported for rope_type linear/ },
    { what: 'an unknown activation', cfg: { ...stories, hidden_act: 'gelu' }, message: /hidden_act "gelu" is not supported for llama/ },
    { what: 'an unknown Gemma activation', cfg: { ...gemma, hidden_activation: 'relu' }, message: /hidden_activation "relu" is not supported/ },
    { what: 'an unknown option', cfg: { ...stories, partial_rotary_factor: 0.5 }, message: /"partial_rotary_factor" \(0.5\) is not an option this engine understands/ },
    { what: 'an unknown layer type', cfg: { ...gemma, layer_types: [...(gemma.layer_types as string[]).slice(0, 6), 'chunked_attention'] }, message: /layer_types\[6\] "chunked_attention" is not supported/ },
    { what: 'MLP biases', cfg: { ...stories, mlp_bias: true }, message: /"mlp_bias" is true; only false is supported/ },
    { what: 'Phi-3', cfg: { architectures: ['Phi3ForCausalLM'], model_type: 'phi3' }, message: /Unsupported model architecture "Phi3ForCausalLM".*Supported: LlamaForCausalLM.*Qwen3ForCausalLM.*Gemma3ForCausalLM/ },
    { what: 'LFM2', cfg: { architectures: ['Lfm2ForCausalLM'], model_type: 'lfm2' }, message: /Unsupported model architecture "Lfm2ForCausalLM"/ },
    { what: 'a Qwen3.5 hybrid', cfg: { architectures: ['Qwen3_5ForConditionalGeneration'], model_type: 'qwen3_5' }, message: /Unsupported model architecture "Qwen3_5ForConditionalGeneration"/ },
    { what: 'a multimodal Gemma without text_config', cfg: { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3' }, message: /has no "text_config"/ },
    { what: 'a quantized checkpoint', cfg: { ...stories, quantization_config: { quant_method: 'bitsandbytes' } }, message: /"quantization_config"/ },
  ])('$what', ({ cfg, message }) => {
    expect(() => parseConfig(cfg)).toThrow(UnsupportedModelError);
    expect(() => parseConfig(cfg)).toThrow(message);
  });
});

describe('rope frequencies', () => {
  it('llama3 rule: long wavelengths divided by factor, short kept, medium blended (float64 plain implementation)', () => {
    const spec = parseRope({ rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }, 500000, 'test');
    const D = 128;
    const got = inverseFrequencies(spec, D);
    let kept = 0, slowed = 0, blended = 0;
    for (let j = 0; j < D / 2; j++) {
      const inv = 1 / Math.pow(500000, (2 * j) / D);
      const wl = (2 * Math.PI) / inv;
      let want: number;
      if (wl < 8192 / 4) { want = inv; kept++; }
      else if (wl > 8192) { want = inv / 32; slowed++; }
      else { const s = (8192 / wl - 1) / 3; want = (1 - s) * (inv / 32) + s * inv; blended++; }
      expect(Math.abs(got[j] - want) / want).toBeLessThan(1e-5);
    }
    expect(kept * slowed * blended).toBeGreaterThan(0); // every branch taken
  });
  it('linear: every frequency divided by the factor', () => {
    const plain = inverseFrequencies(parseRope(null, 10000, 'test'), 16);
    const linear = inverseFrequencies(parseRope({ rope_type: 'linear', factor: 8 }, 10000, 'test'), 16);
    plain.forEach((p, j) => expect(linear[j]).toBeCloseTo(p / 8, 7));
  });
});
