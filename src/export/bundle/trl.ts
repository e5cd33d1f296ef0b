// A TRL SFT script that continues the run (the bundled PEFT adapter, loaded trainable) with the
// run's hyper-parameters baked in as one dict at the top, rendering rows exactly as the studio
// did (alpaca prompt layout, the model's chat template or the studio's fallback), plus accelerate
// configs for multi-GPU: DDP, FSDP and DeepSpeed ZeRO-2.
import type { RunRecord } from './run-record';

const SCHEDULERS: Record<RunRecord['settings']['schedule'], string> = { cosine: 'cosine', linear: 'linear', constant: 'constant_with_warmup' };

/** The hyper-parameters as the script reads them (also what the tests check). */
export function trlSettings(r: RunRecord): Record<string, unknown> {
  const s = r.settings;
  return {
    base_model: r.lora.baseModel || r.model.source,
    dataset_format: r.data.format,
    chat_template: r.data.chatTemplate?.fallback ? r.data.chatTemplate.template : null,
    train_on_prompt: r.data.trainOnPrompt,
    packing: r.data.packing,
    max_length: r.data.maxLength,
    load_in_4bit: r.basePrecision === 'nf4',
    per_device_train_batch_size: s.batchSize,
    gradient_accumulation_steps: s.gradAccum,
    max_steps: s.epochs > 0 ? -1 : s.steps,
    num_train_epochs: s.epochs > 0 ? s.epochs : 1,
    learning_rate: s.learningRate,
    lr_scheduler_type: SCHEDULERS[s.schedule],
    warmup_steps: s.warmupSteps,
    weight_decay: s.adamw.weightDecay,
    adam_beta1: s.adamw.beta1,
    adam_beta2: s.adamw.beta2,
    adam_epsilon: s.adamw.eps,
    max_grad_norm: s.maxGradNorm,
    seed: s.seed,
    eval_steps: s.evalEvery,
  };
}

/** A settings dict as a Python literal: JSON, with true/false/null outside strings spelled as Python spells them. */
export function pythonDict(settings: Record<string, unknown>): string {
  const words: Record<string, string> = { true: 'True', false: 'False', null: 'None' };
  return JSON.stringify(settings, null, 4).replace(/"(?:[^"\\]|\\.)*"|\b(true|false|null)\b/g, (m, word?: string) => (word ? words[word] : m));
}

/** Python shared by every TRL script: the base (4-bit where the run was NF4) with the bundled adapter, trainable. */
export const PY_LOAD_ADAPTER = `quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16) if S["load_in_4bit"] else None
model = AutoModelForCausalLM.from_pretrained(S["base_model"], quantization_config=quant, torch_dtype=torch.bfloat16)
model = PeftModel.from_pretrained(model, "adapter", is_trainable=True)  # continue the studio's adapter
`;

/** Python shared by every TRL config: the optimizer, schedule and step settings, one per line (4-space indent). */
export const PY_SCHEDULE_ARGS = `    gradient_accumulation_steps=S["gradient_accumulation_steps"],
    max_steps=S["max_steps"],
    num_train_epochs=S["num_train_epochs"],
    learning_rate=S["learning_rate"],
    lr_scheduler_type=S["lr_scheduler_type"],
    warmup_steps=S["warmup_steps"],
    weight_decay=S["weight_decay"],
    adam_beta1=S["adam_beta1"],
    adam_beta2=S["adam_beta2"],
    adam_epsilon=S["adam_epsilon"],
    max_grad_norm=S["max_grad_norm"],
    seed=S["seed"],
`;

export function trlScript(r: RunRecord): string {
  const settings = pythonDict(trlSettings(r));
  return `# TRL SFT script written by Fine-tune Studio: continues the run from ./adapter.
# One GPU:   python train_trl.py
# Many GPUs: accelerate launch --config_file accelerate/ddp.yaml --num_processes <GPUs> train_trl.py
#            (or accelerate/fsdp.yaml, accelerate/deepspeed-zero2.yaml; add --num_machines/--machine_rank/--main_process_ip for several machines)
# Needs: pip install "trl>=0.20" "peft>=0.13" accelerate datasets transformers (bitsandbytes for load_in_4bit)
import torch
from datasets import load_dataset
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

S = ${settings}

tokenizer = AutoTokenizer.from_pretrained(S["base_model"])
if S["chat_template"]:
    tokenizer.chat_template = S["chat_template"]  # the studio's fallback template, used because the model has none


def alpaca_prompt(r):
    head = f"{r['system']}\\n\\n" if r.get("system") else ""
    inp = f"### Input:\\n{r['input']}\\n\\n" if r.get("input", "").strip() else ""
    return f"{head}### Instruction:\\n{r['instruction']}\\n\\n{inp}### Response:\\n"


def to_trl(r):
    """Rows in the studio's formats -> TRL's text, prompt-completion or conversational rows."""
    f = S["dataset_format"]
    if f == "text":
        return {"text": r["text"]}
    if f == "prompt-completion":
        return {"prompt": r["prompt"], "completion": r["completion"]}
    if f == "alpaca":
        return {"prompt": alpaca_prompt(r), "completion": r["output"]}
    if f == "sharegpt":
        roles = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}
        return {"messages": [{"role": roles[m["from"]], "content": m["value"]} for m in r["conversations"]]}
    return {"messages": r["messages"]}


data = load_dataset("json", data_files={"train": "data/train.jsonl", "validation": "data/validation.jsonl"})
data = data.map(to_trl, remove_columns=data["train"].column_names)

${PY_LOAD_ADAPTER}
conversational = S["dataset_format"] in ("messages", "sharegpt")
config = SFTConfig(
    output_dir="outputs/trl",
    max_length=S["max_length"],
    packing=S["packing"],
    completion_only_loss=None if conversational else not S["train_on_prompt"],
    assistant_only_loss=conversational and not S["train_on_prompt"],
    per_device_train_batch_size=S["per_device_train_batch_size"],
${PY_SCHEDULE_ARGS}    eval_strategy="steps" if S["eval_steps"] > 0 and len(data["validation"]) > 0 else "no",
    eval_steps=S["eval_steps"] or None,
    bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    gradient_checkpointing=True,
    report_to="none",
)
trainer = SFTTrainer(model=model, args=config, train_dataset=data["train"], eval_dataset=data["validation"] if len(data["validation"]) else None, processing_class=tokenizer)
trainer.train()
trainer.save_model("outputs/trl/adapter")
`;
}

/** accelerate config files: name -> YAML. num_processes is a default; --num_processes overrides it. */
export function accelerateConfigs(): Record<string, string> {
  const common = ['compute_environment: LOCAL_MACHINE', 'machine_rank: 0', 'num_machines: 1', 'num_processes: 8', 'mixed_precision: bf16', 'rdzv_backend: static', 'same_network: true', 'main_training_function: main', 'use_cpu: false'];
  return {
    'accelerate/ddp.yaml': ['# Data parallel: one full model copy per GPU.', 'distributed_type: MULTI_GPU', ...common, ''].join('\n'),
    'accelerate/fsdp.yaml': [
      '# Fully sharded data parallel: parameters, gradients and optimizer state split across GPUs.',
      'distributed_type: FSDP', ...common,
      'fsdp_config:', '  fsdp_version: 2', '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP', '  fsdp_cpu_ram_efficient_loading: true',
      '  fsdp_offload_params: false', '  fsdp_reshard_after_forward: true', '  fsdp_state_dict_type: SHARDED_STATE_DICT', '  fsdp_activation_checkpointing: false', '',
    ].join('\n'),
    'accelerate/deepspeed-zero2.yaml': [
      '# DeepSpeed ZeRO stage 2: optimizer state and gradients sharded across GPUs.',
      'distributed_type: DEEPSPEED', ...common,
      'deepspeed_config:', '  zero_stage: 2', '  gradient_accumulation_steps: auto', '  gradient_clipping: auto', '  offload_optimizer_device: none', '  offload_param_device: none', '  zero3_init_flag: false', '',
    ].join('\n'),
  };
}
