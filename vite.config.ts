// Vite builds the single-page app (index.html) and its module Web Worker.
// Served cross-origin isolated (COOP same-origin + COEP require-corp, on dev and preview alike):
// SharedArrayBuffer, hence tfjs-wasm's threaded SIMD build, exists only then; tfjsWasmThreads()
// keeps that build's pthread workers working after minification.
// Cross-origin model downloads stay allowed: fetch() is CORS mode, and CORS satisfies require-corp.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { tfjsWasmThreads } from './tools/tfjs-wasm-threads-plugin';
import { simdKernelsBuild } from './src/kernels/vite-plugin';

/** Headers that make the page and its worker cross-origin isolated. */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [simdKernelsBuild(), react(), tfjsWasmThreads()],
  // The training worker bundles tfjs-backend-wasm, and worker bundles get their own plugin list.
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // Test pages beside the app: NF4 kernels (e2e/kernels.spec.ts), engine per backend (e2e/engine-backends.spec.ts).
    rollupOptions: { input: { main: 'index.html', kernels: 'tests/browser/kernels.html', engine: 'tests/browser/engine.html' } },
  },
  preview: { port: 5173, strictPort: true, headers: ISOLATION_HEADERS },
  server: { port: 5173, headers: ISOLATION_HEADERS },
});
