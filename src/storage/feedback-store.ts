// People's ratings in IndexedDB, one record per rating, apart from any model or run: they survive a
// reload and a model change, and are listed, edited and deleted from the Use step.
import { del, entries, set } from 'idb-keyval';
import { feedbackKey, storeFor } from './keys';
import type { FeedbackRecord } from '../data/feedback';

export async function saveFeedback(r: FeedbackRecord): Promise<void> {
  await set(feedbackKey(r.id), r, storeFor('feedback'));
}

/** Every rating, oldest first (the order they were given in, which the downloads keep). */
export async function listFeedback(): Promise<FeedbackRecord[]> {
  const all = await entries<IDBValidKey, FeedbackRecord>(storeFor('feedback'));
  return all.map(([, r]) => r).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
}

export async function deleteFeedback(id: string): Promise<void> {
  await del(feedbackKey(id), storeFor('feedback'));
}
