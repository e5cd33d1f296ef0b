"""torch.matmul's GFLOP/s on the shapes `npm run bench -- --gemm` times, for measurement only.

Reads one JSON object from stdin: {"shapes": [[M, K, N, "nn"|"nt"|"tn"], ...], "threads": T,
"repeats": R}. Run it with OPENBLAS_NUM_THREADS=T and OMP_NUM_THREADS=T set (OpenBLAS sizes its
pool when it loads; torch.set_num_threads alone does not bound it). For each shape, times A·B with the operand layout named (nt: B
stored [N, K]; tn: A stored [K, M]; torch reads both through strides as the studio's GEMM does),
best of R after one warm-up, and prints one JSON line: shape, layout, threads, ms, gflops.
"""
import json
import sys
import time

import torch

req = json.load(sys.stdin)
torch.manual_seed(0)
threads = req["threads"]
torch.set_num_threads(threads)
for M, K, N, layout in req["shapes"]:
    a = torch.randn(K, M).t() if layout == "tn" else torch.randn(M, K)
    b = torch.randn(N, K).t() if layout == "nt" else torch.randn(K, N)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(req["repeats"]):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"peer": "torch.matmul", "torch": torch.__version__, "threads": threads,
                      "M": M, "K": K, "N": N, "layout": layout, "ms": round(best * 1e3, 3),
                      "gflops": round(2 * M * K * N / best / 1e9, 1)}), flush=True)
