// Small shared pieces: an error box that says what went wrong, and a labelled progress bar.
import type { UiError } from '../store/types';

export function ErrorBox({ error }: { error: UiError | null }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <strong>{error.title}</strong>
      <p>{error.message}</p>
    </div>
  );
}

export function Progress({ label, value, max, detail }: { label: string; value: number; max: number | null; detail: string }) {
  return (
    <div className="progress">
      <div className="progress-label">
        <span>{label}</span>
        <span>{detail}</span>
      </div>
      <progress aria-label={label} value={max ? value : undefined} max={max ?? undefined} />
    </div>
  );
}
