// The page's GRPO reward written by the user, run apart from the studio: a module Web Worker started
// from a data: URL, so it has an opaque origin (no IndexedDB, Cache Storage or storage of this
// origin: the studio's models, datasets, runs and feedback are out of its reach), with the network
// and storage APIs removed from its global scope before the user's module is imported. Each call has
// a time limit; a timeout ends the worker (a fresh one starts for the next run). A throw, a
// non-number or a timeout becomes a RewardError naming the data line; the trainer then stops before
// the step changes any weight. The CLI's counterpart is cli/reward-module.ts (a worker thread).
import { RewardError, checkedReward, type RewardInput, type RewardScorer } from '../train/objectives/reward';

/** How long the module may take to load (its worker start and import), apart from each call's limit. */
const MODULE_LOAD_LIMIT_MS = 10_000;

// Plain JavaScript, run as the worker's own module. The user's module is imported only after the
// globals are gone; `post` is kept privately for the replies.
const SANDBOX_SOURCE = `
const post = self.postMessage.bind(self);
const GONE = ['indexedDB', 'caches', 'fetch', 'XMLHttpRequest', 'WebSocket', 'WebTransport', 'EventSource', 'BroadcastChannel',
  'Worker', 'SharedWorker', 'importScripts', 'FileSystemHandle', 'FileSystemDirectoryHandle', 'FileSystemFileHandle', 'StorageManager'];
for (const name of GONE) {
  for (let o = self; o; o = Object.getPrototypeOf(o)) {
    try { delete o[name]; } catch {}
  }
}
for (let o = self.navigator; o; o = Object.getPrototypeOf(o)) {
  for (const name of ['storage', 'locks', 'serviceWorker']) { try { delete o[name]; } catch {} }
}
let fn = null;
self.onmessage = async (e) => {
  const m = e.data;
  if (m.load !== undefined) {
    try {
      const mod = await import(m.load);
      if (typeof mod.default !== 'function') throw new Error('the module has no default export function (export default ({ prompt, completion, row }) => number)');
      fn = mod.default;
      post({ loaded: true });
    } catch (err) {
      post({ loadError: err instanceof Error ? err.name + ': ' + err.message : String(err) });
    }
    return;
  }
  try {
    const value = await fn(m.input);
    post({ id: m.id, value: typeof value === 'number' ? value : { notNumber: JSON.stringify(value) ?? typeof value } });
  } catch (err) {
    post({ id: m.id, error: err instanceof Error ? err.name + ': ' + err.message : JSON.stringify(err) ?? String(err) });
  }
};
`;

type Reply = { loaded?: true; loadError?: string; id?: number; value?: number | { notNumber: string }; error?: string };

/** A data: URL for JavaScript source (opaque origin when a worker starts from it). */
function jsDataUrl(source: string): string {
  return `data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`;
}

export class SandboxRewardScorer implements RewardScorer {
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private nextId = 0;

  constructor(
    readonly name: string,
    private readonly code: string,
    private readonly timeoutMs: number,
  ) {}

  /** The worker once the user's module has loaded: loading is not part of a call's time limit. */
  private start(line: number): Promise<Worker> {
    if (this.starting) return this.starting;
    const worker = new Worker(jsDataUrl(SANDBOX_SOURCE), { type: 'module', name: 'reward' });
    this.worker = worker;
    this.starting = new Promise<Worker>((resolve, reject) => {
      const loadLimitMs = Math.max(MODULE_LOAD_LIMIT_MS, this.timeoutMs);
      const fail = (e: RewardError) => {
        clearTimeout(timer);
        this.close();
        reject(e);
      };
      const timer = setTimeout(() => fail(new RewardError(line, 'timeout', `the reward module did not load within ${loadLimitMs} ms`)), loadLimitMs);
      worker.onmessage = (e: MessageEvent<Reply>) => {
        if (e.data.loadError !== undefined) return fail(new RewardError(line, 'threw', `the reward module did not load: ${e.data.loadError}`));
        clearTimeout(timer);
        resolve(worker);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        fail(new RewardError(line, 'threw', `the reward worker failed: ${e.message || 'a syntax error or a blocked import'}`));
      };
      worker.postMessage({ load: jsDataUrl(this.code) });
    });
    return this.starting;
  }

  private async call(input: RewardInput, line: number): Promise<number> {
    const worker = await this.start(line);
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(); // a call that never returns: only ending the worker stops it
        reject(new RewardError(line, 'timeout', `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      worker.onmessage = (e: MessageEvent<Reply>) => {
        const r = e.data;
        if (r.id !== id) return;
        clearTimeout(timer);
        if (r.error !== undefined) reject(new RewardError(line, 'threw', r.error));
        else if (typeof r.value === 'number') {
          try {
            resolve(checkedReward(r.value, line));
          } catch (err) {
            reject(err as Error);
          }
        } else reject(new RewardError(line, 'not-a-number', `expected a finite number, got ${r.value?.notNumber ?? 'nothing'}`));
      };
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(timer);
        this.close();
        reject(new RewardError(line, 'threw', e.message || 'the reward worker failed'));
      };
      worker.postMessage({ id, input });
    });
  }

  /** One call at a time, in order: a user's function need not be re-entrant. */
  async score(inputs: RewardInput[], lines: number[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < inputs.length; i++) out.push(await this.call(inputs[i], lines[i]));
    return out;
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
    this.starting = null;
  }
}
