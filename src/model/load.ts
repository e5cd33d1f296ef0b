// Builds a LlamaModel from a ModelFileSet: reads each tensor from its shard one at a time,
// converts it to float32 and uploads it, so peak host memory is about one tensor, not one file.
import * as tf from '@tensorflow/tfjs';
import { parseConfig, LINEAR_MODULES, linearKey, linearShape, type LinearModule, UnsupportedModelError } from './config';
import { type ModelFileSet } from './files';
import { DenseLinear, type FrozenLinear } from './linear';
import { LlamaModel, type LayerWeights } from './llama';
import { readHeader, readTensorF32, type ByteSource, type SafetensorsHeader } from './safetensors';

export type BasePrecision = 'fp32' | 'nf4';

/** Creates the frozen storage of one projection; NF4 plugs in here. weight is [out, in] row-major. */
export type LinearFactory = (weight: Float32Array, outFeatures: number, inFeatures: number) => FrozenLinear;

export const denseFactory: LinearFactory = (w, out, inF) => new DenseLinear(tf.tensor2d(w, [out, inF]));

export interface LoadProgress {
  status: 'progress';
  file: string;
  loaded: number;
  total: number;
}

export async function loadModel(
  files: ModelFileSet,
  opts: { linearFactory?: LinearFactory; onProgress?: (p: LoadProgress) => void } = {},
): Promise<LlamaModel> {
  const cfg = parseConfig(files.config);
  const factory = opts.linearFactory ?? denseFactory;
  // Which shard holds which tensor.
  const where = new Map<string, { source: ByteSource; header: SafetensorsHeader }>();
  for (const shard of files.shards) {
    const header = await readHeader(shard.bytes, shard.name);
    for (const name of header.tensors.keys()) where.set(name, { source: shard.bytes, header });
  }
  const total = 3 + cfg.numLayers * (2 + LINEAR_MODULES.length);
  let loaded = 0;
  const read = async (name: string, shape: number[]): Promise<Float32Array> => {
    const w = where.get(name);
    if (!w) throw new UnsupportedModelError(`The checkpoint has no tensor "${name}"; is this a Llama-family model?`);
    const info = w.header.tensors.get(name)!;
    if (info.shape.join(',') !== shape.join(',')) {
      throw new UnsupportedModelError(`Tensor "${name}" has shape [${info.shape}] but config.json implies [${shape}]`);
    }
    const data = await readTensorF32(w.source, w.header, name);
    opts.onProgress?.({ status: 'progress', file: 'weights', loaded: ++loaded, total });
    return data;
  };
  const C = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const created: tf.Tensor[] = [];
  const linears: FrozenLinear[] = [];
  try {
    const embed = tf.tensor2d(await read('model.embed_tokens.weight', [V, C]), [V, C]);
    created.push(embed);
    let lmHead = embed;
    if (!cfg.tieWordEmbeddings) {
      if (where.has('lm_head.weight')) {
        lmHead = tf.tensor2d(await read('lm_head.weight', [V, C]), [V, C]);
        created.push(lmHead);
      } else throw new UnsupportedModelError('config.json says the output head is untied but the checkpoint has no lm_head.weight');
    }
    const finalNorm = tf.tensor1d(await read('model.norm.weight', [C]));
    created.push(finalNorm);
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const inputNorm = tf.tensor1d(await read(`model.layers.${i}.input_layernorm.weight`, [C]));
      const postNorm = tf.tensor1d(await read(`model.layers.${i}.post_attention_layernorm.weight`, [C]));
      created.push(inputNorm, postNorm);
      const linear = {} as Record<LinearModule, FrozenLinear>;
      for (const m of LINEAR_MODULES) {
        const { out, in: inF } = linearShape(cfg, m);
        const lin = factory(await read(linearKey(i, m), [out, inF]), out, inF);
        linears.push(lin);
        linear[m] = lin;
        // Yield so a worker stays responsive to cancel/progress messages during long loads.
        await new Promise((r) => setTimeout(r, 0));
      }
      layers.push({ inputNorm, postNorm, linear });
    }
    return new LlamaModel(cfg, { embed, lmHead, finalNorm, layers });
  } catch (e) {
    for (const t of created) t.dispose();
    for (const l of linears) l.dispose();
    throw e;
  }
}
