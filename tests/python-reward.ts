// Runs bundles' reward.py in python3 as TRL's GRPOTrainer calls it: reward(prompts=..., completions=...,
// completion_ids=..., **columns), one entry per completion. TRL itself is not installable here; its
// reward function is plain Python, so this is the call that matters. One python3 for many cases.
import { execFile } from 'node:child_process';

export interface RewardCase {
  /** The text of reward.py. */
  source: string;
  completions: string[];
  /** Dataset columns (lists, one entry per completion), as TRL passes them. */
  columns?: Record<string, unknown[]>;
}

const RUN = `import json, sys, traceback
out = []
for case in json.load(sys.stdin):
    ns = {"__name__": "reward"}
    try:
        exec(compile(case["source"], "reward.py", "exec"), ns)
        n = len(case["completions"])
        out.append({"rewards": ns["reward"](prompts=["Q"] * n, completions=case["completions"], completion_ids=[[] for _ in range(n)], **case["columns"])})
    except Exception as e:
        out.append({"error": traceback.format_exception_only(type(e), e)[-1].strip()})
print(json.dumps(out))
`;

/** Each case's list of floats, or the last line of its exception. */
export function pythonRewards(cases: RewardCase[]): Promise<{ rewards?: number[]; error?: string }[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('python3', ['-c', RUN], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 failed: ${stderr}`));
      else resolve(JSON.parse(stdout) as { rewards?: number[]; error?: string }[]);
    });
    child.stdin!.end(JSON.stringify(cases.map((c) => ({ ...c, columns: c.columns ?? {} }))));
  });
}
