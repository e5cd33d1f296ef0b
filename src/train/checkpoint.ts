// A training checkpoint: the trainer's state (adapter, AdamW moments, step, data position, dropout
// seed) plus the settings and base-model identity needed to resume it. Stored as one object in
// IndexedDB (storage/checkpoints.ts) or as two files in a folder (the CLI): a JSON file and a safetensors file.
import type { LoraSpec, LoraWeights } from '../adapters/lora-types';
import { bufferSource, readHeader, readTensorF32, writeSafetensors, type TensorToWrite } from '../model/safetensors';
import { LINEAR_MODULES, type LinearModule } from '../model/config';
import type { TrainerState } from './trainer';
import type { TrainSettings } from './settings';
import type { DpoMetrics } from './dpo';
import type { SoftPromptSpec } from '../adapters/soft-prompt-types';
import type { FullSpec } from './full-finetune';

export const CHECKPOINT_FORMAT = 'studio-train-checkpoint-v1';
export const CHECKPOINT_JSON_FILE = 'trainer_state.json';
export const CHECKPOINT_TENSORS_FILE = 'trainer_state.safetensors';

/** Curves so far, so a resumed run's charts continue where they stopped. */
export interface TrainHistory {
  steps: number[];
  loss: number[];
  lr: number[];
  gradNorm: number[];
  tokensPerSec: number[];
  evalSteps: number[];
  evalLoss: number[];
  /** DPO runs: reward metrics per step and per evaluation (absent for supervised runs). */
  dpoTrain?: DpoPoint[];
  dpoEval?: DpoPoint[];
  /** KTO and ORPO runs: each step's figures under TRL's log names (absent otherwise). */
  figureTrain?: FigurePoint[];
}

/** One step's named figures (rewards_chosen, kl, log_odds_ratio ...), for the objective's charts. */
export interface FigurePoint {
  step: number;
  figures: Record<string, number>;
}

/** One point of the DPO reward charts. */
export type DpoPoint = DpoMetrics & { step: number };

export function emptyHistory(): TrainHistory {
  return { steps: [], loss: [], lr: [], gradNorm: [], tokensPerSec: [], evalSteps: [], evalLoss: [] };
}

export interface TrainCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  runId: string;
  /** Milliseconds since the epoch. */
  savedAt: number;
  base: { source: string; fingerprint: string };
  /** The LoRA configuration (for soft-prompt runs: the form's LoRA settings, unused). */
  lora: LoraSpec;
  /** Present for prompt / prefix tuning runs: what they train instead of LoRA. */
  soft?: SoftPromptSpec;
  /** Present for full fine-tuning runs: state.full holds every weight. */
  full?: FullSpec;
  settings: TrainSettings;
  totalSteps: number;
  /** Elapsed training time before this checkpoint, so the resumed run's clock continues. */
  elapsedMs: number;
  state: TrainerState;
  history: TrainHistory;
  /** examplesFingerprint of the training examples: resuming on other data is refused. */
  dataFingerprint?: string;
}

/** FNV-1a over every example's tokens and loss mask: cheap, and changes when the data does. */
export function examplesFingerprint(examples: { inputIds: number[]; lossMask: number[]; rejected?: { inputIds: number[]; lossMask: number[] } }[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= x >>> 16;
    h = Math.imul(h, 0x01000193);
  };
  mix(examples.length);
  for (const e of examples) {
    mix(e.inputIds.length);
    for (let i = 0; i < e.inputIds.length; i++) mix(e.inputIds[i] * 2 + (e.lossMask[i] ? 1 : 0));
    // A pair's rejected answer (only pairs have one, so other data keeps its fingerprint).
    if (e.rejected) {
      mix(-1 - e.rejected.inputIds.length);
      for (let i = 0; i < e.rejected.inputIds.length; i++) mix(e.rejected.inputIds[i] * 2 + (e.rejected.lossMask[i] ? 1 : 0));
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class CheckpointFormatError extends Error {
  override name = 'CheckpointFormatError';
}

const tensorName = (kind: 'adapter' | 'm' | 'v', layer: number, module: LinearModule, which: 'A' | 'B') => `${kind}.${layer}.${module}.${which}`;

/** The two files of a checkpoint folder. Float arrays go to safetensors, everything else to JSON. */
export function checkpointToFiles(c: TrainCheckpoint): { json: string; tensors: Uint8Array } {
  const tensors: TensorToWrite[] = [];
  c.state.adapter.layers.forEach((w, k) => {
    const r = c.lora.r;
    const shapeA = [r, w.inFeatures];
    const shapeB = [w.outFeatures, r];
    tensors.push({ name: tensorName('adapter', w.layer, w.module, 'A'), shape: shapeA, data: w.A });
    tensors.push({ name: tensorName('adapter', w.layer, w.module, 'B'), shape: shapeB, data: w.B });
    // Moments follow adapter.variables(): A then B of each pair, pairs in adapter.layers order.
    tensors.push({ name: tensorName('m', w.layer, w.module, 'A'), shape: shapeA, data: c.state.m[2 * k] });
    tensors.push({ name: tensorName('m', w.layer, w.module, 'B'), shape: shapeB, data: c.state.m[2 * k + 1] });
    tensors.push({ name: tensorName('v', w.layer, w.module, 'A'), shape: shapeA, data: c.state.v[2 * k] });
    tensors.push({ name: tensorName('v', w.layer, w.module, 'B'), shape: shapeB, data: c.state.v[2 * k + 1] });
  });
  if (c.state.soft) {
    const shape = [c.soft?.numVirtualTokens ?? 1, c.state.soft.values.length / (c.soft?.numVirtualTokens ?? 1)];
    tensors.push({ name: 'soft.prompt', shape, data: c.state.soft.values });
    tensors.push({ name: 'm.soft.prompt', shape, data: c.state.m[0] });
    tensors.push({ name: 'v.soft.prompt', shape, data: c.state.v[0] });
  }
  if (c.state.full) {
    // Moments follow the weights' order; each tensor under its Hugging Face name.
    const f = c.state.full;
    f.names.forEach((name, i) => {
      tensors.push({ name: `full.${name}`, shape: f.shapes[i], data: f.values[i] });
      tensors.push({ name: `m.full.${name}`, shape: f.shapes[i], data: c.state.m[i] });
      tensors.push({ name: `v.full.${name}`, shape: f.shapes[i], data: c.state.v[i] });
    });
  }
  const { adapter, m, v, soft: _soft, full, ...rest } = c.state;
  const meta = {
    ...c,
    state: { ...rest, ...(full ? { full: { names: full.names, shapes: full.shapes } } : {}), layers: adapter.layers.map((w) => ({ layer: w.layer, module: w.module, inFeatures: w.inFeatures, outFeatures: w.outFeatures })) },
  };
  return { json: JSON.stringify(meta, null, 1), tensors: writeSafetensors(tensors, { format: 'pt', content: CHECKPOINT_FORMAT }) };
}

/** Inverse of checkpointToFiles; `where` names the folder in errors. */
export async function checkpointFromFiles(json: string, tensorBytes: Uint8Array, where: string): Promise<TrainCheckpoint> {
  let meta: Omit<TrainCheckpoint, 'state'> & { state: Omit<TrainerState, 'adapter' | 'm' | 'v'> & { layers: { layer: number; module: LinearModule; inFeatures: number; outFeatures: number }[] } };
  try {
    meta = JSON.parse(json);
  } catch (e) {
    throw new CheckpointFormatError(`${where}/${CHECKPOINT_JSON_FILE}: not valid JSON (${(e as Error).message})`);
  }
  if (meta?.format !== CHECKPOINT_FORMAT) throw new CheckpointFormatError(`${where}/${CHECKPOINT_JSON_FILE}: field "format" should be "${CHECKPOINT_FORMAT}", found ${JSON.stringify(meta?.format)}`);
  const layers = meta.state?.layers;
  if (!Array.isArray(layers)) throw new CheckpointFormatError(`${where}/${CHECKPOINT_JSON_FILE}: field "state.layers" is missing`);
  const src = bufferSource(tensorBytes);
  const header = await readHeader(src, `${where}/${CHECKPOINT_TENSORS_FILE}`);
  const read = (kind: 'adapter' | 'm' | 'v', l: (typeof layers)[number], which: 'A' | 'B') => {
    if (!LINEAR_MODULES.includes(l.module)) throw new CheckpointFormatError(`${where}/${CHECKPOINT_JSON_FILE}: unknown module "${l.module}" in state.layers`);
    return readTensorF32(src, header, tensorName(kind, l.layer, l.module, which));
  };
  const adapter: LoraWeights = { layers: [] };
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  if (meta.full) {
    const f = (meta.state as { full?: { names?: unknown; shapes?: number[][] } }).full;
    if (!f || !Array.isArray(f.names) || !Array.isArray(f.shapes)) throw new CheckpointFormatError(`${where}/${CHECKPOINT_JSON_FILE}: a full fine-tuning checkpoint needs "state.full.names" and "state.full.shapes"`);
    const names = f.names as string[];
    const values: Float32Array[] = [];
    for (const name of names) {
      if (!header.tensors.has(`full.${name}`)) throw new CheckpointFormatError(`${where}/${CHECKPOINT_TENSORS_FILE}: tensor "full.${name}" is missing`);
      values.push(await readTensorF32(src, header, `full.${name}`));
      m.push(await readTensorF32(src, header, `m.full.${name}`));
      v.push(await readTensorF32(src, header, `v.full.${name}`));
    }
    const { layers: _l, ...restFull } = meta.state;
    return { ...meta, state: { ...restFull, adapter, full: { names, shapes: f.shapes, values }, m, v } };
  }
  if (meta.soft) {
    const name = (k: string) => readTensorF32(src, header, k);
    const { layers: _l, ...restSoft } = meta.state;
    return { ...meta, state: { ...restSoft, adapter, soft: { values: await name('soft.prompt') }, m: [await name('m.soft.prompt')], v: [await name('v.soft.prompt')] } };
  }
  for (const l of layers) {
    adapter.layers.push({ ...l, A: await read('adapter', l, 'A'), B: await read('adapter', l, 'B') });
    m.push(await read('m', l, 'A'), await read('m', l, 'B'));
    v.push(await read('v', l, 'A'), await read('v', l, 'B'));
  }
  const { layers: _drop, ...rest } = meta.state;
  return { ...meta, state: { ...rest, adapter, m, v } };
}
