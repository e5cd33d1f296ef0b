// Hugging Face PEFT LoRA adapters: writes and reads adapter_config.json + adapter_model.safetensors
// exactly as PEFT's save_pretrained lays them out, so PeftModel.from_pretrained loads our downloads and
// we load theirs. Reading treats the files as untrusted: every key, shape and value is checked.
import { LINEAR_MODULES, linearKey, linearShape, type LinearModule, type LlamaConfig } from '../model/config';
import { bufferSource, readHeader, readTensorF32, SafetensorsError, writeSafetensors, type TensorToWrite } from '../model/safetensors';
import type { LoraLayerWeights, LoraSpec, LoraWeights } from './lora-types';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** Says what is wrong with an adapter and where (file, field or tensor name). */
export class AdapterFormatError extends Error {
  override name = 'AdapterFormatError';
}

/** PEFT's key for one LoRA matrix, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight */
export function peftTensorKey(layer: number, module: LinearModule, which: 'A' | 'B'): string {
  return `base_model.model.${linearKey(layer, module).replace(/\.weight$/, `.lora_${which}.weight`)}`;
}

const KEY_PATTERN = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_(A|B)\.weight$/;

/**
 * The adapter_config.json object. The field set is LoraConfig's as of PEFT 0.10-0.13 (each of these has
 * existed since 0.10, so older PEFT versions, which refuse unknown keys, load it too; newer ones fill in
 * their later fields with defaults). Values that we do not support are written as PEFT's defaults.
 */
export function toPeftConfig(spec: LoraSpec): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: spec.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...spec.targetModules],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: spec.useRslora,
  };
}

/** Serialises an adapter. `provenance` goes into the safetensors __metadata__ (strings only). */
export function toPeftFiles(
  spec: LoraSpec,
  weights: LoraWeights,
  provenance: Record<string, string> = {},
): { adapterConfigJson: string; adapterSafetensors: Uint8Array } {
  validateLoraSpec(spec, 'LoRA spec');
  const seen = new Set<string>();
  const tensors: TensorToWrite[] = [];
  for (const w of weights.layers) {
    const where = `layer ${w.layer} ${w.module}`;
    if (!spec.targetModules.includes(w.module)) throw new AdapterFormatError(`${where}: ${w.module} is not in target_modules ${JSON.stringify(spec.targetModules)}`);
    if (seen.has(where)) throw new AdapterFormatError(`${where}: appears twice in the adapter weights`);
    seen.add(where);
    if (w.A.length !== spec.r * w.inFeatures) throw new AdapterFormatError(`${where}: A has ${w.A.length} values, expected r*in = ${spec.r}*${w.inFeatures}`);
    if (w.B.length !== w.outFeatures * spec.r) throw new AdapterFormatError(`${where}: B has ${w.B.length} values, expected out*r = ${w.outFeatures}*${spec.r}`);
    tensors.push({ name: peftTensorKey(w.layer, w.module, 'A'), shape: [spec.r, w.inFeatures], data: w.A }); // [r, in]
    tensors.push({ name: peftTensorKey(w.layer, w.module, 'B'), shape: [w.outFeatures, spec.r], data: w.B }); // [out, r]
  }
  // PEFT writes json.dumps(config, indent=2, sort_keys=True); toPeftConfig lists keys sorted already.
  const adapterConfigJson = JSON.stringify(toPeftConfig(spec), null, 2);
  const adapterSafetensors = writeSafetensors(tensors, { ...provenance, format: 'pt' });
  return { adapterConfigJson, adapterSafetensors };
}

/**
 * Metadata naming the base's family and architecture, written into adapter_model.safetensors so an
 * adapter is refused on a model of another family even where the shapes happen to agree
 * (tiny Llama and Qwen2 models can share every projection shape; the weights would mean nothing).
 */
export function familyProvenance(model: Pick<LlamaConfig, 'family' | 'architecture'>): Record<string, string> {
  return { base_model_family: model.family, base_architecture: model.architecture };
}

/** Checks a LoraSpec that came from outside (a share link header): throws AdapterFormatError naming the field. */
export function validateLoraSpec(spec: unknown, where: string): LoraSpec {
  if (typeof spec !== 'object' || spec === null) throw new AdapterFormatError(`${where}: expected an object`);
  const s = spec as Record<string, unknown>;
  const r = s.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 4096) throw new AdapterFormatError(`${where}: r must be an integer from 1 to 4096, found ${JSON.stringify(r)}`);
  if (typeof s.alpha !== 'number' || !Number.isFinite(s.alpha)) throw new AdapterFormatError(`${where}: alpha must be a finite number, found ${JSON.stringify(s.alpha)}`);
  if (typeof s.dropout !== 'number' || !(s.dropout >= 0 && s.dropout < 1)) throw new AdapterFormatError(`${where}: dropout must be a number in [0, 1), found ${JSON.stringify(s.dropout)}`);
  const targetModules = checkTargetModules(s.targetModules, `${where}: targetModules`);
  if (typeof s.useRslora !== 'boolean') throw new AdapterFormatError(`${where}: useRslora must be true or false, found ${JSON.stringify(s.useRslora)}`);
  if (typeof s.baseModel !== 'string') throw new AdapterFormatError(`${where}: baseModel must be a string, found ${JSON.stringify(s.baseModel)}`);
  return { r, alpha: s.alpha, dropout: s.dropout, targetModules, useRslora: s.useRslora, baseModel: s.baseModel };
}

function checkTargetModules(v: unknown, where: string): LinearModule[] {
  if (typeof v === 'string') throw new AdapterFormatError(`${where} is the pattern ${JSON.stringify(v)}; only a list of module names (${LINEAR_MODULES.join(', ')}) is supported`);
  if (!Array.isArray(v) || v.length === 0) throw new AdapterFormatError(`${where} must be a non-empty list of module names, found ${JSON.stringify(v)}`);
  for (const m of v) {
    if (!(LINEAR_MODULES as readonly unknown[]).includes(m)) throw new AdapterFormatError(`${where}: ${JSON.stringify(m)} is not a supported module (supported: ${LINEAR_MODULES.join(', ')})`);
  }
  if (new Set(v).size !== v.length) throw new AdapterFormatError(`${where} lists a module twice: ${JSON.stringify(v)}`);
  return v as LinearModule[];
}

/** Parses adapter_config.json into a LoraSpec, refusing PEFT features this app does not implement. */
export function loraSpecFromPeftConfig(configJson: string, fileName = ADAPTER_CONFIG_FILE): LoraSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(configJson);
  } catch (e) {
    throw new AdapterFormatError(`${fileName} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AdapterFormatError(`${fileName} is not a JSON object`);
  const c = raw as Record<string, unknown>;
  const field = (k: string): string => `${fileName}: "${k}"`;
  if (c.peft_type !== 'LORA') throw new AdapterFormatError(`${field('peft_type')} is ${JSON.stringify(c.peft_type)}, expected "LORA" (only LoRA adapters are supported)`);
  if (c.task_type != null && c.task_type !== 'CAUSAL_LM') throw new AdapterFormatError(`${field('task_type')} is ${JSON.stringify(c.task_type)}, expected "CAUSAL_LM"`);
  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 4096) throw new AdapterFormatError(`${field('r')} must be an integer from 1 to 4096, found ${JSON.stringify(r)}`);
  const alpha = 'lora_alpha' in c ? c.lora_alpha : 8; // absent: PEFT's default; null is an error, as in PEFT
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new AdapterFormatError(`${field('lora_alpha')} must be a number, found ${JSON.stringify(alpha)}`);
  const dropout = 'lora_dropout' in c ? c.lora_dropout : 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new AdapterFormatError(`${field('lora_dropout')} must be a number in [0, 1), found ${JSON.stringify(dropout)}`);
  const targetModules = checkTargetModules(c.target_modules, field('target_modules'));
  const useRslora = 'use_rslora' in c ? c.use_rslora : false;
  if (typeof useRslora !== 'boolean') throw new AdapterFormatError(`${field('use_rslora')} must be true or false, found ${JSON.stringify(useRslora)}`);
  const base = c.base_model_name_or_path ?? '';
  if (typeof base !== 'string') throw new AdapterFormatError(`${field('base_model_name_or_path')} must be a string, found ${JSON.stringify(base)}`);
  // Features that change the math or add tensors we would otherwise silently ignore.
  const unsupported: [string, boolean][] = [
    ['use_dora', c.use_dora === true],
    ['bias', c.bias != null && c.bias !== 'none'],
    ['fan_in_fan_out', c.fan_in_fan_out === true],
    ['layers_to_transform', c.layers_to_transform != null],
    ['layer_replication', c.layer_replication != null],
    ['modules_to_save', Array.isArray(c.modules_to_save) && c.modules_to_save.length > 0],
    ['rank_pattern', isNonEmptyObject(c.rank_pattern)],
    ['alpha_pattern', isNonEmptyObject(c.alpha_pattern)],
  ];
  for (const [k, bad] of unsupported) {
    if (bad) throw new AdapterFormatError(`${field(k)} is ${JSON.stringify(c[k])}; this app supports only plain LoRA (${k} at its default)`);
  }
  return { r, alpha, dropout, targetModules, useRslora, baseModel: base };
}

function isNonEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

/**
 * Reads and checks adapter_model.safetensors against its spec (and the base model, when given): every key
 * must be a LoRA key of a target module, A [r, in] and B [out, r] must pair up, every layer must carry
 * every target module, and all values must be finite. Layers come back sorted by layer, then module.
 */
export async function readPeftSafetensors(
  spec: LoraSpec,
  bytes: Uint8Array,
  model?: LlamaConfig,
  fileName = ADAPTER_WEIGHTS_FILE,
): Promise<LoraWeights> {
  const source = bufferSource(bytes);
  // Any failure to parse the header (including a TypeError on odd JSON) means the bytes are not an adapter file.
  const header = await readHeader(source, fileName).catch((e: unknown) => {
    throw new AdapterFormatError(e instanceof SafetensorsError ? e.message : `${fileName}: not a valid safetensors file (${(e as Error).message})`);
  });
  const family = header.metadata.base_model_family;
  if (model && typeof family === 'string' && family !== model.family) {
    throw new AdapterFormatError(
      `${fileName}: this adapter was trained on a ${family}-family model (${header.metadata.base_architecture ?? 'architecture not recorded'}), but the loaded model is ${model.architecture} (${model.family} family): its weights only mean something on the family it was trained on`,
    );
  }
  const pairs = new Map<string, { layer: number; module: LinearModule; A?: string; B?: string }>();
  for (const [name, info] of header.tensors) {
    const where = `${fileName}: tensor "${name}"`;
    const m = KEY_PATTERN.exec(name);
    if (!m) throw new AdapterFormatError(`${where} is not a LoRA weight of the form base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}.weight`);
    const layer = Number(m[1]);
    const module = m[3] as LinearModule;
    if (!(LINEAR_MODULES as readonly string[]).includes(module)) throw new AdapterFormatError(`${where}: unknown module "${m[3]}"`);
    if (peftTensorKey(layer, module, m[4] as 'A' | 'B') !== name) throw new AdapterFormatError(`${where}: ${module} does not belong under "${m[2]}"`);
    if (!spec.targetModules.includes(module)) throw new AdapterFormatError(`${where}: ${module} is not in target_modules ${JSON.stringify(spec.targetModules)}`);
    if (model && layer >= model.numLayers) throw new AdapterFormatError(`${where}: layer ${layer} does not exist in a model of ${model.numLayers} layers`);
    if (info.shape.length !== 2) throw new AdapterFormatError(`${where}: shape ${JSON.stringify(info.shape)} is not 2-D`);
    const [rows, cols] = info.shape as [number, number];
    const expected = model ? linearShape(model, module) : null;
    if (m[4] === 'A') {
      if (rows !== spec.r) throw new AdapterFormatError(`${where}: shape [${rows}, ${cols}] but lora_A must be [r=${spec.r}, in_features]`);
      if (expected && cols !== expected.in) throw new AdapterFormatError(`${where}: shape [${rows}, ${cols}] but ${module} of this model takes ${expected.in} inputs (expected [${spec.r}, ${expected.in}])`);
    } else {
      if (cols !== spec.r) throw new AdapterFormatError(`${where}: shape [${rows}, ${cols}] but lora_B must be [out_features, r=${spec.r}]`);
      if (expected && rows !== expected.out) throw new AdapterFormatError(`${where}: shape [${rows}, ${cols}] but ${module} of this model has ${expected.out} outputs (expected [${expected.out}, ${spec.r}])`);
    }
    const key = `${layer}:${module}`;
    const p = pairs.get(key) ?? { layer, module };
    p[m[4] as 'A' | 'B'] = name;
    pairs.set(key, p);
  }
  if (pairs.size === 0) throw new AdapterFormatError(`${fileName}: holds no LoRA tensors`);

  // Coverage: PEFT (layers_to_transform null) adapts every layer, so a gap means a truncated or foreign file.
  const numLayers = model ? model.numLayers : Math.max(...[...pairs.values()].map((p) => p.layer)) + 1;
  for (let layer = 0; layer < numLayers; layer++) {
    for (const module of spec.targetModules) {
      const p = pairs.get(`${layer}:${module}`);
      for (const which of ['A', 'B'] as const) {
        if (!p?.[which]) throw new AdapterFormatError(`${fileName}: tensor "${peftTensorKey(layer, module, which)}" is missing`);
      }
    }
  }

  const layers: LoraLayerWeights[] = [];
  for (const p of pairs.values()) {
    const read = async (name: string): Promise<Float32Array> => {
      const data = await readTensorF32(source, header, name).catch((e: unknown) => {
        throw e instanceof SafetensorsError ? new AdapterFormatError(`${fileName}: ${e.message}`) : e;
      });
      const bad = data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new AdapterFormatError(`${fileName}: tensor "${name}" holds a non-finite value (${data[bad]}) at flat index ${bad}`);
      return data;
    };
    const A = await read(p.A!); // [r, in]
    const B = await read(p.B!); // [out, r]
    const inFeatures = header.tensors.get(p.A!)!.shape[1]!;
    const outFeatures = header.tensors.get(p.B!)!.shape[0]!;
    const other = layers.find((l) => l.module === p.module && (l.inFeatures !== inFeatures || l.outFeatures !== outFeatures));
    if (other) {
      throw new AdapterFormatError(`${fileName}: ${p.module} is [${outFeatures} out, ${inFeatures} in] in layer ${p.layer} but [${other.outFeatures}, ${other.inFeatures}] in layer ${other.layer}`);
    }
    layers.push({ layer: p.layer, module: p.module, inFeatures, outFeatures, A, B });
  }
  layers.sort((a, b) => a.layer - b.layer || LINEAR_MODULES.indexOf(a.module) - LINEAR_MODULES.indexOf(b.module));
  return { layers };
}

/** Reads a PEFT LoRA adapter (the two files' contents). Throws AdapterFormatError saying what is wrong and where. */
export async function fromPeftFiles(
  adapterConfigJson: string,
  adapterSafetensors: Uint8Array,
  model?: LlamaConfig,
): Promise<{ spec: LoraSpec; weights: LoraWeights }> {
  const spec = loraSpecFromPeftConfig(adapterConfigJson);
  const weights = await readPeftSafetensors(spec, adapterSafetensors, model);
  return { spec, weights };
}
