// Any PEFT adapter this app writes, read by its peft_type: LORA (peft.ts) or PROMPT_TUNING /
// PREFIX_TUNING (peft-prompt.ts). The CLI, the engine and hosted links use this one entry point.
import type { ModelConfig } from '../model/config';
import { AdapterFormatError, fromPeftFiles } from './peft';
import { fromPromptPeftFiles, peftTypeOf } from './peft-prompt';
import type { LoraSpec, LoraWeights } from './lora-types';
import type { SoftPromptSpec, SoftPromptWeights } from './soft-prompt-types';

export type AnyAdapter = { type: 'lora'; spec: LoraSpec; weights: LoraWeights } | { type: 'soft-prompt'; spec: SoftPromptSpec; weights: SoftPromptWeights };

export async function fromAnyPeftFiles(adapterConfigJson: string, adapterSafetensors: Uint8Array, cfg: ModelConfig): Promise<AnyAdapter> {
  const t = peftTypeOf(adapterConfigJson);
  if (t === 'LORA') return { type: 'lora', ...(await fromPeftFiles(adapterConfigJson, adapterSafetensors, cfg)) };
  if (t === 'PROMPT_TUNING' || t === 'PREFIX_TUNING') return { type: 'soft-prompt', ...(await fromPromptPeftFiles(adapterConfigJson, adapterSafetensors, cfg)) };
  throw new AdapterFormatError(`adapter_config.json: "peft_type" is ${JSON.stringify(t)}; supported are LORA, PROMPT_TUNING and PREFIX_TUNING`);
}
