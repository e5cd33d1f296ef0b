// npm run export: the same exporter as the Use & share step (src/export/*), writing into a folder.
// Flags, output and exit status: SPEC below (`npm run export -- --help`).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCli, type CliOption, type CliSpec } from './usage';
import { openModelFiles } from './node-runtime';
import { NodeFolderSink } from './file-sink';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { fromPeftFiles, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../src/adapters/peft';
import { bufferSource, readHeader } from '../src/model/safetensors';
import { parseConfig } from '../src/model/config';
import { runExport, type ExportResult } from '../src/export/export-run';
import { EXPORT_FORMATS, type ModelExportFormat } from '../src/export/formats';
import { ExportInputError } from '../src/export/model-tensors';
import { ExportWriteError } from '../src/export/sink';
import { parseWeightType, GgufExportError } from '../src/export/gguf/constants';
import { writeRunBundle } from './export-bundle';

class UsageError extends Error {
  override name = 'UsageError';
}

/** Reads a PEFT adapter folder, checked against the base: shapes and family (PEFT reader), and the fingerprint of the weights it was trained on. */
export async function readAdapterFolder(folder: string, base: { fingerprint: string; config: unknown }, ignoreFingerprint: boolean) {
  const cfg = await readFile(path.join(folder, ADAPTER_CONFIG_FILE), 'utf8');
  const st = new Uint8Array(await readFile(path.join(folder, ADAPTER_WEIGHTS_FILE)));
  const adapter = await fromPeftFiles(cfg, st, parseConfig(base.config));
  const baseFingerprint = base.fingerprint;
  const trainedOn = (await readHeader(bufferSource(st))).metadata.base_model_fingerprint;
  if (trainedOn && trainedOn !== baseFingerprint && !ignoreFingerprint) {
    throw new ExportInputError(`The adapter in ${folder} was trained on a model with fingerprint ${trainedOn}, but --model has ${baseFingerprint}: export it with the model it was trained on (or pass --ignore-fingerprint if the weights are the same in another layout)`);
  }
  return adapter;
}

const SPEC = {
  command: 'npm run export --',
  summary: 'Writes the formats of the Use & share step into a folder: GGUF (base, merged, LoRA adapter), an Ollama folder, a merged Hugging Face model, or a cluster bundle of a run.',
  options: {
    model: { type: 'string', value: '<folder|base URL>', help: 'The base model (required except for bundle).' },
    adapter: { type: 'string', value: '<folder>', help: 'PEFT LoRA adapter folder (merged into the weights, or exported as a GGUF adapter).' },
    format: { type: 'string', value: [...EXPORT_FORMATS, 'bundle'].join('|'), help: 'What to write (required).' },
    type: { type: 'string', value: 'f32|f16|bf16|q8_0|q6_k|q5_k_m|q4_k_m|q5_0|q4_0', help: 'Weight type of the model tensors; the _m types follow llama.cpp\'s per-tensor mix (each format has its own default).' },
    'adapter-type': { type: 'string', default: 'f32', value: 'f32|f16', help: 'Tensor type of a GGUF adapter.' },
    name: { type: 'string', value: '<model name>', help: 'Name written into the files (default: the model folder\'s name).' },
    out: { type: 'string', value: '<folder>', help: 'Folder to write into (required).' },
    run: { type: 'string', value: '<folder>', help: 'bundle: a folder written by npm run train (its run.json, rows and adapter).' },
    'ignore-fingerprint': { type: 'boolean', default: false, help: 'Export an adapter whose recorded base fingerprint differs from --model.' },
  },
  examples: [
    'npm run export -- --model ../shared/models/stories260K --adapter out/adapter --format gguf-merged --type q4_k_m --out exported',
    'npm run export -- --format bundle --run out --out bundle',
  ],
  notes: [
    'Each file is written as <name>.partial and renamed when complete. Prints one JSON line {"files":[{name,bytes}],"command"?}.',
    'Exit status: 0 done, 1 bad input (usage, adapter of another model, unsupported type), 2 write failure (disk full).',
  ],
  usageStatus: 1,
} satisfies CliSpec<Record<string, CliOption>>;

async function main(): Promise<number> {
  const { values: v } = parseCli(SPEC);
  const format = v.format ?? '';
  if (!v.out) throw new UsageError('--out <folder> is required');
  const sink = new NodeFolderSink(v.out);
  if (format === 'bundle') {
    if (!v.run) throw new UsageError('--format bundle needs --run <folder written by npm run train>');
    const files = await writeRunBundle(sink, v.run, v.name);
    process.stdout.write(JSON.stringify({ files }) + '\n');
    return 0;
  }
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${[...EXPORT_FORMATS, 'bundle'].join(', ')}, got "${format}"`);
  if (!v.model) throw new UsageError('--model <folder or base URL> is required');
  const type = v.type ? parseWeightType(v.type) : undefined;
  const adapterType = v['adapter-type'] ?? 'f32';
  if (adapterType !== 'f32' && adapterType !== 'f16') throw new GgufExportError(`--adapter-type must be f32 or f16, got "${adapterType}"`);
  const files = await openModelFiles(v.model);
  const tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const adapter = v.adapter ? await readAdapterFolder(v.adapter, files, v['ignore-fingerprint']!) : null;
  const name = v.name ?? path.basename(v.model.replace(/\/+$/, ''));
  let last = 0;
  const result: ExportResult = await runExport(sink, { files, tokenizer, adapter, name }, {
    format: format as ModelExportFormat,
    type,
    adapterType,
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 500 && p.bytesWritten < p.bytesTotal) return;
      last = now;
      process.stderr.write(`${p.file}: ${Math.round((100 * p.bytesWritten) / p.bytesTotal)}% of ${p.bytesTotal} bytes\n`);
    },
  });
  process.stdout.write(JSON.stringify(result) + '\n');
  if (result.command) process.stderr.write(`run it: cd ${v.out} && ${result.command}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`${e.name}: ${e.message}\n`);
    process.exit(e instanceof ExportWriteError ? 2 : 1);
  },
);
