// The Hugging Face access token's rules, as pure functions: it is sent only to huggingface.co (and
// its subdomains) over https, as "Authorization: Bearer <token>", never to any other host a base URL
// names; and a 401/403 from a gated repo becomes a message saying how to get access.

/** Whether `url` is a Hugging Face host that may receive the token. */
export function isHubHost(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const host = u.hostname.toLowerCase();
  return u.protocol === 'https:' && (host === 'huggingface.co' || host.endsWith('.huggingface.co'));
}

/** Tokens are "hf_" + letters and digits; anything else pasted by mistake is refused before it is stored. */
export function checkHubToken(raw: string): { token: string } | { error: string } {
  const token = raw.trim();
  if (!/^hf_[A-Za-z0-9]{20,}$/.test(token)) {
    return { error: 'That does not look like a Hugging Face access token: tokens start with "hf_" followed by letters and digits (create one at https://huggingface.co/settings/tokens).' };
  }
  return { token };
}

/** Headers for one request: the token when it may go to this URL, nothing otherwise. */
export function hubAuthHeaders(url: string, token: string | null | undefined): Record<string, string> {
  return token && isHubHost(url) ? { Authorization: `Bearer ${token}` } : {};
}

/** The hub repo id of a resolve URL (https://huggingface.co/<owner>/<name>/resolve/...), or null. */
export function hubRepoOf(url: string): string | null {
  if (!isHubHost(url)) return null;
  const m = /^\/([^/]+\/[^/]+)\/resolve\//.exec(new URL(url).pathname);
  return m ? m[1] : null;
}

/** What to tell someone whose download got a 401 or 403. */
export function accessDeniedHint(url: string, status: number, hadToken: boolean): string {
  const repo = hubRepoOf(url);
  if (!repo) return ' The server refused access; only models it serves publicly can be loaded from it.';
  const page = `https://huggingface.co/${repo}`;
  if (hadToken) {
    return ` ${repo} refused your access token (HTTP ${status}). If the repository is gated, accept its licence on ${page} while logged in with the account the token belongs to; also check that the token is valid and may read this repository.`;
  }
  return ` ${repo} is gated or private. Accept its licence on ${page} (logged in to Hugging Face), then paste an access token (https://huggingface.co/settings/tokens, "read" is enough) in "Hugging Face access token" in the Model step and load again.`;
}
