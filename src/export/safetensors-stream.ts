// Streams a safetensors file tensor by tensor: the header is computed from names, shapes and the
// target dtype alone, then each tensor is read, converted and written before the next is read.
// Same layout as src/model/safetensors.ts's writeSafetensors (sorted names, header padded to 8).
import { ChunkedWriter, type FileWriter } from './sink';
import { encodeFloats, STORAGE_BYTES, type FloatStorage } from './dtype';
import { elementCount, type SourceTensor } from './model-tensors';

export interface StreamProgress {
  /** Bytes of the file written so far, and its final size. */
  bytesWritten: number;
  bytesTotal: number;
}

export function safetensorsHeader(tensors: Pick<SourceTensor, 'name' | 'shape'>[], dtype: FloatStorage, metadata: Record<string, string>): { header: Uint8Array; dataBytes: number } {
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = elementCount(t.shape) * STORAGE_BYTES[dtype];
    json[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, dataBytes: offset };
}

/** Writes `tensors` (sorted here by name) in `dtype`; returns the file size. Aborts the writer on failure. */
export async function writeSafetensorsStream(
  writer: FileWriter,
  tensors: SourceTensor[],
  dtype: FloatStorage,
  metadata: Record<string, string>,
  onProgress?: (p: StreamProgress) => void,
): Promise<number> {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { header, dataBytes } = safetensorsHeader(sorted, dtype, metadata);
  const total = header.byteLength + dataBytes;
  const out = new ChunkedWriter(writer);
  try {
    await out.write(header);
    for (const t of sorted) {
      const data = await t.read();
      if (data.length !== elementCount(t.shape)) throw new Error(`tensor "${t.name}": ${data.length} values for shape [${t.shape}]`);
      await out.write(encodeFloats(data, dtype));
      onProgress?.({ bytesWritten: out.written, bytesTotal: total });
    }
    await out.close();
  } catch (e) {
    await out.abort().catch(() => undefined);
    throw e;
  }
  return total;
}
