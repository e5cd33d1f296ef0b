// Export at the size users train: writes a random-weight model of SmolLM2-135M's exact shape and
// dtype (bf16, vocab 49,152, tied) with SmolLM2's tokenizer, plus a PEFT adapter (r 8, q+v), then
// runs `npm run export` once per format in a child process and prints one JSON line each:
// {"format","type","seconds","peakRssMB","bytes"} (wall time and peak resident memory from
// /usr/bin/time), so memory can be compared with the model's size (streaming: one tensor at a time).
// Finally llama.cpp (node-llama-cpp) loads each GGUF model (bases with the LoRA GGUF) and generates 8 tokens.
// Usage: npx tsx bench/export-bench.ts [--keep <dir>] [--types q4_k_m,q6_k,...]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NodeFolderSink } from '../cli/file-sink';
import { writeHfModel } from '../src/export/hf-model';
import { toPeftFiles } from '../src/adapters/peft';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import { parseConfig } from '../src/model/config';
import { uniformValues } from '../src/util/random';
import type { SourceTensor } from '../src/export/model-tensors';
import type { LoraSpec } from '../src/adapters/lora-types';
import { llamaCppGreedy } from '../tests/llama-cpp-client';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const TOK = path.join(ROOT, '../shared/tokenizers/smollm2');

async function writeModel(dir: string): Promise<Record<string, unknown>> {
  const config = JSON.parse(readFileSync(path.join(TOK, 'config.json'), 'utf8')) as Record<string, unknown>;
  const cfg = parseConfig(config);
  const C = cfg.hiddenSize, F = cfg.intermediateSize, Q = cfg.numHeads * cfg.headDim, KV = cfg.numKvHeads * cfg.headDim;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [cfg.vocabSize, C]], ['model.norm.weight', [C]]];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.push([`${p}.input_layernorm.weight`, [C]], [`${p}.post_attention_layernorm.weight`, [C]], [`${p}.self_attn.q_proj.weight`, [Q, C]], [`${p}.self_attn.k_proj.weight`, [KV, C]],
      [`${p}.self_attn.v_proj.weight`, [KV, C]], [`${p}.self_attn.o_proj.weight`, [C, Q]], [`${p}.mlp.gate_proj.weight`, [F, C]], [`${p}.mlp.up_proj.weight`, [F, C]], [`${p}.mlp.down_proj.weight`, [C, F]]);
  }
  // Each tensor is generated when the writer reads it: the writer never sees two at once.
  const tensors: SourceTensor[] = shapes.map(([name, shape], i) => ({
    name, shape, dtype: 'BF16',
    read: async () => (shape.length === 1 ? new Float32Array(shape[0]!).fill(1) : uniformValues(shape[0]! * shape[1]!, i + 1).map((v) => v * 0.05)),
  }));
  await writeHfModel(new NodeFolderSink(dir), {
    config, tensors,
    tokenizerJson: JSON.parse(readFileSync(path.join(TOK, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(path.join(TOK, 'tokenizer_config.json'), 'utf8')),
  });
  return config;
}

/** One `npm run export` in a child process under /usr/bin/time: wall seconds and peak RSS. */
function timedExport(args: string[]): { seconds: number | null; peakRssMB: number | null; files: { name: string; bytes: number }[]; error: string | null } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, '--import', 'tsx', path.join(ROOT, 'cli/export.ts'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr);
  const last = r.stdout.trim().split('\n').pop();
  return {
    seconds: m ? Number(m[1]) : null,
    peakRssMB: m ? Math.round(Number(m[2]) / 1024) : null,
    files: r.status === 0 && last ? (JSON.parse(last) as { files: { name: string; bytes: number }[] }).files : [],
    error: r.status === 0 ? null : r.stderr.split('\n').find((l) => l.includes('Error')) ?? r.stderr.slice(-300),
  };
}

async function main(): Promise<void> {
  const keep = process.argv.indexOf('--keep');
  const dir = keep > 0 ? process.argv[keep + 1]! : mkdtempSync(path.join(tmpdir(), 'export-bench-'));
  const model = path.join(dir, 'model');
  const adapter = path.join(dir, 'adapter');
  const t0 = Date.now();
  const config = await writeModel(model);
  process.stderr.write(`random SmolLM2-135M-shaped model (bf16): ${statSync(path.join(model, 'model.safetensors')).size} bytes in ${(Date.now() - t0) / 1000}s\n`);
  const spec: LoraSpec = { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'HuggingFaceTB/SmolLM2-135M' };
  const f = toPeftFiles(spec, syntheticLoraWeights(parseConfig(config), spec, 1, 0.01));
  await mkdir(adapter, { recursive: true });
  await writeFile(path.join(adapter, 'adapter_config.json'), f.adapterConfigJson);
  await writeFile(path.join(adapter, 'adapter_model.safetensors'), f.adapterSafetensors);
  const only = process.argv.indexOf('--types');
  const all: [string, string | null][] = [['gguf', 'q8_0'], ['gguf', 'f16'], ['gguf', 'f32'], ['gguf-adapter', null], ['gguf-merged', 'q8_0'], ['merged', null],
    ['gguf', 'q4_k_m'], ['gguf-merged', 'q4_k_m'], ['gguf', 'q5_k_m'], ['gguf', 'q6_k'], ['gguf', 'q4_0'], ['gguf', 'q5_0']];
  // --types q4_k_m,q8_0: only the GGUF runs of those types (and the adapter, which the client check needs).
  const picked = only > 0 ? new Set(process.argv[only + 1]!.split(',')) : null;
  const runs = picked ? all.filter(([f, t]) => f === 'gguf-adapter' || (t !== null && picked.has(t))) : all;
  for (const [format, type] of runs) {
    const out = path.join(dir, `${format}-${type ?? 'default'}`);
    const r = timedExport(['--model', model, '--adapter', adapter, '--format', format, ...(type ? ['--type', type] : []), '--name', 'smollm2-135m-random', '--out', out]);
    process.stdout.write(JSON.stringify({ format, type, seconds: r.seconds, peakRssMB: r.peakRssMB, bytes: r.files.reduce((a, b) => a + b.bytes, 0), files: r.files.map((x) => x.name), error: r.error }) + '\n');
  }
  // The real client at real size: llama.cpp loads each GGUF base with the LoRA GGUF, and each merged
  // one alone, and generates.
  for (const [format, type] of runs) {
    if (format !== 'gguf' && format !== 'gguf-merged') continue;
    const file = path.join(dir, `${format}-${type}`, `smollm2-135m-random${format === 'gguf' ? '' : '-merged'}-${type}.gguf`);
    const lora = format === 'gguf' ? [path.join(dir, 'gguf-adapter-default', 'smollm2-135m-random-lora-f32.gguf')] : [];
    const t1 = Date.now();
    const ids = await llamaCppGreedy(file, [1, 504, 2365], 8, lora);
    process.stdout.write(JSON.stringify({ client: 'llama.cpp (node-llama-cpp)', model: `${format} ${type}${lora.length ? ' + lora f32' : ''}`, generated: ids.length, seconds: (Date.now() - t1) / 1000 }) + '\n');
  }
  if (keep < 0) rmSync(dir, { recursive: true, force: true });
}

main().catch((e: Error) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
