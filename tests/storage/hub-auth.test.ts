// The Hugging Face token's rules: it goes only to huggingface.co hosts over https as a Bearer header
// (a base URL elsewhere never sees it), a 401/403 says to accept the licence and paste a token,
// and the token is kept in its own store, removable.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { accessDeniedHint, checkHubToken, hubAuthHeaders, isHubHost } from '../../src/storage/hub-auth';
import { readHubToken, removeHubToken, saveHubToken } from '../../src/storage/hub-token';
import { downloadModel, ModelDownloadError } from '../../src/storage/model-store';

const TOKEN = 'hf_abcdefghijklmnopqrstuvwxyz0123';

describe('which requests carry the token', () => {
  it.each([
    { url: 'https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct/resolve/main/config.json', sent: true },
    { url: 'https://cdn-lfs.huggingface.co/repos/ab/cd/file', sent: true },
    { url: 'https://HuggingFace.co/google/gemma-3-270m-it/resolve/main/model.safetensors', sent: true },
    { url: 'http://huggingface.co/google/gemma-3-270m-it/resolve/main/config.json', sent: false }, // not https
    { url: 'https://huggingface.co.evil.example/x/y/resolve/main/config.json', sent: false },
    { url: 'https://evilhuggingface.co/x/y/resolve/main/config.json', sent: false },
    { url: 'https://models.example.com/tiny-qwen3/config.json', sent: false },
    { url: 'http://127.0.0.1:8080/tiny-gemma3/config.json', sent: false },
    { url: 'not a url', sent: false },
  ])('$url -> $sent', ({ url, sent }) => {
    expect(isHubHost(url)).toBe(sent);
    expect(hubAuthHeaders(url, TOKEN)).toEqual(sent ? { Authorization: `Bearer ${TOKEN}` } : {});
    expect(hubAuthHeaders(url, null)).toEqual({});
  });

  it('refuses text that is not a token, before it is stored', () => {
    expect(checkHubToken(`  ${TOKEN}\n`)).toEqual({ token: TOKEN });
    expect(checkHubToken('Bearer hf_x')).toHaveProperty('error', expect.stringMatching(/start with "hf_"/));
  });
});

describe('gated repositories', () => {
  it('without a token: accept the licence on the model page, then paste a token', () => {
    const hint = accessDeniedHint('https://huggingface.co/google/gemma-3-270m-it/resolve/main/config.json', 401, false);
    expect(hint).toMatch(/google\/gemma-3-270m-it is gated or private/);
    expect(hint).toMatch(/Accept its licence on https:\/\/huggingface.co\/google\/gemma-3-270m-it/);
    expect(hint).toMatch(/paste an access token/);
  });
  it('with a token that is refused: which account must accept the licence', () => {
    expect(accessDeniedHint('https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct/resolve/main/config.json', 403, true)).toMatch(/refused your access token \(HTTP 403\).*account the token belongs to/);
  });

  it('a download sends the token to the hub only, and a 401 names the way in', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      seen.push({ url, auth: new Headers(init?.headers).get('authorization') });
      return new Response('Access to model google/gemma-3-270m-it is restricted.', { status: 401, statusText: 'Unauthorized' });
    }) as typeof fetch;
    const err = await downloadModel('google/gemma-3-270m-it', { fetchImpl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect((err as Error).message).toMatch(/HTTP 401.*gated or private\. Accept its licence on https:\/\/huggingface.co\/google\/gemma-3-270m-it/);
    expect(seen[0]).toEqual({ url: 'https://huggingface.co/google/gemma-3-270m-it/resolve/main/config.json', auth: null });

    await downloadModel('google/gemma-3-270m-it', { fetchImpl, hubToken: TOKEN }).catch(() => undefined);
    expect(seen.at(-1)!.auth).toBe(`Bearer ${TOKEN}`);
    await downloadModel('https://models.example.com/tiny-gemma3', { fetchImpl, hubToken: TOKEN }).catch(() => undefined);
    expect(seen.at(-1)).toEqual({ url: 'https://models.example.com/tiny-gemma3/config.json', auth: null });
  });
});

describe('the stored token', () => {
  it('is saved in this browser, read back, and removable', async () => {
    expect(await readHubToken()).toBeNull();
    await saveHubToken(TOKEN);
    expect(await readHubToken()).toBe(TOKEN);
    await removeHubToken();
    expect(await readHubToken()).toBeNull();
  });
});
