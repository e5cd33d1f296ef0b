// A short, stable identity for a model's exact weights, carried by share links so an adapter is only
// applied to the base it was trained on. Hashes config.json and every shard's safetensors header
// (names, dtypes, shapes, offsets): cheap to compute from IndexedDB or disk, and any re-export or
// different checkpoint changes it.
import { type ByteSource } from './safetensors';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function modelFingerprint(configText: string, shards: { name: string; bytes: ByteSource }[]): Promise<string> {
  const parts: Uint8Array[] = [new TextEncoder().encode(configText)];
  for (const s of shards) {
    const len = await s.bytes.read(0, 8);
    const n = Number(new DataView(len.buffer, len.byteOffset, 8).getBigUint64(0, true));
    parts.push(await s.bytes.read(8, Math.min(n, s.bytes.size - 8)));
  }
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.byteLength; }
  return (await sha256Hex(all)).slice(0, 16);
}
