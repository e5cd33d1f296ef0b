// GRPO's settings in the Train step: the reward (a built-in, or the user's own function written in an
// editor and tried in the same sandboxed worker the run uses) and the sampling numbers: completions per
// prompt, their length and temperature, the clip range, the KL weight and each reward call's time limit.
// Mounted by MethodPicker when the objective is GRPO.
import { useId, useState } from 'react';
import { useApp } from '../store/app-store';
import { DEFAULT_GRPO, type GrpoSettings, type RewardSource } from '../train/settings';
import { builtinReward, type RewardScorer } from '../train/objectives/reward';
import { SandboxRewardScorer } from '../worker/reward-sandbox';
import { NumberField } from './fields';

type RewardKind = 'module' | 'exact' | 'regex' | 'json' | 'length';

const KINDS: { value: RewardKind; label: string; hint: string }[] = [
  { value: 'module', label: 'My own function (JavaScript)', hint: 'An ES module whose default export takes { prompt, completion, row } and returns a number; row is the whole data row (every column). It runs in its own worker with no access to the studio’s storage or the network, under the time limit below.' },
  { value: 'exact', label: 'Exact match with the row’s "answer"', hint: '1 when the trimmed completion equals the row’s "answer" column, else 0.' },
  { value: 'regex', label: 'Matches a regular expression', hint: '1 when the completion matches the pattern (JavaScript syntax), else 0.' },
  { value: 'json', label: 'Valid JSON', hint: '1 when the whole completion parses as JSON, else 0.' },
  { value: 'length', label: 'Length within a band', hint: '1 when the completion has between MIN and MAX characters, else 0.' },
];

export const DEFAULT_REWARD_CODE = `// Called once for every sampled completion; return a number, higher for better.
// prompt: the row's prompt; completion: the sampled text; row: the whole data row.
export default function reward({ prompt, completion, row }) {
  return /\\bLily\\b/.test(completion) ? 1 : 0;
}
`;

export const DEFAULT_REWARD: RewardSource = { kind: 'module', name: 'reward.mjs', code: DEFAULT_REWARD_CODE };

function kindOf(r: RewardSource): RewardKind {
  if (r.kind === 'module') return 'module';
  const m = /^builtin:([a-z]+)/.exec(r.spec);
  return (m?.[1] as RewardKind | undefined) ?? 'exact';
}

function argOf(r: RewardSource): string {
  return r.kind === 'builtin' ? (/^builtin:[a-z]+=(.*)$/s.exec(r.spec)?.[1] ?? '') : '';
}

/** What is wrong with the reward as set, or null. */
export function rewardProblem(r: RewardSource): string | null {
  if (r.kind === 'module') return r.code.trim() === '' ? 'Write the reward function.' : /export\s+default/.test(r.code) ? null : 'The module needs a default export: export default function reward({ prompt, completion, row }) { ... }';
  try {
    builtinReward(r.spec);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^--reward: /, '');
  }
}

export function GrpoSettingsForm() {
  const train = useApp((s) => s.train);
  const setTrain = useApp((s) => s.setTrain);
  const preview = useApp((s) => s.dataset?.preview[0] ?? null);
  const longest = useApp((s) => s.dataset?.lengths?.longest ?? null);
  const g: GrpoSettings = { ...DEFAULT_GRPO, ...train.grpo, reward: train.grpo?.reward ?? DEFAULT_REWARD };
  const reward = g.reward!;
  const kind = kindOf(reward);
  const set = (p: Partial<GrpoSettings>) => setTrain({ grpo: { ...g, ...p } });
  const setReward = (r: RewardSource) => set({ reward: r });
  const ids = { kind: useId(), code: useId(), codeHint: useId(), arg: useId(), tryResult: useId() };
  const [tryText, setTryText] = useState('Lily went to the park.');
  const [tried, setTried] = useState<{ ok: boolean; text: string } | null>(null);
  const [trying, setTrying] = useState(false);
  const problem = rewardProblem(reward);

  const pickKind = (k: RewardKind) => {
    setTried(null);
    if (k === 'module') setReward({ kind: 'module', name: 'reward.mjs', code: reward.kind === 'module' ? reward.code : DEFAULT_REWARD_CODE });
    else if (k === 'regex') setReward({ kind: 'builtin', spec: 'builtin:regex=\\bLily\\b' });
    else if (k === 'length') setReward({ kind: 'builtin', spec: 'builtin:length=20-200' });
    else setReward({ kind: 'builtin', spec: `builtin:${k}` });
  };

  const tryIt = async () => {
    setTrying(true);
    setTried(null);
    const prompt = preview?.text ?? '';
    let scorer: RewardScorer | null = null;
    try {
      scorer = reward.kind === 'module' ? new SandboxRewardScorer(reward.name, reward.code, g.rewardTimeoutMs) : builtinReward(reward.spec);
      const [v] = await scorer.score([{ prompt, completion: tryText, row: { prompt } }], [preview?.line ?? 1]);
      setTried({ ok: true, text: `Reward ${v} for this completion.` });
    } catch (e) {
      setTried({ ok: false, text: (e as Error).message });
    } finally {
      await scorer?.close?.();
      setTrying(false);
    }
  };

  const k = KINDS.find((x) => x.value === kind)!;
  const [min, max] = kind === 'length' ? argOf(reward).split('-') : ['', ''];
  return (
    <fieldset className="settings grpo" aria-label="GRPO reward and sampling">
      <legend>Reward and sampling (GRPO)</legend>
      <div className="field">
        <label htmlFor={ids.kind}>Reward</label>
        <select id={ids.kind} value={kind} aria-describedby={`${ids.kind}-hint`} onChange={(e) => pickKind(e.target.value as RewardKind)}>
          {KINDS.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
        </select>
        <span id={`${ids.kind}-hint`} className="hint">{k.hint}</span>
      </div>
      {reward.kind === 'module' ? (
        <div className="field">
          <label htmlFor={ids.code}>Reward function (JavaScript module)</label>
          <textarea
            id={ids.code}
            className="code"
            rows={8}
            spellCheck={false}
            autoCapitalize="off"
            autoCorrect="off"
            value={reward.code}
            aria-describedby={ids.codeHint}
            onChange={(e) => setReward({ kind: 'module', name: reward.name, code: e.target.value })}
          />
          <span id={ids.codeHint} className="hint">A throw, a result that is not a number, or a call slower than the time limit stops the step, names the data row, and keeps the adapter of the last good step. The function is kept with the run; it never travels in a share link.</span>
        </div>
      ) : null}
      {kind === 'regex' ? (
        <div className="field">
          <label>
            Pattern
            <input type="text" spellCheck={false} value={argOf(reward)} aria-describedby={ids.arg} onChange={(e) => setReward({ kind: 'builtin', spec: `builtin:regex=${e.target.value}` })} />
          </label>
          <span id={ids.arg} className="hint">A JavaScript regular expression, without slashes, e.g. \bLily\b.</span>
        </div>
      ) : null}
      {kind === 'length' ? (
        <div className="grid">
          <NumberField label="Shortest (characters)" value={Number(min) || 0} min={0} onChange={(v) => setReward({ kind: 'builtin', spec: `builtin:length=${Math.round(v)}-${max}` })} hint="Completions shorter than this get 0." />
          <NumberField label="Longest (characters)" value={Number(max) || 0} min={0} onChange={(v) => setReward({ kind: 'builtin', spec: `builtin:length=${min}-${Math.round(v)}` })} hint="Completions longer than this get 0." />
        </div>
      ) : null}
      {problem ? <p role="alert" className="error">{problem}</p> : null}
      <div className="field">
        <label>
          Completion to try
          <input type="text" value={tryText} aria-describedby={ids.tryResult} onChange={(e) => setTryText(e.target.value)} />
        </label>
        <button type="button" disabled={trying || problem !== null} onClick={() => void tryIt()}>{trying ? 'Trying…' : 'Try the reward'}</button>
        <span id={ids.tryResult} className={tried && !tried.ok ? 'hint error' : 'hint'} role="status" aria-live="polite">
          {tried ? tried.text : `Scores this text as a completion of the dataset's first prompt${preview ? ` (line ${preview.line})` : ''}, in the same sandbox the run uses; the row holds the prompt only here.`}
        </span>
      </div>
      {longest !== null && longest + g.maxNewTokens > train.seqLen + 1 ? (
        <p role="status" className="hint error" data-testid="grpo-room">
          The longest prompt has {longest} tokens: with a sequence length of {train.seqLen}, its completions stop after {Math.max(0, train.seqLen + 1 - longest)} tokens, not {g.maxNewTokens}. A sequence length of {longest + g.maxNewTokens - 1} leaves every prompt room for full-length completions.
        </p>
      ) : null}
      <div className="grid">
        <NumberField label="Completions per prompt" value={g.numGenerations} min={2} max={64} onChange={(v) => v >= 2 && set({ numGenerations: Math.round(v) })} hint="G answers sampled for each prompt; each is scored against the others of its group (TRL's num_generations). At least 2." />
        <NumberField label="Longest completion (tokens)" value={g.maxNewTokens} min={1} max={4096} onChange={(v) => v >= 1 && set({ maxNewTokens: Math.round(v) })} hint="Sampling stops here or at the end-of-sequence token; prompt and completion must fit the sequence length." />
        <NumberField label="Sampling temperature" value={g.temperature} min={0.05} max={2} step={0.05} onChange={(v) => v > 0 && set({ temperature: v })} hint="1 samples the policy’s own distribution (TRL’s default); lower is more alike within a group, and alike answers teach nothing." />
        <NumberField label="Clip range (epsilon)" value={g.epsilon} min={0.01} max={1} step={0.05} onChange={(v) => v > 0 && set({ epsilon: v })} hint="How far one step may move a token’s probability ratio (TRL’s default 0.2)." />
        <NumberField label="KL weight (beta)" value={g.beta} min={0} max={1} step={0.01} onChange={(v) => v >= 0 && set({ beta: v })} hint="Penalty for drifting from the base (the adapter switched off); 0 turns it off." />
        <NumberField label="Time limit per reward call (ms)" value={g.rewardTimeoutMs} min={10} max={600000} step={100} onChange={(v) => v >= 10 && set({ rewardTimeoutMs: Math.round(v) })} hint="A call of your function that takes longer stops the step." />
      </div>
    </fieldset>
  );
}
