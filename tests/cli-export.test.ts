// `npm run export` end to end: an Ollama folder (base GGUF + LoRA GGUF + Modelfile) and a merged
// HF folder from a PEFT adapter folder; an adapter of another model, a fingerprint mismatch and an
// unsupported tensor type each exit 1 with the reason and leave no file; and a `npm run train` run
// becomes a cluster bundle whose JSONL holds exactly the rows trained and held out and whose
// configs carry the run's values; a GRPO run's reward.py, run in python3, scores as the studio did.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { toPeftFiles } from '../src/adapters/peft';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import { parseConfig } from '../src/model/config';
import { parseGguf } from '../src/export/gguf/reader';
import type { LoraSpec } from '../src/adapters/lora-types';
import type { RunRecord } from '../src/export/bundle/run-record';
import { openModelFiles } from '../cli/node-runtime';
import { loadTokenizer } from '../src/tokenizer/tokenizer';
import { parseDatasetText, splitTrainValidation } from '../src/data/dataset';
import { builtinReward } from '../src/train/objectives/reward';
import { pythonRewards } from './python-reward';

const ROOT = new URL('..', import.meta.url).pathname;
const STORIES = path.join(ROOT, '../shared/models/stories260K');

function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function writeAdapter(dir: string, cfg: ReturnType<typeof parseConfig>, provenance: Record<string, string> = {}): Promise<void> {
  const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: STORIES };
  const f = toPeftFiles(spec, syntheticLoraWeights(cfg, spec, 2, 0.1), provenance);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'adapter_config.json'), f.adapterConfigJson);
  await writeFile(path.join(dir, 'adapter_model.safetensors'), f.adapterSafetensors);
}

describe('npm run export', () => {
  let dir: string;
  let stories: ReturnType<typeof parseConfig>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'export-cli-'));
    stories = parseConfig(JSON.parse(await readFile(path.join(STORIES, 'config.json'), 'utf8')));
    await writeAdapter(path.join(dir, 'adapter'), stories);
    await writeAdapter(path.join(dir, 'other-shape'), { ...stories, hiddenSize: 32, numHeads: 4, numKvHeads: 4 });
    await writeAdapter(path.join(dir, 'other-weights'), stories, { base_model_fingerprint: '0123456789abcdef' });
  });

  it('--format ollama writes the base GGUF, the LoRA GGUF and a Modelfile, and prints the command', async () => {
    const out = path.join(dir, 'ollama');
    const r = await cli('cli/export.ts', ['--model', STORIES, '--adapter', path.join(dir, 'adapter'), '--format', 'ollama', '--type', 'q8_0', '--out', out]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { files: { name: string; bytes: number }[]; command: string };
    expect(result.files.map((f) => f.name)).toEqual(['stories260k-q8_0.gguf', 'stories260k-lora-f32.gguf', 'Modelfile']);
    expect((await readdir(out)).sort()).toEqual(['Modelfile', 'stories260k-lora-f32.gguf', 'stories260k-q8_0.gguf']);
    expect(result.command).toBe('ollama create stories260k -f Modelfile && ollama run stories260k');
    const lora = parseGguf(new Uint8Array(await readFile(path.join(out, 'stories260k-lora-f32.gguf'))));
    expect(lora.metadata.get('general.type')).toBe('adapter');
    expect(lora.metadata.get('adapter.lora.alpha')).toBe(8);
    expect(lora.tensors.get('blk.0.attn_q.weight.lora_a')?.shape).toEqual([4, 64]);
    expect(await readFile(path.join(out, 'Modelfile'), 'utf8')).toContain('FROM ./stories260k-q8_0.gguf\nADAPTER ./stories260k-lora-f32.gguf');
  });

  it('--format ollama-merged writes the merged GGUF and a Modelfile FROM it', async () => {
    const out = path.join(dir, 'ollama-merged');
    const r = await cli('cli/export.ts', ['--model', STORIES, '--adapter', path.join(dir, 'adapter'), '--format', 'ollama-merged', '--out', out]);
    expect(r.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['Modelfile', 'stories260k-merged-f16.gguf']);
    const mf = await readFile(path.join(out, 'Modelfile'), 'utf8');
    expect(mf).toContain('FROM ./stories260k-merged-f16.gguf\n');
    expect(mf).not.toContain('ADAPTER');
  });

  it('--format gguf-merged --type q4_k_m writes llama-quantize\'s Q4_K_M mix, its size as planned', async () => {
    const out = path.join(dir, 'q4km');
    const r = await cli('cli/export.ts', ['--model', STORIES, '--adapter', path.join(dir, 'adapter'), '--format', 'gguf-merged', '--type', 'q4_k_m', '--out', out]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { files: { name: string; bytes: number }[] };
    expect(result.files.map((f) => f.name)).toEqual(['stories260k-merged-q4_k_m.gguf']);
    const bytes = new Uint8Array(await readFile(path.join(out, 'stories260k-merged-q4_k_m.gguf')));
    expect(bytes.byteLength).toBe(result.files[0]!.bytes);
    const g = parseGguf(bytes);
    expect(g.metadata.get('general.file_type')).toBe(15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
    // Rows of 64 (Q4_K -> Q5_0; Q6_K -> Q8_0 on layers 2 and 4 of 5) and 172 (F16).
    const type = (n: string) => g.tensors.get(n)?.type;
    expect([type('blk.0.attn_q.weight'), type('blk.0.attn_v.weight'), type('blk.2.attn_v.weight'), type('blk.4.attn_v.weight'), type('blk.1.ffn_down.weight'), type('token_embd.weight'), type('output_norm.weight')])
      .toEqual([6, 6, 8, 8, 1, 8, 0]); // Q5_0, Q5_0, Q8_0, Q8_0, F16, Q8_0, F32
  });

  it('--format merged writes a Hugging Face folder', async () => {
    const out = path.join(dir, 'merged');
    const r = await cli('cli/export.ts', ['--model', STORIES, '--adapter', path.join(dir, 'adapter'), '--format', 'merged', '--out', out]);
    expect(r.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  });

  it.each([
    ['an adapter of another shape', ['--adapter', 'other-shape', '--format', 'gguf-adapter'], /q_proj\.lora_A\.weight": shape \[4, 32\] but q_proj of this model takes 64 inputs/],
    ['an adapter trained on other weights', ['--adapter', 'other-weights', '--format', 'gguf-merged'], /fingerprint 0123456789abcdef/],
    ['an unsupported tensor type', ['--adapter', 'adapter', '--format', 'gguf', '--type', 'q3_k_s'], /Unsupported GGUF tensor type "q3_k_s": choose one of f32, f16, bf16, q8_0, q4_0, q5_0, q4_k_m, q5_k_m, q6_k/],
    ['an unknown format', ['--format', 'onnx'], /--format must be one of/],
  ])('%s exits 1 with the reason and writes nothing', async (_label, args, message) => {
    const out = path.join(dir, `bad-${_label.replace(/\W+/g, '-')}`);
    const a = [...args];
    const i = a.indexOf('--adapter');
    if (i >= 0) a[i + 1] = path.join(dir, a[i + 1]!);
    const r = await cli('cli/export.ts', ['--model', STORIES, ...a, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('--format bundle: the exact rows of a npm run train run, its adapter, and configs carrying its values', async () => {
    const data = path.join(dir, 'data.jsonl');
    const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ prompt: `Q${i}: what does the dragon like?`, completion: ` It likes hill number ${i}.` }));
    await writeFile(data, '\uFEFF' + rows.join('\r\n') + '\r\n'); // a BOM and CRLF: rows must still come out exact
    const run = path.join(dir, 'run');
    const t = await cli('cli/train.ts', ['--model', STORIES, '--data', data, '--out', run, '--steps', '2', '--batch', '2', '--max-len', '32', '--seed', '9', '--rank', '4', '--alpha', '12', '--lr', '0.002', '--schedule', 'linear', '--warmup', '1', '--grad-accum', '2', '--eval-every', '2', '--val-percent', '30', '--targets', 'attention']);
    expect(t.code).toBe(0);
    const r = await cli('cli/export.ts', ['--format', 'bundle', '--run', run, '--name', 'dragon', '--out', path.join(dir, 'bundle')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const zip = unzipSync(new Uint8Array(await readFile(path.join(dir, 'bundle', 'dragon-cluster-bundle.zip'))));
    const text = (f: string) => strFromU8(zip[f]!);
    const train = text('data/train.jsonl').trim().split('\n');
    const val = text('data/validation.jsonl').trim().split('\n');
    expect(train.length + val.length).toBe(10);
    expect([...train, ...val].map((l) => JSON.parse(l)).sort((a, b) => (a.prompt < b.prompt ? -1 : 1))).toEqual(rows.map((l) => JSON.parse(l)));
    // The split the trainer made (same parser, same seed): train.jsonl is exactly its rows, in order.
    const files = await openModelFiles(STORIES);
    const parsed = await parseDatasetText(await readFile(data, 'utf8'), { fileName: 'data.jsonl', tokenizer: loadTokenizer(files.tokenizerJson, files.tokenizerConfig), maxLength: 33 });
    const split = splitTrainValidation(parsed.examples, 30, 9);
    expect(train.map((l) => JSON.parse(l))).toEqual(split.train.map((e) => JSON.parse(rows[e.line - 1]!)));
    expect(val.map((l) => JSON.parse(l))).toEqual(split.validation.map((e) => JSON.parse(rows[e.line - 1]!)));
    const record = JSON.parse(text('run.json')) as RunRecord;
    expect(record.data.validationRows).toBe(val.length);
    expect(val.length).toBe(3);
    expect(Object.keys(zip).sort()).toEqual(['README.md', 'accelerate/ddp.yaml', 'accelerate/deepspeed-zero2.yaml', 'accelerate/fsdp.yaml', 'adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'axolotl.yaml', 'data/train.jsonl', 'data/validation.jsonl', 'run.json', 'train_trl.py']);
    const yaml = Object.fromEntries(text('axolotl.yaml').split('\n').filter((l) => /^[a-z_0-9]+: /.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    expect(yaml).toMatchObject({
      adapter: 'lora', lora_model_dir: './adapter', lora_r: '4', lora_alpha: '12', lora_dropout: '0', peft_use_rslora: 'false',
      lora_target_modules: '["q_proj", "k_proj", "v_proj", "o_proj"]', learning_rate: '0.002', lr_scheduler: 'linear', warmup_steps: '1',
      micro_batch_size: '2', gradient_accumulation_steps: '2', max_steps: '2', sequence_len: '32', sample_packing: 'false', train_on_inputs: 'false', seed: '9',
    });
    const trl = text('train_trl.py');
    for (const kv of ['"learning_rate": 0.002', '"lr_scheduler_type": "linear"', '"per_device_train_batch_size": 2', '"gradient_accumulation_steps": 2', '"max_steps": 2', '"seed": 9', '"packing": False', '"dataset_format": "prompt-completion"']) expect(trl).toContain(kv);
    expect(text('accelerate/fsdp.yaml')).toContain('distributed_type: FSDP');
    expect(text('accelerate/deepspeed-zero2.yaml')).toContain('zero_stage: 2');
    expect(text('README.md')).toMatch(/Effective batch.*4 sequences per optimizer step \(2 x 2\)/);
    expect(JSON.parse(text('adapter/adapter_config.json')).r).toBe(4);
  });

  it.each([
    ['dpo', 'stories-preference.jsonl', ['--beta', '0.2'], 'DPOTrainer', ['"beta": 0.2', '"loss_type": "sigmoid"', 'ref_model=None']],
    ['kto', 'stories-kto.jsonl', ['--desirable-weight', '1.5'], 'KTOTrainer', ['"beta": 0.1', '"desirable_weight": 1.5', '"undesirable_weight": 1', 'ref_model=None', 'bool(r["label"])']],
    ['orpo', 'stories-preference.jsonl', ['--orpo-lambda', '0.3'], 'ORPOTrainer', ['"beta": 0.3']],
  ] as const)('--format bundle of a %s run on %s: its rows, the adapter, and a TRL script for its trainer that evaluates first', async (objective, file, flags, trainer, settings) => {
    const run = path.join(dir, `run-${objective}`);
    const t = await cli('cli/train.ts', ['--model', STORIES, '--data', path.join(ROOT, 'public/examples', file), '--out', run, '--objective', objective, ...flags, '--steps', '1', '--batch', '2', '--max-len', '48', '--rank', '2', '--eval-every', '1', '--val-percent', '20']);
    expect(t.code).toBe(0);
    const r = await cli('cli/export.ts', ['--format', 'bundle', '--run', run, '--name', objective, '--out', path.join(dir, `bundle-${objective}`)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const zip = unzipSync(new Uint8Array(await readFile(path.join(dir, `bundle-${objective}`, `${objective}-cluster-bundle.zip`))));
    const text = (f: string) => strFromU8(zip[f]!);
    expect(Object.keys(zip)).not.toContain('axolotl.yaml'); // axolotl's preference configs are not written
    const rows = text('data/train.jsonl').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(rows[0]!).sort()).toEqual(objective === 'kto' ? ['completion', 'label', 'prompt'] : ['chosen', 'prompt', 'rejected']);
    const trl = text('train_trl.py');
    expect(trl).toContain(`from trl import ${trainer.replace('Trainer', 'Config')}, ${trainer}`);
    for (const kv of [...settings, `"objective": "${objective}"`, '"max_steps": 1', 'print("before training:", trainer.evaluate())']) expect(trl).toContain(kv);
    expect(text('README.md')).toContain(`TRL ${trainer} script`);
    // The script is Python the interpreter accepts (TRL itself is not installed here).
    const python = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr })).stdin!.end(trl);
    });
    expect(python).toEqual({ code: 0, stderr: '' });
  });

  /** The zip's files as text (every file a test reads is text). */
  async function bundleText(zipFile: string): Promise<{ names: string[]; text: (f: string) => string }> {
    const zip = unzipSync(new Uint8Array(await readFile(zipFile)));
    return { names: Object.keys(zip).sort(), text: (f: string) => strFromU8(zip[f]!) };
  }

  const pythonParses = (source: string) => new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr })).stdin!.end(source);
  });

  it('--format bundle of a GRPO run: its prompt rows, a TRL GRPOTrainer script with its settings, and reward.py scoring as the studio\'s built-in', async () => {
    const data = path.join(dir, 'grpo-prompts.jsonl');
    const rows = ['Once upon a time', 'The cat', 'Tom and his mom', 'Lily saw a bird'].map((q, n) => JSON.stringify({ question: q, answer: 'yes', n }));
    await writeFile(data, rows.join('\n') + '\n');
    const spec = 'builtin:regex=\\b(?<w>[a-z]+) \\k<w>\\b|^\\s*[A-Z].{0,3}$|\\d';
    const run = path.join(dir, 'run-grpo');
    const t = await cli('cli/train.ts', [
      '--model', STORIES, '--data', data, '--columns', 'prompt=question', '--out', run, '--objective', 'grpo', '--reward', spec, '--num-generations', '2', '--max-new-tokens', '8',
      '--temperature', '0.9', '--epsilon', '0.3', '--kl-beta', '0.02', '--steps', '2', '--batch', '2', '--max-len', '24', '--rank', '2', '--val-percent', '25', '--lr', '0.004',
    ]);
    expect(t.stderr).not.toMatch(/Error/);
    expect(t.code).toBe(0);
    const r = await cli('cli/export.ts', ['--format', 'bundle', '--run', run, '--name', 'grpo', '--out', path.join(dir, 'bundle-grpo')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { names, text } = await bundleText(path.join(dir, 'bundle-grpo', 'grpo-cluster-bundle.zip'));
    expect(names).toEqual(['README.md', 'accelerate/ddp.yaml', 'accelerate/deepspeed-zero2.yaml', 'accelerate/fsdp.yaml', 'adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'data/train.jsonl', 'data/validation.jsonl', 'reward.py', 'run.json', 'train_trl.py']);
    // The rows exactly as the file has them (the prompt column and the fields the reward may read).
    const bundled = [...text('data/train.jsonl').trim().split('\n'), ...text('data/validation.jsonl').trim().split('\n')];
    expect(bundled.sort()).toEqual([...rows].sort());
    expect(text('data/validation.jsonl').trim().split('\n')).toHaveLength(1);
    const record = JSON.parse(text('run.json')) as RunRecord;
    expect(record.reward).toEqual({ kind: 'builtin', spec });
    expect(record.data.promptColumn).toBe('question');
    const trl = text('train_trl.py');
    expect(trl).toContain('from trl import GRPOConfig, GRPOTrainer');
    expect(trl).toContain('trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=data, processing_class=tokenizer)');
    for (const kv of ['"num_generations": 2', '"max_completion_length": 8', '"temperature": 0.9', '"epsilon": 0.3', '"beta": 0.02', '"loss_type": "grpo"', '"per_device_train_batch_size": 4', '"prompts_per_device_batch": 2', '"max_steps": 2', '"learning_rate": 0.004', '"prompt_column": "question"', 'from reward import reward', 'PeftModel.from_pretrained(model, "adapter", is_trainable=True)']) expect(trl).toContain(kv);
    expect(trl).not.toContain('trainer.evaluate()'); // GRPO has no held-out loss to compare with
    const readme = text('README.md');
    expect(readme).toContain('TRL GRPOTrainer script');
    expect(readme).toMatch(/GRPO has no held-out loss \(the studio reported eval_loss NaN\)/);
    expect(readme).toMatch(/2 prompts x 2 completions x 1 micro-batches per optimizer step.*per_device_train_batch_size counts completions \(4 here\)/);
    expect(await pythonParses(trl)).toEqual({ code: 0, stderr: '' });
    expect(await pythonParses(text('reward.py'))).toEqual({ code: 0, stderr: '' });
    // The bundled reward.py, run in python3 as TRL calls it, scores completions as the studio's built-in does.
    const completions = ['Tom Tom went home', 'Lily\n', '\u00a0Lily', 'Once', 'Once upon', 'he had 7 cats', 'the the', 'The the', 'Tom\u2028', '😀 Tom', ''];
    const studio = await builtinReward(spec).score(completions.map((completion) => ({ prompt: 'Q', completion, row: {} })), completions.map(() => 1));
    expect(new Set(studio)).toEqual(new Set([0, 1]));
    const [python] = await pythonRewards([{ source: text('reward.py'), completions, columns: { answer: completions.map(() => 'yes'), n: completions.map(() => 0) } }]);
    expect(python).toEqual({ rewards: studio });
  });

  it('--format bundle of a GRPO run scored by a .mjs module: the module travels as reward.mjs and reward.py is a stub that raises', async () => {
    const data = path.join(dir, 'grpo-module-prompts.jsonl');
    await writeFile(data, ['Once upon a time', 'The cat', 'Tom and his mom'].map((p, i) => JSON.stringify({ prompt: p, bonus: i })).join('\n') + '\n');
    const module = path.join(dir, 'length-bonus.mjs');
    const source = 'export default ({ completion, row }) => completion.length / 10 + row.bonus;\n';
    await writeFile(module, source);
    const run = path.join(dir, 'run-grpo-module');
    const t = await cli('cli/train.ts', ['--model', STORIES, '--data', data, '--out', run, '--objective', 'grpo', '--reward', module, '--num-generations', '2', '--max-new-tokens', '4', '--steps', '1', '--batch', '2', '--max-len', '16', '--rank', '2']);
    expect(t.code).toBe(0);
    const r = await cli('cli/export.ts', ['--format', 'bundle', '--run', run, '--name', 'grpo-module', '--out', path.join(dir, 'bundle-grpo-module')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { names, text } = await bundleText(path.join(dir, 'bundle-grpo-module', 'grpo-module-cluster-bundle.zip'));
    expect(names).toContain('reward.mjs');
    expect(names).not.toContain('axolotl.yaml');
    expect(text('reward.mjs')).toBe(source);
    expect((JSON.parse(text('run.json')) as RunRecord).reward).toEqual({ kind: 'module', fileName: 'length-bonus.mjs', source });
    expect(text('README.md')).toContain('First port reward.mjs into reward.py: until then the script stops before loading the model.');
    expect(text('train_trl.py')).toContain('"reward": "length-bonus.mjs"');
    expect(await pythonParses(text('train_trl.py'))).toEqual({ code: 0, stderr: '' });
    const [stub] = await pythonRewards([{ source: text('reward.py'), completions: ['abc'], columns: { bonus: [1] } }]);
    expect(stub!.error).toMatch(/^NotImplementedError: reward\.py: the run's reward is JavaScript \(reward\.mjs\); port its default export/);

    // A run.json written before the reward was recorded cannot be bundled: the reason, exit 1, no file.
    const recordFile = path.join(run, 'run.json');
    const { reward: _dropped, ...older } = JSON.parse(await readFile(recordFile, 'utf8')) as RunRecord;
    await writeFile(recordFile, JSON.stringify(older));
    const old = await cli('cli/export.ts', ['--format', 'bundle', '--run', run, '--name', 'old', '--out', path.join(dir, 'bundle-grpo-old')]);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('run.json records no GRPO reward');
    expect(await readdir(path.join(dir, 'bundle-grpo-old')).catch(() => [])).toEqual([]);
  });
});
