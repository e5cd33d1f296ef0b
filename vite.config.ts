// Vite builds the single-page app (index.html) and its module Web Worker.
// COOP/COEP are deliberately not set: threaded wasm under cross-origin isolation hangs in
// minified builds (tfjs #4253), and the single-threaded SIMD build is what we ship.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // Test pages beside the app: NF4 kernels (e2e/kernels.spec.ts), engine per backend (e2e/engine-backends.spec.ts).
    rollupOptions: { input: { main: 'index.html', kernels: 'tests/browser/kernels.html', engine: 'tests/browser/engine.html' } },
  },
  preview: { port: 5173, strictPort: true },
  server: { port: 5173 },
});
