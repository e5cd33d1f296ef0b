// The Node export sink never leaves a file that looks complete: bytes go to <name>.partial, the
// final name appears only on close, and abort (a failed or interrupted export) removes the partial.
import { describe, it, expect } from 'vitest';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NodeFolderSink } from '../cli/file-sink';
import { writeGguf, kv } from '../src/export/gguf/writer';
import { GgmlType } from '../src/export/gguf/constants';

describe('NodeFolderSink', () => {
  it('writes to .partial, renames on close, and removes the partial on abort', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sink-'));
    const sink = new NodeFolderSink(dir);
    const ok = await sink.create('a.bin');
    await ok.write(new Uint8Array([1, 2, 3]));
    expect(await readdir(dir)).toEqual(['a.bin.partial']);
    await ok.close();
    expect(await readdir(dir)).toEqual(['a.bin']);
    expect([...(await readFile(path.join(dir, 'a.bin')))]).toEqual([1, 2, 3]);
    const bad = await sink.create('sub/b.bin');
    await bad.write(new Uint8Array(10));
    await bad.abort();
    expect(await readdir(path.join(dir, 'sub'))).toEqual([]);
  });

  it('a tensor that fails mid-GGUF leaves no file behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sink-'));
    const md = new Map([['general.architecture', kv.str('llama')]]);
    const tensors = [
      { name: 'a', shape: [32], type: GgmlType.F32, read: async () => new Float32Array(32) },
      { name: 'b', shape: [32], type: GgmlType.F32, read: async (): Promise<Float32Array> => { throw new Error('the source went away'); } },
    ];
    await expect(writeGguf(await new NodeFolderSink(dir).create('m.gguf'), md, tensors)).rejects.toThrow('the source went away');
    expect(await readdir(dir)).toEqual([]);
  });
});
