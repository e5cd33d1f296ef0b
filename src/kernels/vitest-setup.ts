// vitest globalSetup: the tests import the generated kernel binaries, so build them first (a no-op when current).
import { buildKernels } from './build.mjs';

export default async function setup(): Promise<void> {
  await buildKernels();
}
