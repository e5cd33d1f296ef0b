// The model export formats and their labels: a tiny module the page imports without pulling in
// the exporters themselves (those run in the worker).

export const EXPORT_FORMATS = ['gguf-adapter', 'gguf', 'gguf-merged', 'ollama', 'merged'] as const;
export type ModelExportFormat = (typeof EXPORT_FORMATS)[number];

export const FORMAT_LABELS: Record<ModelExportFormat, string> = {
  'gguf-adapter': 'LoRA adapter as GGUF (llama.cpp --lora)',
  gguf: 'Base model as GGUF',
  'gguf-merged': 'Merged model as GGUF (base + adapter)',
  ollama: 'Ollama folder (base GGUF + adapter GGUF + Modelfile)',
  merged: 'Merged Hugging Face folder (transformers)',
};
