// The Web Worker's message loop, the only code touching the worker's global scope. It routes each
// request to the Engine, posts replies and events, transfers big buffers, and refuses a second
// long task while one runs (a stop request always gets through).
import { Engine } from './engine';
import { BlobSink, DirectorySink } from './export-sinks';
import { assertNever, type FromWorker, type Request } from './protocol';
import type { EvalReport } from '../train/trainer';
import type { SampleReport } from '../train/training-run';

interface WorkerScope {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const engine = new Engine();
let busy: string | null = null;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

/** A training request's eval, sample and checkpoint events, posted under its id. */
function runEvents(id: number) {
  return {
    onEval: (report: EvalReport) => post({ type: 'train-eval', id, report }),
    onSample: (report: SampleReport) => post({ type: 'train-sample', id, report }),
    onCheckpoint: (step: number) => post({ type: 'train-checkpoint', id, step }),
  };
}

async function handle(req: Request): Promise<void> {
  const id = req.id;
  const progress = (p: Parameters<Parameters<Engine['loadModel']>[1]>[0]) => post({ type: 'progress', id, progress: p });
  switch (req.type) {
    case 'init':
      post({ type: 'ready', id, info: await engine.init(req.force, (message) => post({ type: 'gpu-error', message }), req.wasmHeapLimitBytes ?? null, req.nf4Kernel ?? null) });
      return;
    case 'evaluate':
      post({ type: 'evaluated', id, summary: await engine.evaluate(req.options, progress) });
      return;
    case 'eval-generations':
      post({ type: 'eval-generated', id, rows: await engine.evalGenerations(req.options), strength: req.options.strength ?? 1 });
      return;
    case 'load-model':
      post({ type: 'model-loaded', id, model: await engine.loadModel(req.input, progress, req.precision ?? 'auto') });
      return;
    case 'parse-dataset':
      post({ type: 'dataset-parsed', id, report: await engine.parseDataset(req.file, req.fileName, req.options, req.validationFile, progress) });
      return;
    case 'train': {
      const r = await engine.train(req.settings, req.lora, (report) => post({ type: 'train-step', id, report }), runEvents(id), req.soft ?? null, req.full ?? false, req.fromCurrent ?? false);
      post({ type: 'train-done', id, ...r });
      return;
    }
    case 'resume-run': {
      const r = await engine.resumeRun(req.runId, (report) => post({ type: 'train-step', id, report }), runEvents(id), req.micro);
      post({ type: 'train-done', id, ...r });
      return;
    }
    case 'pause':
      engine.pause();
      post({ type: 'paused', id });
      return;
    case 'stop':
      engine.stop();
      post({ type: 'stopped', id });
      return;
    case 'generate': {
      const r = await engine.generate(req.prompt, req.maxNewTokens, req.temperature, req.seed, req.useAdapter, (tokenId, text) => post({ type: 'token', id, tokenId, text }), req.chat ?? false);
      post({ type: 'generated', id, ...r });
      return;
    }
    case 'generate-rows': {
      const r = await engine.generateRows(req.prompt, req.maxNewTokens, req.temperature, req.rows, (row, tokenId, text) => post({ type: 'row-token', id, row, tokenId, text }), req.chat ?? false);
      post({ type: 'generated-rows', id, ...r });
      return;
    }
    case 'export-adapter': {
      const r = await engine.exportAdapter();
      post({ type: 'adapter-files', id, ...r }, [r.adapterSafetensors.buffer as ArrayBuffer]);
      return;
    }
    case 'export-full-model': {
      const files = await engine.exportFullModel();
      post({ type: 'model-files', id, files }, files.map((f) => f.bytes.buffer as ArrayBuffer));
      return;
    }
    case 'share-link':
      post({ type: 'share-link', id, ...(await engine.shareLink(req.pageUrl)) });
      return;
    case 'open-share':
      post({ type: 'share-opened', id, ...(await engine.openShare(req.fragment, progress)) });
      return;
    case 'export-plan':
      post({ type: 'export-planned', id, files: await engine.planExport(req.choice) });
      return;
    case 'export-model': {
      const sink = req.folder ? new DirectorySink(req.folder) : new BlobSink((name, blob) => post({ type: 'export-file', id, name, blob }));
      post({ type: 'export-done', id, ...(await engine.exportModel(req.choice, sink, progress)) });
      return;
    }
    default:
      assertNever(req);
  }
}

scope.onmessage = (e) => {
  const req = e.data;
  const exclusive = req.type !== 'stop' && req.type !== 'pause' && req.type !== 'share-link' && req.type !== 'export-adapter' && req.type !== 'export-plan';
  if (exclusive && busy) {
    post({ type: 'error', id: req.id, error: { name: 'BusyError', message: `The engine is busy (${busy}); wait for it to finish or stop it.` } });
    return;
  }
  if (exclusive) busy = req.type;
  handle(req)
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      post({ type: 'error', id: req.id, error: { name: e.name, message: e.message } });
    })
    .finally(() => {
      if (exclusive) busy = null;
    });
};
