// Hosted-adapter links and the base precision carried by inline links.
import { describe, it, expect } from 'vitest';
import { encodeHostedAdapterLink, hostedAdapterLocation, encodeShareLink, decodeShareFragment, ShareLinkError } from './share-link';
import { fetchHostedAdapter } from './hosted-adapter';
import { toPeftFiles } from './peft';
import { syntheticLoraWeights } from './synthetic-adapter';
import { parseConfig } from '../model/config';
import type { LoraSpec } from './lora-types';
import { fromPromptPeftFiles, toPromptPeftFiles } from './peft-prompt';
import { softPromptWidth, type SoftPromptSpec } from './soft-prompt-types';

const config = parseConfig({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 32 });
const spec: LoraSpec = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'org/base' };

function fakeFetch(files: Record<string, string | Uint8Array>): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = String(input);
    const name = url.slice(url.lastIndexOf('/') + 1);
    const body = files[name];
    if (body === undefined) return new Response('not found', { status: 404 });
    return new Response(body as BodyInit, { status: 200 });
  }) as typeof fetch;
}

describe('hosted adapter links', () => {
  it.each([
    ['org/my-adapter'],
    ['https://example.org/adapters/run 1?x=y&z'],
  ])('round-trips the location %s through the fragment', (where) => {
    const link = encodeHostedAdapterLink('https://studio.example/app/#old', where);
    expect(link.startsWith('https://studio.example/app/#adapter-url=')).toBe(true);
    expect(hostedAdapterLocation(new URL(link).hash)).toBe(where);
  });

  it('is not confused with an inline link, and refuses an empty or badly encoded location', () => {
    expect(hostedAdapterLocation('#adapter=AAAA')).toBeNull();
    expect(() => hostedAdapterLocation('#adapter-url=')).toThrow(ShareLinkError);
    expect(() => hostedAdapterLocation('#adapter-url=%E0%A4%A')).toThrow(/not valid URL encoding/);
    expect(() => encodeHostedAdapterLink('https://x/', '  ')).toThrow(ShareLinkError);
  });

  it('reads the base model, fingerprint and precision from the hosted PEFT files', async () => {
    const files = toPeftFiles(spec, syntheticLoraWeights(config, spec), { base_model_fingerprint: 'abcdef0123456789', base_precision: 'nf4' });
    const h = await fetchHostedAdapter('https://host.example/a', fakeFetch({ 'adapter_config.json': files.adapterConfigJson, 'adapter_model.safetensors': files.adapterSafetensors }));
    expect(h.baseUrl).toBe('https://host.example/a');
    expect(h.model).toEqual({ source: 'org/base', fingerprint: 'abcdef0123456789', basePrecision: 'nf4' });
    expect(h.spec).toMatchObject({ r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'] });
  });

  it.each([
    ['a missing weights file', { 'adapter_config.json': '{}' }, /HTTP 404/],
    ['a config of a PEFT type this app does not read', { 'adapter_config.json': '{"peft_type":"IA3"}', 'adapter_model.safetensors': new Uint8Array(16) }, /not a valid PEFT adapter: .*"IA3"/],
    ['a prefix-tuning config without its base model', { 'adapter_config.json': '{"peft_type":"PREFIX_TUNING"}', 'adapter_model.safetensors': new Uint8Array(16) }, /base_model_name_or_path/],
  ])('gives a ShareLinkError for %s', async (_name, files, message) => {
    await expect(fetchHostedAdapter('https://host.example/a', fakeFetch(files))).rejects.toThrow(message);
  });
});

describe('soft prompts travel by hosted and inline links', () => {
  const soft: SoftPromptSpec = { kind: 'prefix-tuning', numVirtualTokens: 3, init: 'random', initText: null, baseModel: 'org/base' };
  const values = Float32Array.from({ length: 3 * softPromptWidth(config, 'prefix-tuning') }, (_, i) => Math.sin(i) * 1e-3);

  it('a hosted PREFIX_TUNING adapter names its base and reads back bit for bit', async () => {
    const files = toPromptPeftFiles(soft, config, { values }, { base_model_fingerprint: 'f00d', base_precision: 'fp32' });
    const h = await fetchHostedAdapter('https://host.example/p', fakeFetch({ 'adapter_config.json': files.adapterConfigJson, 'adapter_model.safetensors': files.adapterSafetensors }));
    expect(h.model).toEqual({ source: 'org/base', fingerprint: 'f00d', basePrecision: 'fp32' });
    expect(h.soft).toBe(true);
    expect(h.spec).toBeUndefined();
    const read = await fromPromptPeftFiles(h.configJson, h.safetensors, config);
    expect([...new Uint32Array(read.weights.values.buffer, read.weights.values.byteOffset, read.weights.values.length)]).toEqual([...new Uint32Array(values.buffer)]);
  });

  it('an inline link carries the soft prompt and its kind, and refuses one of the wrong width', async () => {
    const link = encodeShareLink('https://s/', { model: { source: 'org/base', fingerprint: 'f' }, soft, softWeights: { values } });
    const back = await decodeShareFragment(new URL(link).hash, config);
    expect('soft' in back && back.soft).toEqual(soft);
    expect('softWeights' in back && [...back.softWeights.values]).toEqual([...values]);
    const wrong = parseConfig({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 16, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 32 });
    await expect(decodeShareFragment(new URL(link).hash, wrong)).rejects.toThrow(/"prompt_embeddings" has shape \[3, 32\], expected \[3, 48\]/);
  });
});

describe('inline links carry the base precision', () => {
  it.each(['fp32', 'nf4'] as const)('round-trips %s', async (basePrecision) => {
    const link = encodeShareLink('https://s/', { model: { source: 'org/base', fingerprint: 'f', basePrecision }, spec, weights: syntheticLoraWeights(config, spec) });
    expect((await decodeShareFragment(new URL(link).hash)).model).toEqual({ source: 'org/base', fingerprint: 'f', basePrecision });
  });

  it('stays readable without one (links made before precision was recorded)', async () => {
    const link = encodeShareLink('https://s/', { model: { source: 'org/base', fingerprint: 'f' }, spec, weights: syntheticLoraWeights(config, spec) });
    expect((await decodeShareFragment(new URL(link).hash)).model).toEqual({ source: 'org/base', fingerprint: 'f' });
  });
});
