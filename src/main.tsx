// Page entry: mounts the app and starts the engine worker. `?backend=webgpu|wasm|cpu` forces a
// backend; `?wasm-heap-limit-mb=N` makes wasm allocations fail past N MB (to try what fits a
// smaller device; the e2e journey runs out of memory with it); `?nf4-kernel=fused|unfused` fixes
// WebGPU's NF4 kernel instead of measuring which is faster; a `#adapter=...` (inline) or
// `#adapter-url=...` (hosted) fragment is a share link, opened once the engine is up.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './ui/styles.css';
import { App } from './ui/App';
import { useApp } from './store/app-store';
import type { BackendName } from './worker/protocol';

const params = new URLSearchParams(location.search);
const forced = params.get('backend');
const force: BackendName | null = forced === 'webgpu' || forced === 'wasm' || forced === 'cpu' ? forced : null;
const limitMb = Number(params.get('wasm-heap-limit-mb'));
const wasmHeapLimitBytes = Number.isFinite(limitMb) && limitMb > 0 ? Math.round(limitMb * 2 ** 20) : null;
const share = /(^#|&)adapter(-url)?=/.test(location.hash) ? location.hash : null;
const kernel = params.get('nf4-kernel');
const nf4Kernel = kernel === 'fused' || kernel === 'unfused' ? kernel : null;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

useApp.getState().start(force, share, wasmHeapLimitBytes, nf4Kernel).catch((e: Error) => {
  useApp.setState({ modelError: { title: 'The engine could not start', message: e.message } });
});
