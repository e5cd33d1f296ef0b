// Preflight for the objectives beyond supervised tuning: KTO's labels and class weights, GRPO's room
// for completions and a reward that cannot tell completions apart. Pure functions, findings shaped
// like src/data/preflight.ts's, so the CLI and the page show them the same way.
import { MAX_LINES, type PreflightFinding } from './preflight';

/** KTO: TRL asks that desirable_weight x #desirable : undesirable_weight x #undesirable lie in [1, 4/3]. */
export const KTO_WEIGHT_RATIO = [1, 4 / 3] as const;

/** KTO rows: every example carries a boolean label; one label only, or class weights out of TRL's range. */
export function labelFindings(rows: { line?: number; label?: boolean }[], w: { desirableWeight: number; undesirableWeight: number }): PreflightFinding[] {
  const good = rows.filter((r) => r.label === true).length;
  const bad = rows.filter((r) => r.label === false).length;
  if (good + bad === 0) return [];
  const lines = rows.slice(0, MAX_LINES).map((r) => r.line ?? 0);
  if (good === 0 || bad === 0) {
    const only = good ? 'desirable (true)' : 'undesirable (false)';
    return [{
      id: 'one-label-only', severity: 'serious', count: good + bad, lines,
      message: `Every one of the ${good + bad} rows is labelled ${only}: KTO learns from the contrast between good and bad answers, and its KL baseline then pulls every answer the same way.`,
      fix: 'Add rows with the other label (or check the "label" field is read as true/false), or train these answers with the supervised objective.',
    }];
  }
  const ratio = (w.desirableWeight * good) / (w.undesirableWeight * bad);
  if (ratio >= KTO_WEIGHT_RATIO[0] && ratio <= KTO_WEIGHT_RATIO[1]) return [];
  const lo = ((w.undesirableWeight * bad) / good) * KTO_WEIGHT_RATIO[0];
  const hi = ((w.undesirableWeight * bad) / good) * KTO_WEIGHT_RATIO[1];
  return [{
    id: 'kto-weights-unbalanced', severity: 'warning', count: 0, lines: [],
    message: `${good} desirable and ${bad} undesirable rows with weights ${w.desirableWeight} and ${w.undesirableWeight}: the weighted ratio ${ratio.toFixed(2)} is outside TRL's advised 1 to 1.33, so one side dominates the loss.`,
    fix: `Set --desirable-weight between ${lo.toFixed(2)} and ${hi.toFixed(2)} (or the undesirable weight accordingly).`,
  }];
}

/** GRPO prompts: a prompt that fills --max-len leaves no room to sample; one that leaves less than --max-new-tokens cuts samples short. */
export function promptRoomFindings(rows: { line?: number; inputIds: number[] }[], seqLen: number, maxNewTokens: number): PreflightFinding[] {
  // A completion of k tokens needs prompt + k <= seqLen + 1 tokens (the batch holds seqLen predictions).
  const none = rows.filter((r) => r.inputIds.length >= seqLen);
  const short = rows.filter((r) => r.inputIds.length < seqLen && seqLen + 1 - r.inputIds.length < maxNewTokens);
  const out: PreflightFinding[] = [];
  if (none.length > 0) {
    out.push({
      id: 'no-room-for-completion', severity: 'serious', count: none.length, lines: none.slice(0, MAX_LINES).map((r) => r.line ?? 0),
      example: `line ${none[0].line ?? 0}: a ${none[0].inputIds.length}-token prompt`,
      message: `${none.length} of ${rows.length} prompts take the whole ${seqLen}-token sequence: there is no room left to sample a completion.`,
      fix: 'Raise --max-len above the longest prompt plus --max-new-tokens, or shorten these prompts.',
    });
  }
  if (short.length > 0) {
    out.push({
      id: 'no-room-for-completion', severity: 'warning', count: short.length, lines: short.slice(0, MAX_LINES).map((r) => r.line ?? 0),
      example: `line ${short[0].line ?? 0}: room for ${seqLen + 1 - short[0].inputIds.length} of ${maxNewTokens} new tokens`,
      message: `${short.length} of ${rows.length} prompts leave fewer than ${maxNewTokens} tokens for the completion: their samples are cut short.`,
      fix: `Raise --max-len to at least the longest prompt plus ${maxNewTokens}.`,
    });
  }
  return out;
}

/** GRPO's first batch: a reward that gives every completion the same value makes every advantage 0, and nothing is learned. */
export function rewardFindings(rewards: number[], lines: number[]): PreflightFinding[] {
  if (rewards.length < 2 || rewards.some((r) => r !== rewards[0])) return [];
  return [{
    id: 'constant-reward', severity: 'warning', count: rewards.length, lines: [...new Set(lines)].slice(0, MAX_LINES),
    message: `The reward gave all ${rewards.length} completions of the first batch the same value (${rewards[0]}): every advantage is 0, so these steps change nothing.`,
    fix: 'Check the reward function on a few completions, or make it graded (partial credit) so samples of one prompt differ.',
  }];
}
