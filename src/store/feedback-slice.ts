// Feedback slice: two answers compared side by side, thumbs on single answers, the stored ratings
// (IndexedDB), their downloads in TRL's formats, and "train on this feedback" (the pairs become the
// dataset through the same path a dropped file takes, and the objective becomes DPO).
import { continuable } from './train-slice';
import { answerOnly, FEEDBACK_PAIRS_FILE, FEEDBACK_UNPAIRED_FILE, MIN_TRAINING_PAIRS, toJsonl, toPreferencePairs, toUnpairedRows, type FeedbackRecord, type RatedAnswer } from '../data/feedback';
import { deleteFeedback, listFeedback, saveFeedback } from '../storage/feedback-store';
import { downloadBlob } from '../ui/download';
import type { AdapterSummary } from '../worker/protocol';
import { requireClient, toUiError, type AnswerContext, type AppState, type Comparison, type FeedbackSlice, type Slice } from './types';

/** Sampling temperature of compared answers: varied enough that two seeds differ, still on topic. */
export const DEFAULT_COMPARE_TEMPERATURE = 0.8;

/** A short, stable description of the adapter an answer came from. */
export function describeAdapter(adapter: AdapterSummary | null, runId: string | null): string | null {
  if (!adapter) return null;
  const kind = adapter.full
    ? 'full fine-tuning'
    : adapter.soft
      ? `${adapter.soft.kind} (${adapter.soft.numVirtualTokens} virtual tokens)`
      : `LoRA r${adapter.spec.r} on ${adapter.spec.targetModules.join(', ')}`;
  return `${kind}, ${adapter.origin === 'shared' ? 'opened from a share link' : runId ? `trained (run ${runId})` : 'trained'}`;
}

function context(get: () => AppState, prompt: string): AnswerContext {
  const { model, chatPrompt, adapter, currentRunId } = get();
  return { prompt, chat: chatPrompt && model?.hasChatTemplate === true, modelSource: model?.source ?? '', adapter: describeAdapter(adapter, currentRunId) };
}

const newId = () => crypto.randomUUID();

export const createFeedbackSlice: Slice<FeedbackSlice> = (set, get) => {
  /** Saves a record and shows it in the list at once (the list is sorted oldest first). */
  async function store(r: FeedbackRecord): Promise<boolean> {
    try {
      await saveFeedback(r);
      const rest = get().feedback.filter((x) => x.id !== r.id);
      set({ feedback: [...rest, r].sort((x, y) => x.createdAtMs - y.createdAtMs), feedbackError: null });
      return true;
    } catch (e) {
      set({ feedbackError: toUiError('Could not store the rating', e) });
      return false;
    }
  }

  return {
    feedback: [],
    feedbackError: null,
    feedbackNote: null,
    compareMode: 'samples',
    compareTemperature: DEFAULT_COMPARE_TEMPERATURE,
    compareSeed: 1,
    comparePrompt: null,
    comparison: null,
    lastGenerate: null,

    setCompareOptions: (p) => set({ ...p }),
    setComparePrompt: (v) => set({ comparePrompt: v }),

    noteGenerate() {
      const { prompt, temperature } = get();
      // The Use step's Generate always uses seed 1 (src/store/use-slice.ts).
      set({ lastGenerate: { ...context(get, prompt), temperature, seed: 1 } });
    },

    async compareAnswers() {
      const { compareMode: mode, compareTemperature: temperature, compareSeed, comparePrompt, prompt, maxNewTokens, adapter } = get();
      const client = requireClient(get);
      const ctx = context(get, comparePrompt ?? prompt);
      const tuned = mode === 'base-vs-tuned' || adapter !== null;
      // Two samples take two seeds; base vs tuned shares one, so only the adapter differs.
      const seedB = mode === 'samples' ? compareSeed + 1 : compareSeed;
      const a: RatedAnswer = { text: '', from: mode === 'base-vs-tuned' ? 'base' : tuned ? 'tuned' : 'base', temperature, seed: compareSeed };
      const b: RatedAnswer = { text: '', from: tuned ? 'tuned' : 'base', temperature, seed: seedB };
      if (mode === 'base-vs-tuned' && !adapter) {
        set({ feedbackError: { title: 'No adapter to compare with', message: 'Train an adapter (or open a share link) first, or compare two samples of the model.' } });
        return;
      }
      const comparison: Comparison = { ...ctx, mode, a, b, running: true, recordId: null };
      set({ comparison, compareSeed: seedB + 1, feedbackError: null });
      const update = (side: 'a' | 'b', text: string) => {
        const c = get().comparison;
        if (c) set({ comparison: { ...c, [side]: { ...c[side], text: answerOnly(ctx.prompt, text, ctx.chat) } } });
      };
      try {
        // Both answers decoded side by side, each with its own seed and column.
        const sides = ['a', 'b'] as const;
        const rows = sides.map((side) => ({ useAdapter: comparison[side].from === 'tuned', seed: comparison[side].seed }));
        const r = await client.generateRows(ctx.prompt, { maxNewTokens, temperature, rows, chat: ctx.chat }, (row, _id, text) => update(sides[row], text));
        r.rows.forEach((answer, row) => update(sides[row], answer.text));
      } catch (e) {
        set({ feedbackError: toUiError('Could not generate the answers', e) });
      } finally {
        const c = get().comparison;
        if (c) set({ comparison: { ...c, running: false } });
      }
    },

    async rateComparison(verdict) {
      const c = get().comparison;
      if (!c || c.running) return;
      if (c.recordId) return get().editFeedback(c.recordId, { verdict });
      const id = newId();
      const { prompt, chat, modelSource, adapter, a, b } = c;
      if (await store({ id, kind: 'pair', prompt, chat, modelSource, adapter, a, b, verdict, createdAtMs: Date.now() })) set({ comparison: { ...c, recordId: id } });
    },

    async rateAnswer(ctx, answer, verdict) {
      const id = newId();
      const { prompt, chat, modelSource, adapter } = ctx; // a Comparison carries more than the context
      return (await store({ id, kind: 'single', prompt, chat, modelSource, adapter, answer, verdict, correction: '', createdAtMs: Date.now() })) ? id : null;
    },

    async editFeedback(id, p) {
      const r = get().feedback.find((x) => x.id === id);
      if (!r) return;
      const next: FeedbackRecord =
        r.kind === 'pair'
          ? { ...r, ...(p.verdict === 'a' || p.verdict === 'b' || p.verdict === 'tie' || p.verdict === 'both-bad' ? { verdict: p.verdict } : {}) }
          : { ...r, ...(p.verdict === 'up' || p.verdict === 'down' ? { verdict: p.verdict } : {}), ...(p.correction !== undefined ? { correction: p.correction } : {}) };
      await store(next);
    },

    async removeFeedback(id) {
      try {
        await deleteFeedback(id);
        const c = get().comparison;
        set({ feedback: get().feedback.filter((x) => x.id !== id), ...(c?.recordId === id ? { comparison: { ...c, recordId: null } } : {}) });
      } catch (e) {
        set({ feedbackError: toUiError('Could not delete the rating', e) });
      }
    },

    async refreshFeedback() {
      try {
        set({ feedback: await listFeedback() });
      } catch (e) {
        set({ feedbackError: toUiError('Could not read the stored feedback', e) });
      }
    },

    downloadFeedback(kind) {
      const { feedback } = get();
      const [rows, name] = kind === 'pairs' ? [toPreferencePairs(feedback), FEEDBACK_PAIRS_FILE] : [toUnpairedRows(feedback), FEEDBACK_UNPAIRED_FILE];
      downloadBlob(new Blob([toJsonl(rows)], { type: 'application/jsonl' }), name);
    },

    async trainOnFeedback(objective: 'dpo' | 'kto' = 'dpo') {
      const feedback = get().feedback;
      const [rows, file] = objective === 'dpo' ? [toPreferencePairs(feedback), FEEDBACK_PAIRS_FILE] : [toUnpairedRows(feedback), FEEDBACK_UNPAIRED_FILE];
      if (rows.length < MIN_TRAINING_PAIRS) {
        const short = MIN_TRAINING_PAIRS - rows.length;
        set({
          feedbackNote:
            objective === 'dpo'
              ? `DPO needs at least ${MIN_TRAINING_PAIRS} preference pairs; your feedback makes ${rows.length}. Pick A or B in ${short} more comparison${short === 1 ? '' : 's'}, or give a thumbs-down answer a corrected answer.`
              : `KTO needs at least ${MIN_TRAINING_PAIRS} rated answers; your feedback makes ${rows.length}. Rate ${short} more answer${short === 1 ? '' : 's'} with a thumb, or pick A or B in a comparison.`,
        });
        return false;
      }
      set({ feedbackNote: null });
      // The same path a dropped file takes: the rows are read, validated and split like any dataset.
      await get().loadDataset(new File([toJsonl(rows)], file, { type: 'application/jsonl' }), file);
      if (get().dataset?.fileName !== file) {
        set({ feedbackNote: `The feedback ${objective === 'dpo' ? 'pairs' : 'rows'} could not be read as a dataset: see the Dataset step.` });
        return false;
      }
      get().setTrain({ objective });
      // Feedback is about the current model's answers: continue its adapter when there is one (the Train step can switch).
      if (continuable(get().adapter, get().model?.source)) get().setStartFrom('current');
      return true;
    },
  };
};
