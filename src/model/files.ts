// What the engine needs of a model, independent of where the files came from
// (IndexedDB in the browser, a folder or URL in Node).
import type { ByteSource } from './safetensors';

export interface ModelFileSet {
  /** Identity shown to users and written as base_model_name_or_path: a hub repo id or a base URL. */
  source: string;
  /** Parsed config.json */
  config: unknown;
  /** Parsed tokenizer.json */
  tokenizerJson: unknown;
  /** Parsed tokenizer_config.json ({} when the repo has none) */
  tokenizerConfig: unknown;
  /** The safetensors weight files: one, or the shards named by model.safetensors.index.json. */
  shards: { name: string; bytes: ByteSource }[];
  /** sha256 (hex) of config.json + the weight files' headers, identifying the exact weights for share links. */
  fingerprint: string;
}
