// Browser test pages: a model folder served over HTTP (e2e/model-server.ts) read into the
// ModelFileSet the loader takes, as the app's download would give it.
import { bufferSource } from '../../src/model/safetensors';

/** A served single-file model folder (config, tokenizer, model.safetensors) as the loader takes it. */
export async function fetchModelFiles(modelUrl: string) {
  const get = async (f: string) => new Uint8Array(await (await fetch(`${modelUrl}/${f}`)).arrayBuffer());
  const text = async (f: string) => new TextDecoder().decode(await get(f));
  return {
    source: modelUrl,
    config: JSON.parse(await text('config.json')),
    tokenizerJson: JSON.parse(await text('tokenizer.json')),
    tokenizerConfig: JSON.parse(await text('tokenizer_config.json')),
    shards: [{ name: 'model.safetensors', bytes: bufferSource(await get('model.safetensors')) }],
    fingerprint: 'test',
  };
}
