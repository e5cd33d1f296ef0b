// The tiny reference models of each family (../shared/models/FAMILIES.md) as the Node tests use them.
import { readFile } from 'node:fs/promises';

export const FAMILY_MODELS = ['tiny-llama3', 'tiny-qwen2', 'tiny-qwen3', 'tiny-gemma3'] as const;
export type FamilyModel = (typeof FAMILY_MODELS)[number];

export const modelDir = (name: string): string => new URL(`../../shared/models/${name}/`, import.meta.url).pathname;

export interface ReferenceRun {
  prompt: string;
  prompt_ids: number[];
  output_ids: number[];
}

/** reference.json: greedy runs computed by transformers (no cache), base and with peft-adapter/. */
export interface Reference {
  base: ReferenceRun[];
  adapter: ReferenceRun[];
  last_logits_prompt0: number[];
}

export async function readReference(name: string): Promise<Reference> {
  return JSON.parse(await readFile(`${modelDir(name)}reference.json`, 'utf8')) as Reference;
}

