// Full fine-tuning: every weight of the decoder is a trainable fp32 tf.Variable (the master weights;
// AdamW keeps its two moments per variable), read from the model's own safetensors files. The frozen
// base stays loaded beside it, so DPO's reference and "Use & share"'s base-vs-tuned comparison run
// the original weights: that costs 4 more bytes per parameter (20 in all with weights, gradients and
// moments). The result is a complete set of Hugging Face tensors under their original names.
import * as tf from '@tensorflow/tfjs';
import { variableFrom } from './variables';
import { LINEAR_MODULES, linearKey, linearShape, parseConfig, type LinearModule, type ModelConfig } from '../model/config';
import { lmHeadKeys, readLayerVectors } from '../model/load';
import type { ModelFileSet } from '../model/files';
import { LlamaModel, type LayerWeights, type Packing } from '../model/llama';
import { TrainableLinear, TrainableTable } from '../model/trainable-weights';
import type { FrozenLinear } from '../model/linear';
import { listModelTensors, type SourceTensor } from '../export/model-tensors';

/** What a full fine-tuning run trains (kept in checkpoints; there is nothing to choose yet). */
export interface FullSpec {
  kind: 'full';
  /** The base the weights started from (its source), for display. */
  baseModel: string;
}

/** Every trained tensor, in the order of FullFineTune.variables() (the moments' order too). */
export interface FullWeights {
  names: string[];
  shapes: number[][];
  values: Float32Array[];
}

export class FullFineTuneError extends Error {
  override name = 'FullFineTuneError';
}

let instances = 0;

/** The tensors of `files` for writeHfModel, each under its own name, with `w`'s values where it has them (a checkpoint's state.full). */
export async function fullExportTensors(files: ModelFileSet, w: FullWeights): Promise<SourceTensor[]> {
  const trained = new Map(w.names.map((n, i) => [n, w.values[i]]));
  return (await listModelTensors(files)).map((t) => {
    const v = trained.get(t.name);
    return v ? { ...t, read: async () => v.slice() } : t;
  });
}

interface Param {
  /** Hugging Face name, e.g. model.layers.0.mlp.up_proj.weight */
  name: string;
  variable: tf.Variable;
}

export class FullFineTune {
  /** The decoder over the trainable variables (its forward pass is the tuned model). */
  readonly model: LlamaModel;
  /** No dropout in full fine-tuning; kept so the trainer treats every method alike. */
  training = false;
  readonly dropoutSeed = 0;

  private constructor(
    readonly config: ModelConfig,
    private readonly params: Param[],
    weights: ConstructorParameters<typeof LlamaModel>[1],
  ) {
    this.model = new LlamaModel(config, weights, { trainable: true });
  }

  /**
   * Trainable copies of every decoder weight of `files`. `base` is the loaded frozen model: full
   * fine-tuning needs it in fp32, since NF4 codes cannot be trained (refused with FullFineTuneError).
   */
  static async create(files: ModelFileSet, base?: LlamaModel): Promise<FullFineTune> {
    if (base && base.weights.layers.some((l) => LINEAR_MODULES.some((m) => l.linear[m].precision !== 'fp32'))) {
      throw new FullFineTuneError('Full fine-tuning trains every weight in fp32, so the base must be loaded in fp32, not NF4 (4-bit codes cannot be trained). Load the model in fp32, or use QLoRA to train over the NF4 base.');
    }
    const cfg = parseConfig(files.config);
    const source = new Map((await listModelTensors(files)).map((t) => [t.name, t]));
    const prefix = cfg.weightPrefixes.find((p) => source.has(`${p}embed_tokens.weight`));
    if (!prefix) throw new FullFineTuneError(`The checkpoint has no tensor "${cfg.weightPrefixes[0]}embed_tokens.weight"`);
    const params: Param[] = [];
    const variable = async (name: string, shape: number[]): Promise<tf.Variable> => {
      const t = source.get(name);
      if (!t) throw new FullFineTuneError(`The checkpoint has no tensor "${name}", which a ${cfg.architecture} with this config.json has`);
      if (t.shape.join(',') !== shape.join(',')) throw new FullFineTuneError(`Tensor "${name}" has shape [${t.shape}] but config.json implies [${shape}]`);
      const v = variableFrom(tf.tensor(await t.read(), shape), `full${instances}.${name}`);
      params.push({ name, variable: v });
      return v;
    };
    instances++;
    try {
      const C = cfg.hiddenSize;
      const V = cfg.vocabSize;
      const embed = (await variable(`${prefix}embed_tokens.weight`, [V, C])) as tf.Variable<tf.Rank.R2>;
      let lmHead = embed;
      if (!cfg.tieWordEmbeddings) {
        const headKey = lmHeadKeys(prefix).find((k) => source.has(k));
        if (!headKey) throw new FullFineTuneError('config.json says the output head is untied but the checkpoint has no lm_head.weight');
        lmHead = (await variable(headKey, [V, C])) as tf.Variable<tf.Rank.R2>;
      }
      const vec = async (name: string, n: number) => (await variable(name, [n])) as tf.Variable<tf.Rank.R1>;
      const finalNorm = await vec(`${prefix}norm.weight`, C);
      const layers: LayerWeights[] = [];
      for (let i = 0; i < cfg.numLayers; i++) {
        const { inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, bias } = await readLayerVectors(cfg, prefix, i, vec);
        const linear = {} as Record<LinearModule, FrozenLinear>;
        for (const m of LINEAR_MODULES) {
          const { out, in: inF } = linearShape(cfg, m);
          linear[m] = new TrainableLinear((await variable(linearKey(i, m, prefix), [out, inF])) as tf.Variable<tf.Rank.R2>);
        }
        layers.push({ inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, linear, bias });
      }
      const table = new TrainableTable(embed);
      const head = lmHead === embed ? table : new TrainableTable(lmHead); // tied: one object, as the frozen base
      return new FullFineTune(cfg, params, { embed: table, lmHead: head, finalNorm, layers });
    } catch (e) {
      for (const p of params) p.variable.dispose();
      throw e;
    }
  }

  /** ids [B, T] -> logits [B*T, V] of the tuned weights. */
  logits(ids: tf.Tensor2D, packing?: Packing): tf.Tensor2D {
    return this.model.forward(ids, { packing });
  }

  setDropoutSeed(_seed: number): void {}

  variables(): tf.Variable[] {
    return this.params.map((p) => p.variable);
  }

  parameterCount(): number {
    return this.params.reduce((a, p) => a + p.variable.size, 0);
  }

  async toWeights(): Promise<FullWeights> {
    const values: Float32Array[] = [];
    for (const p of this.params) values.push((await p.variable.data()) as Float32Array);
    return { names: this.params.map((p) => p.name), shapes: this.params.map((p) => [...p.variable.shape]), values };
  }

  assignWeights(w: FullWeights): void {
    if (w.names.length !== this.params.length || w.names.some((n, i) => n !== this.params[i].name)) {
      throw new FullFineTuneError(`assignWeights: these weights are not this model's (${w.names.length} tensors, expected ${this.params.length}, first "${w.names[0]}")`);
    }
    this.params.forEach((p, i) => {
      if (w.values[i].length !== p.variable.size) throw new FullFineTuneError(`assignWeights: "${p.name}" has ${w.values[i].length} values, expected ${p.variable.size}`);
      tf.tidy(() => p.variable.assign(tf.tensor(w.values[i], p.variable.shape)));
    });
  }

  /**
   * The checkpoint's tensors for writeHfModel (export/hf-model.ts): each of `files` under its own
   * name, with the trained values where this run trained it (anything else, e.g. a vision tower, as stored).
   */
  async exportTensors(files: ModelFileSet): Promise<SourceTensor[]> {
    return fullExportTensors(files, await this.toWeights());
  }

  /** Frees every variable (through the decoder, which also holds its rope tables). */
  dispose(): void {
    this.model.dispose();
  }
}
