// Evaluate slice: the preflight acknowledgement, the Evaluate view's figures (base vs tuned, for the
// adapter they were measured on), the adapter-strength slider's regenerated column, and the past
// runs picked for the comparison chart (their curves read from IndexedDB).
import type { EvalOptions } from '../eval/evaluate';
import { DEFAULT_EVAL_OPTIONS } from '../eval/evaluate';
import { loadCheckpoint } from '../storage/checkpoints';
import { requireClient, toUiError, type EvalSlice, type Slice } from './types';


/** The general-text sample shipped with the app (public/eval/general-text.txt), fetched once. */
let generalText: Promise<string | undefined> | null = null;
function loadGeneralText(): Promise<string | undefined> {
  generalText ??= fetch(`${import.meta.env.BASE_URL}eval/general-text.txt`).then((r) => (r.ok ? r.text() : undefined)).catch(() => undefined);
  return generalText;
}

export const createEvalSlice: Slice<EvalSlice> = (set, get) => {
  const options = async (strength: number): Promise<EvalOptions> => {
    const { train, evalPrompts, evalMaxNewTokens } = get();
    // The run's own T and B: the held-out loss is then the one the training chart showed.
    return { ...DEFAULT_EVAL_OPTIONS, seqLen: train.seqLen, batchSize: train.batchSize, prompts: evalPrompts, maxNewTokens: evalMaxNewTokens, generalText: await loadGeneralText(), strength };
  };
  return {
    preflightAck: null,
    evaluation: null,
    evaluatedAdapter: null,
    evalBusy: false,
    evalProgress: null,
    evalError: null,
    evalPrompts: DEFAULT_EVAL_OPTIONS.prompts,
    evalMaxNewTokens: DEFAULT_EVAL_OPTIONS.maxNewTokens,
    strength: 1,
    strengthRows: null,
    comparedRuns: [],

    acknowledgePreflight: (key) => set({ preflightAck: key }),
    setEvalOptions: (p) => set({ ...p }),

    async runEvaluation() {
      const adapter = get().adapter;
      set({ evalBusy: true, evalError: null, evalProgress: null });
      try {
        const r = await requireClient(get).evaluate(await options(1), (p) => {
          if (p.task === 'evaluate') set({ evalProgress: p });
        });
        set({ evaluation: r.summary, evaluatedAdapter: adapter, strength: 1, strengthRows: null });
      } catch (e) {
        set({ evalError: toUiError('Evaluation failed', e) });
      } finally {
        set({ evalBusy: false, evalProgress: null });
      }
    },

    async setStrength(s) {
      // The worker takes one request at a time: a move while regenerating is picked up when it ends.
      const wasBusy = get().evalBusy;
      set({ strength: s, evalError: null });
      if (wasBusy) return;
      set({ evalBusy: true });
      try {
        for (;;) {
          const want = get().strength;
          const r = await requireClient(get).evalGenerations(await options(want));
          if (get().strength === want) {
            set({ strengthRows: r.rows });
            break;
          }
        }
      } catch (e) {
        set({ evalError: toUiError('Could not regenerate at this strength', e) });
      } finally {
        set({ evalBusy: false });
      }
    },

    async toggleComparedRun(runId, on) {
      const rest = get().comparedRuns.filter((r) => r.runId !== runId);
      if (!on) return set({ comparedRuns: rest });
      set({ comparedRuns: [...rest, { runId, history: null }] });
      try {
        const c = await loadCheckpoint(runId);
        set({ comparedRuns: get().comparedRuns.map((r) => (r.runId === runId ? { runId, history: c.history } : r)) });
      } catch (e) {
        set({ comparedRuns: get().comparedRuns.filter((r) => r.runId !== runId), evalError: toUiError('Could not read this run’s curves', e) });
      }
    },
  };
};
