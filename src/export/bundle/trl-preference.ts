// TRL scripts for the preference objectives: DPO and ORPO on the bundled {"prompt","chosen","rejected"}
// pairs, KTO on the {"prompt","completion","label"} rows, each continuing the bundled PEFT adapter
// with the run's hyper-parameters in one dict at the top. The reference model (DPO, KTO) is the
// base with the adapter switched off, as in the studio: TRL does exactly that for a PeftModel with
// ref_model=None. Before training the script evaluates the bundled adapter on the held-out rows, so
// its first figures can be set beside the studio's last evaluation.
import type { RunRecord } from './run-record';
import { PY_LOAD_ADAPTER, PY_SCHEDULE_ARGS, pythonDict, trlSettings } from './trl';
import { DEFAULT_DPO } from '../../train/dpo';
import { DEFAULT_KTO } from '../../train/settings';
import { DEFAULT_ORPO_LAMBDA } from '../../train/objectives/orpo';

export type PreferenceObjective = 'dpo' | 'kto' | 'orpo';

const TRAINERS: Record<PreferenceObjective, { config: string; trainer: string; data: string }> = {
  dpo: { config: 'DPOConfig', trainer: 'DPOTrainer', data: '{"prompt","chosen","rejected"} pairs (text or conversations)' },
  kto: { config: 'KTOConfig', trainer: 'KTOTrainer', data: '{"prompt","completion","label"} rows' },
  orpo: { config: 'ORPOConfig', trainer: 'ORPOTrainer', data: '{"prompt","chosen","rejected"} pairs (text or conversations)' },
};

/** The objective's own settings, under TRL's names (ORPO's lambda is TRL's `beta`). */
export function preferenceSettings(r: RunRecord, objective: PreferenceObjective): Record<string, unknown> {
  const s = r.settings;
  const common = trlSettings(r);
  delete common.dataset_format;
  delete common.train_on_prompt;
  delete common.packing;
  if (objective === 'dpo') return { ...common, objective, beta: s.dpoBeta ?? DEFAULT_DPO.beta, loss_type: 'sigmoid' };
  if (objective === 'kto') {
    const k = s.kto ?? DEFAULT_KTO;
    return { ...common, objective, beta: k.beta, desirable_weight: k.desirableWeight, undesirable_weight: k.undesirableWeight };
  }
  return { ...common, objective, beta: s.orpoLambda ?? DEFAULT_ORPO_LAMBDA };
}

/** The rows of a mapped or non-JSONL file are already TRL's columns; only the label needs to be a bool. */
export function preferenceTrlScript(r: RunRecord, objective: PreferenceObjective): string {
  const t = TRAINERS[objective];
  const settings = pythonDict(preferenceSettings(r, objective));
  const reference = objective === 'orpo' ? '' : '    ref_model=None,  # a PeftModel: TRL uses the base with the adapter off as the reference, as the studio did\n';
  const extra =
    objective === 'kto' ? '    desirable_weight=S["desirable_weight"],\n    undesirable_weight=S["undesirable_weight"],\n'
    : objective === 'dpo' ? '    loss_type=S["loss_type"],\n'
    : '';
  return `# TRL ${t.trainer} script written by Fine-tune Studio: continues the ${objective.toUpperCase()} run from ./adapter on ${t.data}.
# One GPU:   python train_trl.py
# Many GPUs: accelerate launch --config_file accelerate/ddp.yaml --num_processes <GPUs> train_trl.py
# Needs: pip install "trl>=0.20" "peft>=0.13" accelerate datasets transformers (bitsandbytes for load_in_4bit)
import torch
from datasets import load_dataset
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import ${t.config}, ${t.trainer}

S = ${settings}

tokenizer = AutoTokenizer.from_pretrained(S["base_model"])
if S["chat_template"]:
    tokenizer.chat_template = S["chat_template"]  # the studio's fallback template, used because the model has none
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token

data = load_dataset("json", data_files={"train": "data/train.jsonl", "validation": "data/validation.jsonl"})
${objective === 'kto' ? 'data = data.map(lambda r: {"label": bool(r["label"])})  # TRL wants a bool\n' : ''}
${PY_LOAD_ADAPTER}
has_validation = len(data["validation"]) > 0
config = ${t.config}(
    output_dir="outputs/trl",
    beta=S["beta"],
${extra}    max_length=S["max_length"],
    per_device_train_batch_size=S["per_device_train_batch_size"],
    per_device_eval_batch_size=S["per_device_train_batch_size"],
${PY_SCHEDULE_ARGS}    eval_strategy="steps" if S["eval_steps"] > 0 and has_validation else "no",
    eval_steps=S["eval_steps"] or None,
    bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    gradient_checkpointing=True,
    report_to="none",
)
trainer = ${t.trainer}(
    model=model,
${reference}    args=config,
    train_dataset=data["train"],
    eval_dataset=data["validation"] if has_validation else None,
    processing_class=tokenizer,
)
if has_validation:
    # The bundled adapter on the held-out rows: eval_loss (and the rewards) should match the studio's last evaluation.
    print("before training:", trainer.evaluate())
trainer.train()
trainer.save_model("outputs/trl/adapter")
`;
}
