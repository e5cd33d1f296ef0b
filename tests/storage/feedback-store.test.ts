// Ratings in IndexedDB (fake-indexeddb): saved, listed in the order given, replaced by an edit, deleted.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { deleteFeedback, listFeedback, saveFeedback } from '../../src/storage/feedback-store';
import type { FeedbackRecord } from '../../src/data/feedback';

const record = (id: string, createdAtMs: number): Extract<FeedbackRecord, { kind: 'single' }> => ({
  id, kind: 'single', prompt: `p${id}`, chat: false, modelSource: 'org/model', adapter: null, createdAtMs,
  answer: { text: ' a', from: 'base', temperature: 0.8, seed: 1 }, verdict: 'up', correction: '',
});

describe('feedback store', () => {
  it('lists ratings oldest first, an edit replaces its record, a delete removes only it', async () => {
    await saveFeedback(record('2', 20));
    await saveFeedback(record('1', 10));
    await saveFeedback(record('3', 30));
    expect((await listFeedback()).map((r) => r.id)).toEqual(['1', '2', '3']);
    await saveFeedback({ ...record('2', 20), verdict: 'down', correction: ' better' });
    const after = await listFeedback();
    expect(after).toHaveLength(3);
    expect(after[1]).toMatchObject({ id: '2', verdict: 'down', correction: ' better' });
    await deleteFeedback('2');
    expect((await listFeedback()).map((r) => r.id)).toEqual(['1', '3']);
  });
});
