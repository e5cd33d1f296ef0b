// A user's GRPO reward module (an ES module whose default export is ({ prompt, completion, row }) => number,
// or a promise of one), run in a worker thread so a call that hangs can be cut off: each call has a time
// limit, and a timeout ends the worker. A throw, a non-number or a timeout becomes a RewardError naming
// the data line; the trainer then stops before the step changes any weight.
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RewardError, checkedReward, type RewardInput, type RewardScorer } from '../src/train/objectives/reward';

// Plain JavaScript (the worker runs it without the TypeScript loader).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ready = import(workerData.url).then((m) => {
  if (typeof m.default !== 'function') throw new Error('the module has no default export function');
  return m.default;
});
// Loaded (or failed to load): the calls' time limits start only after this.
ready.then(() => parentPort.postMessage({ ready: true }), () => parentPort.postMessage({ ready: true }));
parentPort.on('message', async ({ id, input }) => {
  try {
    const fn = await ready;
    const value = await fn(input);
    parentPort.postMessage({ id, value: typeof value === 'number' ? value : { notNumber: JSON.stringify(value) ?? typeof value } });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.name + ': ' + e.message : JSON.stringify(e) });
  }
});
`;

/** How long a module may take to load (its thread start and imports), apart from each call's limit. */
const MODULE_LOAD_LIMIT_MS = 10_000;

type Reply = { id: number; value?: number | { notNumber: string }; error?: string };

export class ModuleRewardScorer implements RewardScorer {
  readonly name: string;
  private worker: Worker | null = null;
  private nextId = 0;

  constructor(
    private readonly file: string,
    private readonly timeoutMs: number,
  ) {
    this.name = path.basename(file);
  }

  private starting: Promise<Worker> | null = null;

  /** The worker, once its thread runs and the module is imported: loading is not part of a call's time limit. */
  private start(line: number): Promise<Worker> {
    if (this.worker && this.starting) return this.starting;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url: pathToFileURL(path.resolve(this.file)).href } });
    worker.unref();
    this.worker = worker;
    this.starting = new Promise<Worker>((resolve, reject) => {
      const loadLimitMs = Math.max(MODULE_LOAD_LIMIT_MS, this.timeoutMs);
      const timer = setTimeout(() => {
        void this.close();
        reject(new RewardError(line, 'timeout', `the reward module did not load within ${loadLimitMs} ms`));
      }, loadLimitMs);
      worker.once('message', () => {
        clearTimeout(timer);
        resolve(worker);
      });
      worker.once('error', (e: Error) => {
        clearTimeout(timer);
        this.worker = null;
        this.starting = null;
        reject(new RewardError(line, 'threw', `${e.name}: ${e.message}`));
      });
    });
    return this.starting;
  }

  private async call(input: RewardInput, line: number): Promise<number> {
    const worker = await this.start(line);
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const timer = setTimeout(() => {
        done();
        void this.close(); // a hung call keeps its thread busy: end it; the next call starts a fresh one
        reject(new RewardError(line, 'timeout', `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const onMessage = (r: Reply) => {
        if (r.id !== id) return;
        done();
        if (r.error !== undefined) reject(new RewardError(line, 'threw', r.error));
        else if (typeof r.value === 'object') reject(new RewardError(line, 'not-a-number', `expected a finite number, got ${r.value.notNumber}`));
        else {
          try {
            resolve(checkedReward(r.value, line));
          } catch (e) {
            reject(e);
          }
        }
      };
      const onError = (e: Error) => {
        done();
        this.worker = null;
        this.starting = null;
        reject(new RewardError(line, 'threw', `${e.name}: ${e.message}`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ id, input });
    });
  }

  async score(inputs: RewardInput[], lines: number[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < inputs.length; i++) out.push(await this.call(inputs[i], lines[i]));
    return out;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.starting = null;
    if (w) await w.terminate();
  }
}
