// The size the Export step shows before writing is the size written, for every quantized GGUF type:
// planExport computes it from shapes and the per-tensor type mix alone, runExport streams the file.
import { describe, it, expect, beforeAll } from 'vitest';
import { openModelFiles } from '../cli/node-runtime';
import { planExport, runExport } from '../src/export/export-run';
import { MemorySink } from '../src/export/sink';
import { loadTokenizer, type TextTokenizer } from '../src/tokenizer/tokenizer';
import { STORIES } from './stories-fixture';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import { parseConfig } from '../src/model/config';
import type { ModelFileSet } from '../src/model/files';
import type { GgufWeightType } from '../src/export/gguf/constants';
import type { LoraSpec } from '../src/adapters/lora-types';

describe('planned GGUF sizes are exact for quantized types', () => {
  let files: ModelFileSet;
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    files = await openModelFiles(STORIES);
    tokenizer = loadTokenizer(files.tokenizerJson, files.tokenizerConfig);
  });

  it.each<[GgufWeightType, 'gguf' | 'gguf-merged']>([['q4_k_m', 'gguf'], ['q5_k_m', 'gguf-merged'], ['q6_k', 'gguf'], ['q4_0', 'gguf-merged'], ['q5_0', 'gguf']])('%s %s', async (type, format) => {
    const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' };
    const adapter = format === 'gguf' ? null : { spec, weights: syntheticLoraWeights(parseConfig(files.config), spec, 3, 0.05) };
    const input = { files, tokenizer, adapter, name: 'stories260K' };
    const plan = await planExport(input, { format, type });
    const sink = new MemorySink();
    const result = await runExport(sink, input, { format, type });
    expect(plan.map((f) => f.name)).toEqual(result.files.map((f) => f.name));
    expect(plan[0]!.name).toBe(`stories260k${format === 'gguf' ? '' : '-merged'}-${type}.gguf`);
    expect(plan[0]!.bytes).toBe(sink.files.get(plan[0]!.name)!.byteLength);
  });
});
