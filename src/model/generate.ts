// Autoregressive generation with a KV cache: one forward over the prompt, then one token at a time.
// One row of generate-rows.ts, which holds the loop (several rows decode there side by side).
import { type LlamaModel, type LoraHook } from './llama';
import { generateRows, type SoftPromptHook } from './generate-rows';
import type { SamplingOptions } from './sampling';

export type { SoftPromptHook } from './generate-rows';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Ids that end generation (not included in the output). Empty: always produce maxNewTokens. */
  stopIds?: number[];
  lora?: LoraHook | null;
  /** A soft prompt (prompt or prefix tuning, src/train/soft-prompt.ts) in place before the prompt. */
  soft?: SoftPromptHook | null;
  /** Called with each new token as it is produced; return false to stop early. */
  onToken?: (id: number) => boolean | void;
}

export async function generate(model: LlamaModel, promptIds: number[], opts: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generate: the prompt must hold at least one token (e.g. BOS)');
  const { onToken, lora, ...rest } = opts;
  const [out] = await generateRows(model, promptIds, [lora ?? null], { ...rest, ...(onToken ? { onToken: (_row: number, id: number) => onToken(id) } : {}) });
  return out;
}
