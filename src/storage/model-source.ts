// What a person types as a model (a hub repo id, a hub page URL, or any http(s) base URL) becomes the
// model's stored identity and the base URL its files are fetched from, or a clear refusal.

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

const HUB = 'https://huggingface.co';
const REPO_ID = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;

/**
 * "owner/name" (optionally "@revision") means a Hugging Face hub repo; an http(s) URL is a base URL
 * whose files are `<base>/config.json` etc. `source` is the model's stored identity.
 */
export function resolveModelSource(input: string): { source: string; baseUrl: string } {
  const s = input.trim().replace(/\/+$/, '');
  if (!s) throw new ModelSourceError('Enter a Hugging Face model id (like HuggingFaceTB/SmolLM2-135M) or an http(s) base URL.');
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new ModelSourceError(`"${s}" is not a valid URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ModelSourceError(`"${s}" is not an http(s) URL: enter a base URL starting with http:// or https://, or a Hugging Face model id.`);
    }
    if (url.search || url.hash) throw new ModelSourceError(`"${s}": a base URL cannot have a query (?) or fragment (#); files are fetched as <base>/config.json.`);
    if (url.origin === HUB) {
      // A model page (huggingface.co/owner/name or .../tree/<revision>) means that repo.
      const parts = url.pathname.split('/').filter(Boolean);
      if (parts.length === 2) return hubSource(`${parts[0]}/${parts[1]}`, 'main');
      if (parts.length >= 4 && parts[2] === 'tree') return hubSource(`${parts[0]}/${parts[1]}`, parts.slice(3).join('/'));
    }
    const base = url.href.replace(/\/+$/, '');
    return { source: base, baseUrl: base };
  }
  const m = REPO_ID.exec(s);
  if (!m || s.includes('..') || s.includes('--')) {
    throw new ModelSourceError(`"${s}" is neither a Hugging Face model id (owner/name, like HuggingFaceTB/SmolLM2-135M) nor an http(s) base URL.`);
  }
  return hubSource(m[1], m[2] ?? 'main');
}

function hubSource(repo: string, revision: string): { source: string; baseUrl: string } {
  return {
    source: revision === 'main' ? repo : `${repo}@${revision}`,
    baseUrl: `${HUB}/${repo}/resolve/${encodeURIComponent(revision)}`,
  };
}

/** The stored identity of an input, or the input itself when it cannot be one (it then matches nothing). */
export function storedIdentity(input: string): string {
  try {
    return resolveModelSource(input).source;
  } catch (e) {
    if (e instanceof ModelSourceError) return input;
    throw e;
  }
}
