// What each GGUF type costs in quality on the pretrained stories260K and on a random model with
// rows of 256 (real k-quant super-blocks): file size, bits per weight of the matrices, relative RMS
// error of the weights as stored, and llama.cpp's greedy continuation (48 tokens, from the file we
// wrote) against the F32 file's: the length of the common prefix, and the text. One JSON line each.
// Usage: npx tsx bench/gguf-quant-quality.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openModelFiles } from '../cli/node-runtime';
import { NodeFolderSink } from '../cli/file-sink';
import { listModelTensors } from '../src/export/model-tensors';
import { writeGgufModel } from '../src/export/gguf/model-file';
import { parseGguf, readGgufTensor } from '../src/export/gguf/reader';
import { GgmlType, type GgufWeightType } from '../src/export/gguf/constants';
import { tensorBytes } from '../src/export/gguf/writer';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { llamaCppGreedy } from '../tests/llama-cpp-client';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const TYPES: GgufWeightType[] = ['f32', 'q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q5_0', 'q4_0'];

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'quant-quality-'));
  const files = await openModelFiles(path.join(ROOT, '../shared/models/stories260K'));
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const tensors = await listModelTensors(files);
  const prompt = tokenizer.encode('Once upon a time');
  let reference: number[] = [];
  let f32: Map<string, Float32Array> | null = null;
  for (const type of TYPES) {
    const name = `stories-${type}.gguf`;
    const t0 = Date.now();
    const bytes = await writeGgufModel(await new NodeFolderSink(dir).create(name), { config: files.config, tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig, tokenizer, tensors, name: 'stories260K' }, type);
    const seconds = (Date.now() - t0) / 1000;
    const buf = new Uint8Array(await readFile(path.join(dir, name)));
    const g = parseGguf(buf);
    const matrices = [...g.tensors.values()].filter((t) => t.shape.length === 2);
    const values = new Map(matrices.map((t) => [t.name, readGgufTensor(buf, t)]));
    f32 ??= values;
    let se = 0, sx = 0, bits = 0, n = 0;
    for (const t of matrices) {
      const x = f32.get(t.name)!, y = values.get(t.name)!;
      for (let i = 0; i < x.length; i++) { se += (y[i]! - x[i]!) ** 2; sx += x[i]! ** 2; }
      bits += 8 * tensorBytes(t);
      n += x.length;
    }
    const ids = await llamaCppGreedy(path.join(dir, name), prompt, 48);
    if (type === 'f32') reference = ids;
    let prefix = 0;
    while (prefix < ids.length && ids[prefix] === reference[prefix]) prefix++;
    const mix: Record<string, number> = {};
    for (const t of matrices) mix[GgmlType[t.type]!] = (mix[GgmlType[t.type]!] ?? 0) + 1;
    process.stdout.write(JSON.stringify({ model: 'stories260K', type, bytes, seconds, matrixBitsPerWeight: +(bits / n).toFixed(3), weightRelRmse: +Math.sqrt(se / sx).toFixed(5), mix, greedyPrefixAsF32: prefix, of: ids.length, text: tokenizer.decode(ids) }) + '\n');
  }
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: Error) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
