// The optional Hugging Face access token, kept in this browser only (its own IndexedDB store, never
// in share links, settings exports or the page URL) and removable. The worker reads it when it
// downloads; hub-auth.ts decides which requests may carry it.
import { del, get, set } from 'idb-keyval';
import { HUB_TOKEN_KEY, storeFor } from './keys';

export async function readHubToken(): Promise<string | null> {
  if (typeof indexedDB === 'undefined') return null;
  const v = await get<unknown>(HUB_TOKEN_KEY, storeFor('hubToken')).catch(() => undefined);
  return typeof v === 'string' && v !== '' ? v : null;
}

export async function saveHubToken(token: string): Promise<void> {
  await set(HUB_TOKEN_KEY, token, storeFor('hubToken'));
}

export async function removeHubToken(): Promise<void> {
  await del(HUB_TOKEN_KEY, storeFor('hubToken'));
}
