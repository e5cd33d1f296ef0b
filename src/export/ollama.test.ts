// The Modelfile per chat-template family: ChatML (SmolLM2's template, with its default system
// line), Qwen2.5's real template, a Llama 3 and a Gemma template, no template (plain completion)
// and an unknown one (plain, said so); stop tokens; FROM/ADAPTER lines and the run command.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { modelfile, ollamaCommand, ollamaTemplate } from './ollama';
import { loadTokenizer, type TextTokenizer } from '../tokenizer/tokenizer';

const shared = new URL('../../../shared/', import.meta.url).pathname;
function tok(dir: string, template?: string | null): TextTokenizer {
  const tj = JSON.parse(readFileSync(`${shared}${dir}/tokenizer.json`, 'utf8'));
  const tc = JSON.parse(readFileSync(`${shared}${dir}/tokenizer_config.json`, 'utf8'));
  if (template === null) delete tc.chat_template;
  else if (template !== undefined) tc.chat_template = template;
  return loadTokenizer(tj, tc);
}

describe('Ollama TEMPLATE translation', () => {
  it('ChatML (SmolLM2) keeps the default system prompt and stops at <|im_end|>', () => {
    const t = ollamaTemplate(tok('tokenizers/smollm2'));
    expect(t.style).toBe('chatml');
    expect(t.template).toContain('<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>');
    expect(t.defaultSystem).toBe('You are a helpful AI assistant named SmolLM, trained by Hugging Face');
    expect(t.stops).toContain('<|im_end|>');
  });

  it("Qwen2.5's real template is ChatML with Qwen's default system prompt", () => {
    const t = ollamaTemplate(tok('tokenizers/qwen2.5-0.5b-instruct'));
    expect(t.style).toBe('chatml');
    expect(t.defaultSystem).toBe('You are Qwen, created by Alibaba Cloud. You are a helpful assistant.');
  });

  it.each([
    ['llama3', "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}", '<|eot_id|>'],
    ['gemma', "{{ '<start_of_turn>' + role + '\\n' + message['content'] + '<end_of_turn>\\n' }}", '<end_of_turn>'],
  ])('%s', (style, jinja, stop) => {
    const t = ollamaTemplate(tok('models/stories260K', jinja));
    expect(t.style).toBe(style);
    expect(t.stops).toEqual([stop, '</s>']);
  });

  it('no template: plain completion, stopping at EOS, and the Modelfile says why', () => {
    const { text, template } = modelfile({ from: 'model.gguf', adapter: 'adapter.gguf', tokenizer: tok('models/stories260K', null) });
    expect(template.style).toBe('none');
    expect(text).toContain('# The model has no chat template');
    expect(text).toContain('FROM ./model.gguf\nADAPTER ./adapter.gguf\nTEMPLATE """{{ .Prompt }}"""\nPARAMETER stop "</s>"');
  });

  it('an unrecognised template falls back to plain text and says so', () => {
    const t = ollamaTemplate(tok('models/stories260K', '{{ messages[0].content }}'));
    expect(t.style).toBe('unrecognised');
    expect(t.note).toMatch(/not translated/);
  });

  it('the run command uses a name Ollama accepts', () => {
    expect(ollamaCommand('My Tuned/Model!')).toBe('ollama create my-tuned-model -f Modelfile && ollama run my-tuned-model');
  });
});
