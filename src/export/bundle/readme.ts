// The bundle's README: what is in it, the exact commands for axolotl and TRL on one or many GPUs,
// and every hyper-parameter that does not carry over exactly, with what to do about it.
import type { RunRecord } from './run-record';
import { grpoReadme, moduleFile } from './trl-grpo';

export function bundleReadme(r: RunRecord, name: string): string {
  const s = r.settings;
  const objective = s.objective ?? 'sft';
  const sft = objective === 'sft';
  const trainer = ({ sft: 'SFTTrainer', dpo: 'DPOTrainer', kto: 'KTOTrainer', orpo: 'ORPOTrainer', grpo: 'GRPOTrainer' } as const)[objective];
  const grpo = objective === 'grpo' ? grpoReadme(r) : null;
  const module = r.reward?.kind === 'module' ? moduleFile(r.reward.fileName) : null;
  const script = sft ? '' : grpo
    ? ' (GRPO, the run\'s objective; it does not evaluate first: GRPO has no held-out loss)'
    : ` (${objective.toUpperCase()}, the run's objective; it evaluates the adapter on the held-out rows first)`;
  return `# ${name}: continue this run on a GPU cluster

Written by Fine-tune Studio from run ${JSON.stringify(r.model.source)} (base fingerprint ${r.model.fingerprint}).

| file | what |
|---|---|
| data/train.jsonl | the ${r.data.trainRows} training rows the run used, exactly as in your file (${grpo ? `prompt rows, the prompt in "${r.data.promptColumn ?? 'prompt'}"` : `${r.data.format} format`}) |
| data/validation.jsonl | the ${r.data.validationRows} held-out rows ${grpo ? 'it kept apart' : 'it evaluated on'} |
| adapter/ | the trained PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) |
${sft ? '| axolotl.yaml | axolotl config continuing from adapter/ (lora_model_dir) |\n' : ''}| train_trl.py | TRL ${trainer} script continuing from adapter/${script} |
${!grpo ? '' : module ? `| reward.py | a stub that stops the script: port ${module} into it |\n| ${module} | the run's JavaScript reward, as it scored the run |\n` : '| reward.py | the run\'s reward in Python, as TRL\'s reward function |\n'}| accelerate/*.yaml | multi-GPU launch configs: DDP, FSDP, DeepSpeed ZeRO-2 |
| run.json | every setting of the run, as the studio recorded it |

## Run

${module ? `First port ${module} into reward.py: until then the script stops before loading the model.\n\n` : ''}\`\`\`sh
${sft ? `pip install axolotl          # or: pip install "trl>=0.20" "peft>=0.13" accelerate datasets transformers
axolotl train axolotl.yaml                                                   # one GPU
accelerate launch -m axolotl.cli.train axolotl.yaml                          # all GPUs of this machine
` : `pip install "trl>=${grpo ? '0.26' : '0.20'}" "peft>=0.13" accelerate datasets transformers
`}python train_trl.py                                                          # TRL, one GPU
accelerate launch --config_file accelerate/ddp.yaml --num_processes 8 train_trl.py
accelerate launch --config_file accelerate/fsdp.yaml --num_processes 8 train_trl.py
accelerate launch --config_file accelerate/deepspeed-zero2.yaml --num_processes 8 train_trl.py
# several machines: add --num_machines 2 --machine_rank <0|1> --main_process_ip <first machine> --main_process_port 29500
\`\`\`

## Settings carried over

LoRA r ${r.lora.r}, alpha ${r.lora.alpha}${r.lora.useRslora ? ' (rsLoRA)' : ''}, dropout ${r.lora.dropout}, targets ${r.lora.targetModules.join(', ')};
${r.basePrecision === 'nf4' ? 'QLoRA (4-bit NF4 base)' : 'LoRA over a 16/32-bit base'}; learning rate ${s.learningRate}, ${s.schedule} schedule, ${s.warmupSteps} warmup steps;
micro-batch ${s.batchSize}${grpo ? ' prompts' : ''} x accumulation ${s.gradAccum}; ${s.epochs > 0 ? `${s.epochs} epochs` : `${s.steps} steps`}; ${grpo ? grpo.settings : `sequence length ${r.data.maxLength - 1} (+1 target);
packing ${r.data.packing ? 'on' : 'off'}; loss on prompts ${r.data.trainOnPrompt ? 'on' : 'off'};`} AdamW betas ${s.adamw.beta1}/${s.adamw.beta2}, eps ${s.adamw.eps}, weight decay ${s.adamw.weightDecay}; gradient clipping ${s.maxGradNorm}; seed ${s.seed}.

## What does not carry over exactly

${differences(r, grpo?.differences ?? null).map((d) => `- ${d}\n`).join('')}`;
}

/** The README's bullets on what differs elsewhere; GRPO brings its own on batch, length, reward and prompts. */
function differences(r: RunRecord, grpo: string[] | null): string[] {
  const s = r.settings;
  const perStep = s.batchSize * s.gradAccum;
  return [
    ...(grpo ? grpo.slice(0, 1) : [`**Effective batch**: the studio took ${perStep} sequences per optimizer step (${s.batchSize} x ${s.gradAccum}). With N GPUs both configs take ${s.batchSize} x ${s.gradAccum} x N. To keep ${perStep}, divide gradient_accumulation_steps by N (or micro-batch); to keep the step count with a larger batch, scale the learning rate (roughly linearly for small changes) yourself.`]),
    `**Steps**: ${s.epochs > 0 ? 'epochs are kept; the step count follows from the batch.' : `max_steps ${s.steps} counts optimizer steps; a larger effective batch sees more data in the same steps.`} Training restarts its schedule from step 0 with the adapter as the starting point (the optimizer state is not carried).`,
    `**Warmup**: the studio's first step already uses lr x 1/${Math.max(1, s.warmupSteps)}; Hugging Face schedulers start at 0.`,
    '**Data order and dropout masks** come from each trainer\'s own random generator: the same seed gives a different order.',
    ...(grpo ? [] : [`**Sequence length**: the studio keeps ${r.data.maxLength} tokens per example (inputs + last target); axolotl's sequence_len and TRL's max_length count the sequence itself, so examples at the limit may lose one token.`]),
    `**Precision**: the studio trained in fp32${r.basePrecision === 'nf4' ? ' over its own NF4 base (bitsandbytes NF4 uses the same levels and block size 64)' : ''}; the configs use bf16 where the GPU supports it.`,
    ...(grpo ? grpo.slice(1) : [`**Prompt layout**: ${promptNote(r)}`]),
  ];
}

function promptNote(r: RunRecord): string {
  switch (r.data.format) {
    case 'alpaca': return "both configs reproduce the studio's \"### Instruction / ### Input / ### Response\" layout; axolotl puts an optional system line its own way.";
    case 'prompt-completion': return 'prompt and completion are joined with nothing between them, as in the studio.';
    case 'text': return 'plain text rows, loss on every token.';
    default:
      return r.data.chatTemplate?.fallback
        ? "the model has no chat template, so the studio rendered chats with its fallback template; both configs carry that template's Jinja text."
        : "chats are rendered with the model's own chat template, as in the studio.";
  }
}
