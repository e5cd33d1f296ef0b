// A PEFT adapter with seeded synthetic weights for stories260K, written to a temp folder (with the
// base's fingerprint and precision, as the app exports it) and served from its own origin, like a
// hosted adapter: what the hosted-adapter and export journeys open through `#adapter-url=`.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STORIES_DIR } from './fixtures';
import { startModelServer, type ModelServer } from './model-server';
import { toPeftFiles } from '../src/adapters/peft';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import { parseConfig } from '../src/model/config';
import { modelFingerprint } from '../src/model/fingerprint';
import { bufferSource } from '../src/model/safetensors';
import type { LoraSpec } from '../src/adapters/lora-types';

/** Writes the adapter for `spec` (seed 9, scale 0.2) and serves it; the caller closes `host`. */
export async function hostSyntheticAdapter(spec: LoraSpec): Promise<{ dir: string; host: ModelServer }> {
  const configText = await readFile(path.join(STORIES_DIR, 'config.json'), 'utf8');
  const weights = new Uint8Array(await readFile(path.join(STORIES_DIR, 'model.safetensors')));
  const fingerprint = await modelFingerprint(configText, [{ name: 'model.safetensors', bytes: bufferSource(weights) }]);
  const files = toPeftFiles(spec, syntheticLoraWeights(parseConfig(JSON.parse(configText)), spec, 9, 0.2), { base_model_fingerprint: fingerprint, base_precision: 'fp32' });
  const dir = await mkdtemp(path.join(tmpdir(), 'adapter-'));
  await writeFile(path.join(dir, 'adapter_config.json'), files.adapterConfigJson);
  await writeFile(path.join(dir, 'adapter_model.safetensors'), files.adapterSafetensors);
  return { dir, host: await startModelServer({ root: dir }) };
}
