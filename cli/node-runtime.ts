// Node side of the engine: picks a tfjs backend (wasm by default, cpu as fallback) and reads a
// model from a local folder or a base URL into the same ModelFileSet the browser builds from IndexedDB.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { readFile, stat, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import path from 'node:path';
import { type ModelFileSet } from '../src/model/files';
import { modelFingerprint } from '../src/model/fingerprint';
import { registerWasmKernels } from '../src/gpu/wasm-kernels';
import { guardWasmHeap } from '../src/gpu/wasm-heap-guard';
import { bufferSource, type ByteSource } from '../src/model/safetensors';
import { hubAuthHeaders } from '../src/storage/hub-auth';

/**
 * Node 20's V8 (11.3) implements relaxed SIMD behind a flag (V8 11.4, Chromium 114, ship it on):
 * turn it on so the kernels of src/kernels get fused multiply-adds and plain pshufb swizzles
 * (1.4x on NF4 products here). src/kernels/simd-kernels.ts still validates before using it.
 */
function enableRelaxedSimd(): void {
  if (/^v20\./.test(process.version)) setFlagsFromString('--experimental-wasm-relaxed-simd');
}

export async function initNodeBackend(name: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  if (name === 'wasm') {
    enableRelaxedSimd();
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(dist + path.sep);
    if (await tf.setBackend('wasm')) {
      registerWasmKernels();
      guardWasmHeap();
      return 'wasm';
    }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

async function fileSource(file: string): Promise<ByteSource> {
  const size = (await stat(file)).size;
  const fh = await open(file, 'r');
  return {
    size,
    read: async (offset, length) => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${file}: short read at ${offset}`);
      return buf;
    },
  };
}

/** A local folder, or a base URL whose files are at <base>/<file> (hub: .../resolve/main). */
export async function openModelFiles(where: string): Promise<ModelFileSet> {
  const isUrl = /^https?:\/\//.test(where);
  const base = where.replace(/\/+$/, '');
  // Gated hub repos: HF_TOKEN from the environment, sent to huggingface.co hosts only.
  const fetch = (url: string) => globalThis.fetch(url, { headers: hubAuthHeaders(url, process.env.HF_TOKEN) });
  const text = async (name: string, optional = false): Promise<string | null> => {
    if (isUrl) {
      const r = await fetch(`${base}/${name}`);
      if (r.status === 404 && optional) return null;
      if (!r.ok) throw new Error(`${base}/${name}: HTTP ${r.status}`);
      return r.text();
    }
    try {
      return await readFile(path.join(base, name), 'utf8');
    } catch (e) {
      if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  };
  const bytes = async (name: string): Promise<ByteSource> => {
    if (isUrl) {
      const r = await fetch(`${base}/${name}`);
      if (!r.ok) throw new Error(`${base}/${name}: HTTP ${r.status}`);
      return bufferSource(new Uint8Array(await r.arrayBuffer()));
    }
    return fileSource(path.join(base, name));
  };
  const configText = (await text('config.json'))!;
  const tokenizerJson = JSON.parse((await text('tokenizer.json'))!);
  const tokenizerConfig = JSON.parse((await text('tokenizer_config.json', true)) ?? '{}');
  const index = await text('model.safetensors.index.json', true);
  const names = index
    ? [...new Set(Object.values((JSON.parse(index) as { weight_map: Record<string, string> }).weight_map))].sort()
    : ['model.safetensors'];
  const shards = await Promise.all(names.map(async (name) => ({ name, bytes: await bytes(name) })));
  return {
    source: where,
    config: JSON.parse(configText),
    tokenizerJson,
    tokenizerConfig,
    shards,
    fingerprint: await modelFingerprint(configText, shards),
  };
}
