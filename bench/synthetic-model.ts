// Random-weight models of a real config (../shared/tokenizers/*/config.json) for the scale
// benchmark, as a safetensors file whose bytes are computed when read: the loader path is the real
// one, and no 0.5-2 GB buffer is ever built. Values are a fixed hash of (tensor, index), uniform in
// ±scale (std ~0.02 like a trained model's), norms 1, biases small; the same bytes on every run.
import { parseConfig, LINEAR_MODULES, linearKey, linearShape, type ModelConfig } from '../src/model/config';
import type { ByteSource } from '../src/model/safetensors';
import type { ModelFileSet } from '../src/model/files';

interface Planned {
  name: string;
  shape: number[];
  /** 'ones' for norm weights (Gemma's are stored as offsets from 1: zeros), else uniform ±scale. */
  fill: 'ones' | 'zeros' | number;
  begin: number;
  end: number;
}

/** A fast 32-bit integer hash (lowbias32), for reproducible values without a generator's state. */
function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The tensors load.ts reads for this config, in its order. */
function plan(cfg: ModelConfig): Omit<Planned, 'begin' | 'end'>[] {
  const prefix = cfg.weightPrefixes[0] ?? 'model.';
  const C = cfg.hiddenSize;
  const norm = cfg.normOffset === 1 ? ('zeros' as const) : ('ones' as const);
  const out: Omit<Planned, 'begin' | 'end'>[] = [{ name: `${prefix}embed_tokens.weight`, shape: [cfg.vocabSize, C], fill: 0.035 }];
  if (!cfg.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, C], fill: 0.035 });
  out.push({ name: `${prefix}norm.weight`, shape: [C], fill: norm });
  for (let i = 0; i < cfg.numLayers; i++) {
    const at = `${prefix}layers.${i}.`;
    const norms = ['input_layernorm', 'post_attention_layernorm', ...(cfg.sandwichNorms ? ['pre_feedforward_layernorm', 'post_feedforward_layernorm'] : [])];
    for (const n of norms) out.push({ name: `${at}${n}.weight`, shape: [C], fill: norm });
    if (cfg.qkNorm) for (const n of ['q_norm', 'k_norm']) out.push({ name: `${at}self_attn.${n}.weight`, shape: [cfg.headDim], fill: norm });
    for (const m of cfg.biases) out.push({ name: linearKey(i, m, prefix).replace(/weight$/, 'bias'), shape: [linearShape(cfg, m).out], fill: 0.01 });
    for (const m of LINEAR_MODULES) {
      const { out: o, in: inF } = linearShape(cfg, m);
      out.push({ name: linearKey(i, m, prefix), shape: [o, inF], fill: 0.035 });
    }
  }
  return out;
}

/** config.json object -> a ModelFileSet whose one shard is generated on read. */
export function syntheticModelFiles(configJson: Record<string, unknown>, source = 'synthetic'): ModelFileSet {
  const cfg = parseConfig(configJson);
  let offset = 0;
  const tensors: Planned[] = plan(cfg).map((t) => {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    const p = { ...t, begin: offset, end: offset + bytes };
    offset += bytes;
    return p;
  });
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', note: 'synthetic random weights (bench/synthetic-model.ts)' } };
  for (const t of tensors) header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [t.begin, t.end] };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const dataStart = 8 + headerBytes.length;
  const size = dataStart + offset;
  const source_: ByteSource = {
    size,
    read: async (at, length) => {
      const out = new Uint8Array(length);
      const view = new DataView(out.buffer);
      for (let i = 0; i < length; i++) {
        const pos = at + i;
        if (pos < 8) out[i] = pos < 4 ? (headerBytes.length >>> (8 * pos)) & 0xff : 0;
        else if (pos < dataStart) out[i] = headerBytes[pos - 8];
        else break;
      }
      // Whole float32 values of the data region, computed per element.
      let pos = Math.max(at, dataStart);
      const end = at + length;
      let ti = tensors.findIndex((t) => dataStart + t.end > pos);
      while (pos < end && ti >= 0 && ti < tensors.length) {
        const t = tensors[ti];
        const tEnd = Math.min(end, dataStart + t.end);
        const seed = hash32(ti + 1);
        for (; pos < tEnd; pos += 4) {
          const e = (pos - dataStart - t.begin) >> 2;
          const v = t.fill === 'ones' ? 1 : t.fill === 'zeros' ? 0 : ((hash32(seed ^ Math.imul(e, 0x9e3779b1)) / 4294967296) * 2 - 1) * t.fill;
          if (pos - at + 4 <= length && pos >= at) view.setFloat32(pos - at, v, true);
        }
        ti++;
      }
      return out;
    },
  };
  return { source, config: configJson, tokenizerJson: {}, tokenizerConfig: {}, shards: [{ name: 'model.safetensors', bytes: source_ }], fingerprint: `synthetic-${cfg.hiddenSize}-${cfg.numLayers}-${cfg.vocabSize}` };
}
