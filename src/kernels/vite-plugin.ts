// Vite (dev, build, preview builds, the e2e and bench pages): compile the SIMD kernels from source
// before anything imports their generated binaries, so a fresh clone builds with no extra step.
import type { Plugin } from 'vite';
import { buildKernels } from './build.mjs';

export function simdKernelsBuild(): Plugin {
  return { name: 'simd-kernels-build', buildStart: async () => void (await buildKernels()) };
}
