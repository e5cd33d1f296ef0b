// The model export formats and their labels: a tiny module the page imports without pulling in
// the exporters themselves (those run in the worker).

export const EXPORT_FORMATS = ['gguf-adapter', 'gguf', 'gguf-merged', 'ollama', 'ollama-merged', 'merged'] as const;
export type ModelExportFormat = (typeof EXPORT_FORMATS)[number];

export const FORMAT_LABELS: Record<ModelExportFormat, string> = {
  'gguf-adapter': 'LoRA adapter as GGUF (llama.cpp --lora)',
  gguf: 'Base model as GGUF',
  'gguf-merged': 'Merged model as GGUF (base + adapter)',
  ollama: 'Ollama folder (base GGUF + adapter GGUF + Modelfile)',
  'ollama-merged': 'Ollama folder (merged GGUF + Modelfile)',
  merged: 'Merged Hugging Face folder (transformers)',
};

/** Everything the Use step offers: the model formats plus the cluster bundle (src/export/bundle/). */
export const PANEL_FORMATS = [...EXPORT_FORMATS, 'bundle'] as const;
export type PanelFormat = (typeof PANEL_FORMATS)[number];

export const PANEL_LABELS: Record<PanelFormat, string> = {
  ...FORMAT_LABELS,
  bundle: 'Bundle to continue on a GPU cluster (zip: exact rows, adapter, axolotl + TRL configs)',
};

/** Formats that carry the trained adapter (all but the plain base GGUF). */
export const NEEDS_ADAPTER: Record<PanelFormat, boolean> = { 'gguf-adapter': true, gguf: false, 'gguf-merged': true, ollama: true, 'ollama-merged': true, merged: true, bundle: true };
