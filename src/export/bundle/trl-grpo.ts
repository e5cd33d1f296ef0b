// The bundle of a GRPO run: train_trl.py, TRL's GRPOTrainer continuing the bundled adapter on the
// bundled prompt rows with the run's sampling and loss settings under TRL's names, and reward.py, the
// run's reward as TRL's reward function: a built-in translated to Python exactly, or, for the user's
// module (carried as reward.mjs), a stub that stops the script until the JavaScript is ported.
import type { RunRecord, RunReward } from './run-record';
import { PY_LOAD_ADAPTER, PY_SCHEDULE_ARGS, pythonDict, trlSettings } from './trl';
import { pythonRegex, pythonString } from './python-regex';
import { parseBuiltinReward, RewardSpecError } from '../../train/objectives/reward';
import { DEFAULT_GRPO } from '../../train/settings';
import { ExportInputError } from '../model-tensors';

/** The run's settings under TRL's names. TRL's per_device_train_batch_size counts completions: B prompts x G. */
export function grpoSettings(r: RunRecord): Record<string, unknown> {
  const g = r.settings.grpo ?? DEFAULT_GRPO;
  const s = trlSettings(r);
  // Prompts are plain text (no chat template, no packing, no loss mask); GRPO has no held-out loss to evaluate.
  for (const k of ['dataset_format', 'chat_template', 'train_on_prompt', 'packing', 'max_length', 'eval_steps']) delete s[k];
  return {
    ...s,
    per_device_train_batch_size: r.settings.batchSize * g.numGenerations,
    objective: 'grpo',
    reward: r.reward?.kind === 'module' ? r.reward.fileName : (r.reward?.spec ?? null),
    prompt_column: r.data.promptColumn ?? 'prompt',
    prompts_per_device_batch: r.settings.batchSize,
    num_generations: g.numGenerations,
    max_completion_length: g.maxNewTokens,
    temperature: g.temperature,
    top_p: 1.0, // the studio samples the whole tempered distribution
    top_k: 0,
    epsilon: g.epsilon,
    beta: g.beta,
    loss_type: 'grpo', // each completion's token mean, then the mean over completions, as the studio (TRL's default is "dapo")
  };
}

/** Text for a comment or a README line: a spec's line breaks shown as escapes. */
const oneLine = (text: string) => text.replace(/\r/g, '\\r').replace(/\n/g, '\\n');

/** Where the user's module travels in the bundle: reward.mjs (reward.js for a .js file, which Node may read as CommonJS). */
export function moduleFile(fileName: string): string {
  return fileName.endsWith('.js') ? 'reward.js' : 'reward.mjs';
}

/** The run's reward, or why the bundle cannot carry it. */
function recordedReward(r: RunRecord): RunReward {
  if (!r.reward) throw new ExportInputError('run.json records no GRPO reward (it was written before the studio kept it): train the run again with npm run train to bundle it');
  return r.reward;
}

const TRL_CALL = `# TRL calls reward(prompts=[...], completions=[...], completion_ids=[...], **columns): one entry per completion,
# every dataset column but "prompt" as a list under its own name (GRPOConfig keeps them: remove_unused_columns=False).
`;

/** JavaScript's String.prototype.trim() set: WhiteSpace (every Zs) and LineTerminator. */
const PY_JS_SPACE = String.raw`"\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"`;

/** reward.py for a built-in, and where Python could still answer differently (for the README). */
export function builtinRewardPython(spec: string): { python: string; notes: string[] } {
  let b: ReturnType<typeof parseBuiltinReward>;
  try {
    b = parseBuiltinReward(spec);
  } catch (e) {
    throw e instanceof RewardSpecError ? new ExportInputError(`run.json's reward: ${e.message}`) : e;
  }
  const head = `# The GRPO run's reward, ${oneLine(spec)}, for TRL's GRPOTrainer: written by Fine-tune Studio from
# src/train/objectives/reward.ts, scoring each completion as the studio did.
${TRL_CALL}`;
  switch (b.kind) {
    case 'exact':
      return {
        notes: [],
        python: `${head}
# 1.0 when the completion, trimmed, equals the row's "answer", trimmed. JavaScript's trim() strips its own
# whitespace set, not str.isspace()'s (it strips U+FEFF and keeps U+001C-U+001F and U+0085): spelled out here.
JS_SPACE = ${PY_JS_SPACE}


def reward(prompts, completions, answer=None, **kwargs):
    if answer is None:
        raise ValueError('builtin:exact needs an "answer" string in every row')
    out = []
    for completion, a in zip(completions, answer):
        if not isinstance(a, str):
            raise ValueError(f'builtin:exact needs an "answer" string in every row, got {a!r}')
        out.append(1.0 if completion.strip(JS_SPACE) == a.strip(JS_SPACE) else 0.0)
    return out
`,
      };
    case 'regex': {
      const py = pythonRegex(b.pattern);
      const notes = py.notes.map((n) => `# Note: ${n}.\n`).join('');
      return {
        notes: py.notes,
        python: `${head}import re

# 1.0 when JavaScript's RegExp (no flags) finds a match. JavaScript matches UTF-16 units, so the completion is
# matched as units (a character beyond U+FFFF as its surrogate pair), and the pattern below is Python's spelling
# of the same units: re.ASCII makes \\d, \\w and \\b ASCII, as in JavaScript; \\s, "." and "$" are rewritten to
# JavaScript's meaning (its whitespace; any unit but \\n \\r \\u2028 \\u2029; the very end only), named groups to
# (?P<name>...), identity escapes and a brace that is no quantifier to literals.
${notes}JS_PATTERN = ${pythonString(b.pattern)}  # as the studio compiled it
PATTERN = re.compile(${pythonString(py.pattern)}, re.ASCII)


def js_units(s):
    return "".join(c if ord(c) < 0x10000 else chr(0xD7C0 + (ord(c) >> 10)) + chr(0xDC00 + (ord(c) & 0x3FF)) for c in s)


def reward(prompts, completions, **kwargs):
    return [1.0 if PATTERN.search(js_units(completion)) else 0.0 for completion in completions]
`,
      };
    }
    case 'json':
      return {
        notes: ['JSON nested deeper than Python\'s recursion limit scores 0 in reward.py and 1 in the studio'],
        python: `${head}import json

# 1.0 when JSON.parse accepts the completion. Python's json also reads NaN and Infinity, which JSON.parse
# refuses, and refuses integers of over 4300 digits, which JavaScript reads as numbers: so constants are
# refused and integers read as floats. Nesting deeper than Python's recursion limit scores 0.0 here, 1.0 there.


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def reward(prompts, completions, **kwargs):
    out = []
    for completion in completions:
        try:
            json.loads(completion, parse_constant=_not_json, parse_int=float)
            out.append(1.0)
        except (ValueError, RecursionError):
            out.append(0.0)
    return out
`,
      };
    case 'length':
      return {
        notes: [],
        python: `${head}
# 1.0 when MIN <= the completion's length <= MAX, counted as JavaScript counts string length: in UTF-16
# units, so a character beyond U+FFFF (an emoji) counts 2.
MIN, MAX = ${b.min}, ${b.max}


def js_length(s):
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def reward(prompts, completions, **kwargs):
    return [1.0 if MIN <= js_length(completion) <= MAX else 0.0 for completion in completions]
`,
      };
  }
}

/** reward.py for a user's module: the stub that stops the script, with the row the module was given. */
function moduleRewardStub(fileName: string, promptColumn: string): string {
  const file = moduleFile(fileName);
  return `# The GRPO run's reward was JavaScript, ${oneLine(fileName)}, carried beside this file as ${file} (only that file: modules it
# imports are not in the bundle). TRL's GRPOTrainer needs it in Python.
# Port its default export into reward() below. Until then reward() raises, and train_trl.py calls it on the
# first row before loading any weight, so the script cannot train with a wrong reward.
${TRL_CALL}
# TRL's own keyword arguments, which are no columns of the row.
TRL_KWARGS = {"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
MODULE = ${JSON.stringify(file)}
PROMPT_COLUMN = ${JSON.stringify(promptColumn)}


def studio_row(i, prompts, kwargs):
    """The \`row\` the module was given for completion i: the data line's fields. Columns a line lacked come as None;
    with another prompt column, a "prompt" field of the line itself is lost (the script's "prompt" column took its place)."""
    row = {k: v[i] for k, v in kwargs.items() if k not in TRL_KWARGS}
    if PROMPT_COLUMN == "prompt":
        row["prompt"] = prompts[i]
    return row


def reward(prompts, completions, **kwargs):
    """The module's default export, ({ prompt, completion, row }) => number, for each completion i:
    prompt = prompts[i], completion = completions[i], row = studio_row(i, prompts, kwargs).
    Return one float per completion. The studio stopped on a throw, a non-number or NaN; TRL reads None as NaN."""
    raise NotImplementedError(
        f"reward.py: the run's reward is JavaScript ({MODULE}); port its default export into reward() before training"
    )
`;
}

/** reward.py, and for a module its JavaScript (reward.mjs), as [path, text] pairs. */
export function grpoRewardFiles(r: RunRecord): [string, string][] {
  const reward = recordedReward(r);
  if (reward.kind === 'builtin') return [['reward.py', builtinRewardPython(reward.spec).python]];
  return [['reward.py', moduleRewardStub(reward.fileName, r.data.promptColumn ?? 'prompt')], [moduleFile(reward.fileName), reward.source]];
}

export function grpoTrlScript(r: RunRecord): string {
  const reward = recordedReward(r);
  const what = reward.kind === 'module' ? `a stub until ${moduleFile(reward.fileName)}, the run's JavaScript reward, is ported into it` : `the run's ${oneLine(reward.spec)} in Python`;
  return `# TRL GRPOTrainer script written by Fine-tune Studio: continues the GRPO run from ./adapter on the {"prompt", ...}
# rows, scoring completions with reward.py (${what}).
# One GPU:   python train_trl.py
# Many GPUs: accelerate launch --config_file accelerate/ddp.yaml --num_processes <GPUs> train_trl.py
# Needs: pip install "trl>=0.26" "peft>=0.13" accelerate datasets transformers (bitsandbytes for load_in_4bit);
#        TRL before 0.26 tokenizes prompts without the BOS token the studio put first.
import torch
from datasets import load_dataset
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import GRPOConfig, GRPOTrainer

from reward import reward

S = ${pythonDict(grpoSettings(r))}

tokenizer = AutoTokenizer.from_pretrained(S["base_model"])
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token

# The rows as the file had them: TRL reads "prompt", and hands every other column to the reward.
data = load_dataset("json", data_files={"train": "data/train.jsonl"})["train"]
if S["prompt_column"] != "prompt":
    data = data.map(lambda r: {"prompt": r[S["prompt_column"]]})

# The reward on the first row before any weight is loaded: an unported or failing reward stops here.
first = data[0]
reward(prompts=[first["prompt"]], completions=[""], completion_ids=[[]], **{k: [v] for k, v in first.items() if k != "prompt"})

${PY_LOAD_ADAPTER}
config = GRPOConfig(
    output_dir="outputs/trl",
    num_generations=S["num_generations"],
    max_completion_length=S["max_completion_length"],
    temperature=S["temperature"],
    top_p=S["top_p"],
    top_k=S["top_k"],
    epsilon=S["epsilon"],
    beta=S["beta"],  # KL to the base with the adapter off: TRL does that for a PeftModel, as the studio did
    loss_type=S["loss_type"],
    per_device_train_batch_size=S["per_device_train_batch_size"],  # completions: prompts_per_device_batch x num_generations
${PY_SCHEDULE_ARGS}    logging_steps=1,  # reward, reward_std, kl and completion_length each step, as the studio printed them
    bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    gradient_checkpointing=True,
    report_to="none",
)
# No evaluation first: GRPO has no held-out loss (the studio reported eval_loss NaN). The held-out prompts are in
# data/validation.jsonl; TRL could sample and score them (eval_dataset, eval_strategy), which the studio did not.
trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=data, processing_class=tokenizer)
trainer.train()
trainer.save_model("outputs/trl/adapter")
`;
}

/** What each built-in's Python keeps of JavaScript (the README's words). */
const RUN_AS: Record<ReturnType<typeof parseBuiltinReward>['kind'], string> = {
  exact: 'JavaScript\'s trim() whitespace on both sides',
  regex: 'the pattern rewritten to RegExp\'s meaning, matched over UTF-16 units as JavaScript does',
  json: 'JSON.parse\'s grammar: no NaN or Infinity',
  length: 'the length in UTF-16 units, as JavaScript counts it',
};

/** The README's GRPO lines: what is carried, and what does not carry over exactly. */
export function grpoReadme(r: RunRecord): { settings: string; differences: string[] } {
  const s = r.settings;
  const g = s.grpo ?? DEFAULT_GRPO;
  const reward = recordedReward(r);
  const rewardNotes = reward.kind === 'builtin' ? builtinRewardPython(reward.spec).notes : [];
  const completions = s.batchSize * g.numGenerations;
  return {
    settings: `GRPO: ${g.numGenerations} completions per prompt, at most ${g.maxNewTokens} new tokens, temperature ${g.temperature} (top_p 1, top_k 0), clipping epsilon ${g.epsilon}, KL beta ${g.beta}, loss_type "grpo"; reward ${oneLine(reward.kind === 'module' ? reward.fileName : reward.spec)}.`,
    differences: [
      `**Effective batch**: the studio took ${s.batchSize} prompts x ${g.numGenerations} completions x ${s.gradAccum} micro-batches per optimizer step. TRL's per_device_train_batch_size counts completions (${completions} here) and must hold whole groups of ${g.numGenerations}; with N GPUs TRL takes ${completions} x ${s.gradAccum} x N completions. To keep the studio's count, divide gradient_accumulation_steps by N; to keep the step count with a larger batch, scale the learning rate yourself.`,
      reward.kind === 'module'
        ? `**Reward**: ${oneLine(reward.fileName)} (here ${moduleFile(reward.fileName)}) is JavaScript and TRL calls Python: port its default export into reward.py (studio_row() rebuilds the \`row\` it was given). Files it imports are not in the bundle. Until then reward.py raises NotImplementedError and train_trl.py stops before loading the model.`
        : `**Reward**: reward.py scores as the studio's ${oneLine(reward.spec)} did: the built-in translated to Python (${RUN_AS[parseBuiltinReward(reward.spec).kind]}; the tests run both on the same completions).${rewardNotes.map((n) => ` Note: ${n}.`).join('')}`,
      '**Evaluation**: GRPO has no held-out loss (the studio reported eval_loss NaN), so the script does not evaluate first. TRL can sample and score data/validation.jsonl (eval_dataset, eval_strategy); the studio did not.',
      `**Completion length**: the studio also cut each completion to the room --max-len left after its prompt (${s.seqLen + 1} tokens with the prompt); TRL's only limit is max_completion_length (${g.maxNewTokens}).`,
      '**Sampling**: completions come from each trainer\'s own random generator: the same seed samples different completions, so rewards match in distribution, not one by one. Advantages are normalised within each group as in the studio (std with Bessel\'s correction, + 1e-4).',
      '**Prompt layout**: prompts are plain text with the tokenizer\'s BOS and no chat template, as in the studio (TRL 0.26 and later; earlier TRL leaves the BOS out).',
    ],
  };
}
