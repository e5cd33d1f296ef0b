// The base checkpoint as a list of named tensors to export, read lazily one at a time from its
// safetensors shards (IndexedDB chunks in the browser, a file in Node), so an exporter holds one
// tensor in memory, never the model. Family-agnostic: every tensor of the checkpoint is listed
// (biases, q/k norms...), so formats need no knowledge of which layers the decoder uses.
import { type ModelFileSet } from '../model/files';
import { readHeader, readTensorF32, type SafetensorsDtype } from '../model/safetensors';

export interface SourceTensor {
  /** Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight */
  name: string;
  /** Row-major shape as stored ([out, in] for linear weights). */
  shape: number[];
  /** The dtype in the checkpoint. */
  dtype: SafetensorsDtype;
  /** Reads the values as float32 (a fresh array each call). */
  read(): Promise<Float32Array>;
}

export class ExportInputError extends Error {
  override name = 'ExportInputError';
}

/** All tensors of the model's shards, sorted by name. */
export async function listModelTensors(files: ModelFileSet): Promise<SourceTensor[]> {
  const out: SourceTensor[] = [];
  for (const shard of files.shards) {
    const header = await readHeader(shard.bytes, shard.name);
    for (const [name, info] of header.tensors) {
      if (name === '__metadata__') continue;
      out.push({ name, shape: info.shape, dtype: info.dtype, read: () => readTensorF32(shard.bytes, header, name) });
    }
  }
  const names = new Set<string>();
  for (const t of out) {
    if (names.has(t.name)) throw new ExportInputError(`tensor "${t.name}" appears in two shards`);
    names.add(t.name);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
