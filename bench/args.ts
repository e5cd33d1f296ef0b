// Command-line pieces the Node-side benchmark scripts share: `--name value` parsing and the real
// models whose config.json (and tokenizer) in ../shared/tokenizers the synthetic weights follow.

export class BenchArgumentError extends Error {
  override name = 'BenchArgumentError';
}

/** `--name value` pairs; anything else is an error naming `script`. */
export function parseArgs(argv: string[], script: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new BenchArgumentError(`${script}: expected --name value, found "${a}"`);
    out[a.slice(2)] = argv[++i]!;
  }
  return out;
}

/** Folders (relative to the repository root) holding the real config.json and tokenizer of the catalog's models. */
export const NAMED_MODEL_DIRS: Record<string, string> = {
  'smollm2-135m': '../shared/tokenizers/smollm2',
  'qwen2.5-0.5b': '../shared/tokenizers/qwen2.5-0.5b-instruct',
};
