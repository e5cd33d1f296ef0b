/** Compiles the kernels when src/kernels/generated/kernel-binaries.ts is missing or older than its source; true when it wrote it. */
export function buildKernels(opts?: { force?: boolean }): Promise<boolean>;
