// One line under the backend badge: how many CPU threads train on wasm, and why not more (the
// threaded build needs a cross-origin isolated page).
import type { BackendInfo } from '../worker/protocol';

export function ThreadsNote({ backend }: { backend: BackendInfo }) {
  if (backend.backend !== 'wasm' || backend.threads == null) return null;
  const n = backend.threads;
  const why = backend.crossOriginIsolated
    ? n === 1 ? ' (this device reports a single CPU core)' : ''
    : ' (the page is not cross-origin isolated, so WebAssembly threads are off)';
  return (
    <p className="muted" data-testid="train-threads">
      Trains on {n} CPU thread{n === 1 ? '' : 's'}{why}.
    </p>
  );
}
