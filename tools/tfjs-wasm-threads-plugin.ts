// Vite plugin: makes tfjs-backend-wasm's threaded SIMD build work in a minified bundle.
//
// tfjs starts each pthread worker from a Blob holding `wasmFactoryThreadedSimd.toString()`, the
// source text of the Emscripten factory function. After bundling and minifying, that function
// refers to names of its enclosing chunk (renamed helpers, hoisted module variables) that do not
// exist in the worker, and every pthread throws "ReferenceError: e is not defined". This plugin
// replaces that expression with the factory file's own text, read from node_modules at build time:
// it is self-contained (the Emscripten output defines everything it uses) and is what the worker
// needs, `var WasmBackendModuleThreadedSimd = ...`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';

const TARGET = /@tensorflow[\\/]tfjs-backend-wasm[\\/]dist[\\/](backend_wasm\.js|tf-backend-wasm\.(fesm|esm)(\.min)?\.js)$/;
const EXPRESSION = /`var WasmBackendModuleThreadedSimd = ` \+\s*wasmFactoryThreadedSimd\.toString\(\)/;

export class TfjsThreadsPluginError extends Error {
  override name = 'TfjsThreadsPluginError';
}

function factorySource(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return readFileSync(join(pkg, 'wasm-out/tfjs-backend-wasm-threaded-simd.js'), 'utf8');
}

export function tfjsWasmThreads(): Plugin {
  let source: string | null = null;
  return {
    name: 'tfjs-wasm-threads',
    enforce: 'pre',
    transform(code, id) {
      if (!TARGET.test(id.split('?')[0]!)) return null;
      if (!EXPRESSION.test(code)) {
        // A tfjs upgrade changed the code: fail the build rather than ship broken threads silently.
        throw new TfjsThreadsPluginError(`tools/tfjs-wasm-threads-plugin.ts: ${id} no longer builds its pthread Blob from wasmFactoryThreadedSimd.toString(); update the plugin`);
      }
      source ??= factorySource();
      return { code: code.replace(EXPRESSION, () => JSON.stringify(source)), map: null };
    },
  };
}
