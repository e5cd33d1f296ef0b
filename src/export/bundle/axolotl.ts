// An axolotl config that continues the run: the same base, adapter (lora, or qlora when the
// studio trained over an NF4 base), targets, rank, alpha, dropout, rsLoRA, optimizer, schedule,
// warmup, batch, accumulation, sequence length, packing, prompt loss, seed, and lora_model_dir
// pointing at the bundled adapter so training resumes from it. Values are written as YAML scalars.
import type { RunRecord } from './run-record';

function y(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v); // a JSON string is a valid YAML double-quoted scalar
  return String(v);
}

/** axolotl dataset `type` for each studio format; alpaca matches the studio's rendering exactly. */
function datasetType(r: RunRecord): string[] {
  switch (r.data.format) {
    case 'text':
      return ['    type: completion', '    field: text'];
    case 'prompt-completion':
      return ['    type:', '      field_instruction: prompt', '      field_output: completion', '      format: "{instruction}"', '      no_input_format: "{instruction}"'];
    case 'alpaca':
      return [
        '    type:', '      field_system: system', '      field_instruction: instruction', '      field_input: input', '      field_output: output',
        `      format: ${y('### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n')}`,
        `      no_input_format: ${y('### Instruction:\n{instruction}\n\n### Response:\n')}`,
      ];
    case 'messages':
      return ['    type: chat_template', '    field_messages: messages', ...chatTemplateLines(r)];
    case 'sharegpt':
      return [
        '    type: chat_template', '    field_messages: conversations', '    message_property_mappings:', '      role: from', '      content: value',
        '    roles:', '      user: ["human", "user"]', '      assistant: ["gpt", "assistant"]', '      system: ["system"]', ...chatTemplateLines(r),
      ];
    case 'preference':
      throw new Error('The cluster bundle writes supervised (SFT) configs; preference (DPO) runs are not bundled yet.');
    case 'prompt':
      throw new Error('axolotl has no config for prompt-only (GRPO) rows: the bundle\'s TRL script trains them.');
  }
}

function chatTemplateLines(r: RunRecord): string[] {
  const roles = r.data.trainOnPrompt ? '    roles_to_train: ["system", "user", "assistant"]' : '    roles_to_train: ["assistant"]';
  const t = r.data.chatTemplate;
  if (t?.fallback && t.template) return [roles, '    chat_template: jinja', `    chat_template_jinja: ${y(t.template)}`];
  return [roles, '    chat_template: tokenizer_default'];
}

const SCHEDULERS: Record<RunRecord['settings']['schedule'], string> = { cosine: 'cosine', linear: 'linear', constant: 'constant_with_warmup' };

export function axolotlYaml(r: RunRecord): string {
  const s = r.settings;
  const qlora = r.basePrecision === 'nf4';
  const lines = [
    '# axolotl config written by Fine-tune Studio: continues the run from ./adapter on any number of GPUs.',
    '# Run: axolotl train axolotl.yaml   (multi-GPU: accelerate launch -m axolotl.cli.train axolotl.yaml)',
    `base_model: ${y(r.lora.baseModel || r.model.source)}`,
    '',
    `adapter: ${qlora ? 'qlora' : 'lora'}`,
    ...(qlora ? ['load_in_4bit: true', 'bnb_4bit_quant_type: nf4'] : []),
    'lora_model_dir: ./adapter',
    `lora_r: ${r.lora.r}`,
    `lora_alpha: ${r.lora.alpha}`,
    `lora_dropout: ${r.lora.dropout}`,
    `lora_target_modules: [${r.lora.targetModules.map((m) => y(m)).join(', ')}]`,
    `peft_use_rslora: ${r.lora.useRslora}`,
    '',
    'datasets:',
    '  - path: data/train.jsonl',
    '    ds_type: json',
    '    split: train',
    ...datasetType(r),
    ...(r.data.validationRows > 0 ? ['test_datasets:', '  - path: data/validation.jsonl', '    ds_type: json', '    split: train', ...datasetType(r).map((l) => l)] : []),
    'val_set_size: 0',
    `train_on_inputs: ${r.data.trainOnPrompt}`,
    `sequence_len: ${r.data.maxLength - 1}`,
    `sample_packing: ${r.data.packing}`,
    'pad_to_sequence_len: true',
    '',
    `micro_batch_size: ${s.batchSize}`,
    `gradient_accumulation_steps: ${s.gradAccum}`,
    ...(s.epochs > 0 ? [`num_epochs: ${s.epochs}`] : [`max_steps: ${s.steps}`]),
    'optimizer: adamw_torch',
    `learning_rate: ${s.learningRate}`,
    `lr_scheduler: ${SCHEDULERS[s.schedule]}`,
    `warmup_steps: ${s.warmupSteps}`,
    `weight_decay: ${s.adamw.weightDecay}`,
    `adam_beta1: ${s.adamw.beta1}`,
    `adam_beta2: ${s.adamw.beta2}`,
    `adam_epsilon: ${s.adamw.eps}`,
    `max_grad_norm: ${s.maxGradNorm}`,
    `seed: ${s.seed}`,
    ...(s.evalEvery > 0 ? [`eval_steps: ${s.evalEvery}`] : []),
    'bf16: auto',
    'gradient_checkpointing: true',
    'output_dir: ./outputs/axolotl',
    '',
  ];
  return lines.join('\n');
}
