// The optional Hugging Face access token of the Model step: saved in this browser only (its own
// IndexedDB store), sent only to huggingface.co, never in share links, and removable.
import { useEffect, useState } from 'react';
import { checkHubToken } from '../storage/hub-auth';
import { readHubToken, removeHubToken, saveHubToken } from '../storage/hub-token';

export function HubTokenField() {
  const [saved, setSaved] = useState<boolean | null>(null);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void readHubToken().then((t) => setSaved(t !== null));
  }, []);
  const save = async () => {
    const r = checkHubToken(draft);
    if ('error' in r) {
      setError(r.error);
      return;
    }
    await saveHubToken(r.token);
    setDraft('');
    setError(null);
    setSaved(true);
  };
  const remove = async () => {
    await removeHubToken();
    setSaved(false);
  };
  return (
    <details>
      <summary>Hugging Face access token (optional){saved ? ' · saved' : ''}</summary>
      <p className="muted">
        Only gated repositories (Llama 3.2, Gemma 3) need one: accept the licence on the model's page, then create a read token at huggingface.co/settings/tokens.
        It is kept in this browser only, sent only to huggingface.co, and never put in share links.
      </p>
      {saved ? (
        <p>
          A token is saved in this browser. <button type="button" onClick={() => void remove()}>Remove token</button>
        </p>
      ) : (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <label className="grow">
            Hugging Face access token
            <input type="password" autoComplete="off" spellCheck={false} value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="hf_…" aria-invalid={error ? true : undefined} />
          </label>
          <button type="submit" disabled={draft.trim() === ''}>Save token</button>
        </form>
      )}
      {error ? <p role="alert" className="error">{error}</p> : null}
    </details>
  );
}
