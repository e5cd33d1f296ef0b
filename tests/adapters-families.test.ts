// Adapters per family: the PEFT files we write carry the base's name and exactly the tensor names
// and shapes PEFT itself wrote for that family (peft-adapter/ of each tiny model, Qwen3's
// non-square q/o included); share links carry them bit for bit; and an adapter is refused on a
// model of another family, by shape or by its recorded family, with the reason.
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { parseConfig, LINEAR_MODULES, type LlamaConfig } from '../src/model/config';
import { familyProvenance, fromPeftFiles, toPeftFiles, AdapterFormatError } from '../src/adapters/peft';
import { bufferSource, readHeader } from '../src/model/safetensors';
import { decodeShareFragment, encodeShareLink } from '../src/adapters/share-link';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import type { LoraSpec } from '../src/adapters/lora-types';
import { FAMILY_MODELS, modelDir } from './families-fixture';

async function family(name: string): Promise<{ config: LlamaConfig; peftConfig: string; peftWeights: Uint8Array }> {
  const dir = modelDir(name);
  return {
    config: parseConfig(JSON.parse(await readFile(`${dir}config.json`, 'utf8'))),
    peftConfig: await readFile(`${dir}peft-adapter/adapter_config.json`, 'utf8'),
    peftWeights: new Uint8Array(await readFile(`${dir}peft-adapter/adapter_model.safetensors`)),
  };
}

async function shapes(bytes: Uint8Array): Promise<Record<string, number[]>> {
  const h = await readHeader(bufferSource(bytes));
  return Object.fromEntries([...h.tensors].map(([k, v]) => [k, v.shape]));
}

const spec = (baseModel: string): LoraSpec => ({ r: 4, alpha: 8, dropout: 0, targetModules: [...LINEAR_MODULES], useRslora: false, baseModel });

describe.each(FAMILY_MODELS)('%s adapters', (name) => {
  it('our PEFT files have the base name, the targets, and the very tensor names and shapes PEFT wrote', async () => {
    const f = await family(name);
    const ours = toPeftFiles(spec(`https://models.example/${name}`), syntheticLoraWeights(f.config, spec(name), 3), familyProvenance(f.config));
    const cfg = JSON.parse(ours.adapterConfigJson) as Record<string, unknown>;
    expect(cfg.base_model_name_or_path).toBe(`https://models.example/${name}`);
    expect([...(cfg.target_modules as string[])].sort()).toEqual([...(JSON.parse(f.peftConfig).target_modules as string[])].sort());
    expect(await shapes(ours.adapterSafetensors)).toEqual(await shapes(f.peftWeights));
    // And they read back on the same family.
    const back = await fromPeftFiles(ours.adapterConfigJson, ours.adapterSafetensors, f.config);
    expect(back.weights.layers).toHaveLength(7 * f.config.numLayers);
  });

  it("a share link carries PEFT's adapter for this family bit for bit", async () => {
    const f = await family(name);
    const { spec: s, weights } = await fromPeftFiles(f.peftConfig, f.peftWeights, f.config);
    const url = await encodeShareLink('https://studio.example/', { model: { source: `https://models.example/${name}`, fingerprint: 'f'.repeat(64) }, spec: s, weights });
    const decoded = await decodeShareFragment(new URL(url).hash, f.config);
    expect(decoded.model.source).toBe(`https://models.example/${name}`);
    expect(decoded.weights.layers.map((l) => [l.layer, l.module, Buffer.from(l.A.buffer).toString('base64'), Buffer.from(l.B.buffer).toString('base64')])).toEqual(
      weights.layers.map((l) => [l.layer, l.module, Buffer.from(l.A.buffer).toString('base64'), Buffer.from(l.B.buffer).toString('base64')]),
    );
  });
});

describe('an adapter on another family is refused with the reason', () => {
  it("Qwen3's adapter (q_proj 128 out) on Llama 3: by shape", async () => {
    const [qwen3, llama3] = [await family('tiny-qwen3'), await family('tiny-llama3')];
    await expect(fromPeftFiles(qwen3.peftConfig, qwen3.peftWeights, llama3.config)).rejects.toThrow(/q_proj of this model has 64 outputs \(expected \[64, 4\]\)|k_proj of this model/);
  });

  it("Gemma 3's adapter (7 layers) on Qwen2 (3 layers): by layer count", async () => {
    const [gemma, qwen2] = [await family('tiny-gemma3'), await family('tiny-qwen2')];
    await expect(fromPeftFiles(gemma.peftConfig, gemma.peftWeights, qwen2.config)).rejects.toThrow(AdapterFormatError);
  });

  it('an adapter we wrote for Qwen2 on Llama 3, whose shapes all agree: by its recorded family', async () => {
    const [qwen2, llama3] = [await family('tiny-qwen2'), await family('tiny-llama3')];
    const s = spec('tiny-qwen2');
    const ours = toPeftFiles(s, syntheticLoraWeights(qwen2.config, s, 1), familyProvenance(qwen2.config));
    await expect(fromPeftFiles(ours.adapterConfigJson, ours.adapterSafetensors, qwen2.config)).resolves.toBeDefined();
    await expect(fromPeftFiles(ours.adapterConfigJson, ours.adapterSafetensors, llama3.config)).rejects.toThrow(
      /trained on a qwen2-family model \(Qwen2ForCausalLM\), but the loaded model is LlamaForCausalLM \(llama family\)/,
    );
  });
});
