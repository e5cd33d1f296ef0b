// An Ollama Modelfile for exported GGUF files: FROM the base GGUF plus ADAPTER the LoRA GGUF, or
// FROM the merged GGUF; a TEMPLATE translated from the model's Jinja chat template (ChatML,
// Llama 3 and Gemma are recognised; anything else, or no template, becomes a plain completion
// template and the Modelfile says so); PARAMETER stop for each end-of-turn and EOS token; the
// default system prompt when the chat template has one; and the command that runs it.
import { Template } from '@huggingface/jinja';
import { type TextTokenizer } from '../tokenizer/tokenizer';

export type ChatStyle = 'chatml' | 'llama3' | 'gemma' | 'none' | 'unrecognised';

export interface OllamaTemplate {
  style: ChatStyle;
  template: string;
  stops: string[];
  /** The system prompt the Jinja template inserts when the conversation has none. */
  defaultSystem: string | null;
  /** One line for people: what was translated, or why the fallback. */
  note: string;
}

const TEMPLATES: Record<'chatml' | 'llama3' | 'gemma', { marker: string; template: string; stop: string; label: string }> = {
  chatml: {
    marker: '<|im_start|>',
    label: 'ChatML',
    stop: '<|im_end|>',
    template: '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n',
  },
  llama3: {
    marker: '<|start_header_id|>',
    label: 'Llama 3',
    stop: '<|eot_id|>',
    template: '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n',
  },
  gemma: {
    marker: '<start_of_turn>',
    label: 'Gemma',
    stop: '<end_of_turn>',
    // Gemma has no system role: its own template folds a system message into the first user turn.
    template: '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}user{{ end }}\n{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n',
  },
};

const PLAIN = '{{ .Prompt }}';

/** The system text the chat template renders for a conversation with no system message (ChatML). */
function defaultSystemPrompt(jinja: string, tokenizer: TextTokenizer): string | null {
  try {
    const out = new Template(jinja).render({
      messages: [{ role: 'user', content: 'X' }],
      add_generation_prompt: true,
      bos_token: tokenizer.bosToken ?? '',
      eos_token: tokenizer.eosToken ?? '',
    });
    const m = /<\|im_start\|>system\n([\s\S]*?)<\|im_end\|>/.exec(out);
    return m ? m[1]! : null;
  } catch {
    return null;
  }
}

export function ollamaTemplate(tokenizer: TextTokenizer): OllamaTemplate {
  const jinja = tokenizer.chatTemplate;
  const eos = tokenizer.eosToken ? [tokenizer.eosToken] : [];
  if (!jinja) return { style: 'none', template: PLAIN, stops: eos, defaultSystem: null, note: 'The model has no chat template: Ollama sends prompts as plain text (completion).' };
  for (const style of ['chatml', 'llama3', 'gemma'] as const) {
    const t = TEMPLATES[style];
    if (!jinja.includes(t.marker)) continue;
    return {
      style,
      template: t.template,
      stops: [...new Set([t.stop, ...eos])],
      defaultSystem: style === 'chatml' ? defaultSystemPrompt(jinja, tokenizer) : null,
      note: `TEMPLATE translated from the model's ${t.label} chat template.`,
    };
  }
  return { style: 'unrecognised', template: PLAIN, stops: eos, defaultSystem: null, note: 'The chat template is not ChatML, Llama 3 or Gemma, so it was not translated: Ollama sends prompts as plain text. Write a TEMPLATE by hand for chat use.' };
}

function quoted(s: string): string {
  return `"""${s.replaceAll('"""', '\\"\\"\\"')}"""`;
}

export interface ModelfileInput {
  /** File names beside the Modelfile. */
  from: string;
  adapter?: string;
  tokenizer: TextTokenizer;
}

export function modelfile(input: ModelfileInput): { text: string; template: OllamaTemplate } {
  const t = ollamaTemplate(input.tokenizer);
  const lines = [
    '# Ollama Modelfile written by Fine-tune Studio.',
    `# ${t.note}`,
    `FROM ./${input.from}`,
    ...(input.adapter ? [`ADAPTER ./${input.adapter}`] : []),
    `TEMPLATE ${quoted(t.template)}`,
    ...(t.defaultSystem !== null ? [`SYSTEM ${quoted(t.defaultSystem)}`] : []),
    ...t.stops.map((s) => `PARAMETER stop ${JSON.stringify(s)}`),
    '',
  ];
  return { text: lines.join('\n'), template: t };
}

/** The command a person runs in the folder holding the Modelfile. */
export function ollamaCommand(name: string): string {
  const safe = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'my-model';
  return `ollama create ${safe} -f Modelfile && ollama run ${safe}`;
}
