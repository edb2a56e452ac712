"""GPU figures, with peers side by side when they are importable: launch
overhead (an empty kernel, and saxpy on 1024 elements, launched from Python
back to back) and bandwidth of a 64 Mi-element float32 saxpy against a
device-to-device copy of the same bytes. ember, numba-cuda and CuPy (each
when present). Without a CUDA GPU it says so and exits 0.

    PYTHONPATH=python python3 perf/bench_cuda.py [--quick]

Writes perf/results/cuda.json.
"""

import argparse
import json
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def median_us(fn, number, repeat, sync):
    times = []
    for _ in range(repeat):
        sync()
        t = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        times.append((time.perf_counter() - t) / number)
    return statistics.median(times) * 1e6


def ember_figures(n, quick):
    from ember import cuda

    @cuda.jit
    def empty():
        pass

    @cuda.jit
    def saxpy(a, x, y, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = a * x[i] + y[i]

    sync = cuda.synchronize
    small = cuda.to_device(np.ones(1024, np.float32))
    out_small = cuda.device_array_like(small)
    x = cuda.to_device(np.ones(n, np.float32))
    y = cuda.to_device(np.ones(n, np.float32))
    out = cuda.device_array_like(x)
    empty[1, 1]()
    saxpy[4, 256](np.float32(2), small, small, out_small)
    saxpy[(n + 255) // 256, 256](np.float32(2), x, y, out)
    np.testing.assert_allclose(out.copy_to_host()[:8], 3.0)
    reps = 200 if quick else 20000
    res = {
        "launch_empty_us": median_us(lambda: empty[1, 1](), reps, 5, sync),
        "launch_saxpy_1k_us": median_us(lambda: saxpy[4, 256](np.float32(2), small, small,
                                                                out_small), reps, 5, sync),
    }
    saxpy_us = median_us(lambda: saxpy[(n + 255) // 256, 256](np.float32(2), x, y, out),
                         3 if quick else 20, 5, sync)
    copy_us = median_us(lambda: out.copy_to_device(x), 3 if quick else 20, 5, sync)
    res["saxpy_GBps"] = 3 * 4 * n / (saxpy_us * 1e-6) / 1e9
    res["d2d_copy_GBps"] = 2 * 4 * n / (copy_us * 1e-6) / 1e9
    return res


def numba_figures(n, quick):
    from numba import cuda

    @cuda.jit
    def empty():
        pass

    @cuda.jit
    def saxpy(a, x, y, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = a * x[i] + y[i]

    x = cuda.to_device(np.ones(n, np.float32))
    out = cuda.device_array_like(x)
    empty[1, 1]()
    saxpy[(n + 255) // 256, 256](np.float32(2), x, x, out)
    reps = 200 if quick else 20000
    saxpy_us = median_us(lambda: saxpy[(n + 255) // 256, 256](np.float32(2), x, x, out),
                         3 if quick else 20, 5, cuda.synchronize)
    return {"launch_empty_us": median_us(lambda: empty[1, 1](), reps, 5, cuda.synchronize),
            "saxpy_GBps": 3 * 4 * n / (saxpy_us * 1e-6) / 1e9}


def cupy_figures(n, quick):
    import cupy as cp
    x = cp.ones(n, cp.float32)
    y = cp.ones(n, cp.float32)
    k = cp.ElementwiseKernel("float32 a, float32 x, float32 y", "float32 out",
                             "out = a * x + y", "saxpy")
    k(np.float32(2), x, y)
    sync = cp.cuda.Device().synchronize
    saxpy_us = median_us(lambda: k(np.float32(2), x, y), 3 if quick else 20, 5, sync)
    return {"saxpy_GBps": 3 * 4 * n / (saxpy_us * 1e-6) / 1e9}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    from ember import cuda
    if not any(d.kind == "cuda" for d in cuda.list_devices()):
        print("bench_cuda: no CUDA GPU here; nothing measured")
        return 0
    cuda.select_device(0)
    n = (1 << 16) if args.quick else (64 << 20)
    results = {"device": str(cuda.get_current_device().name), "n": n,
               "ember": ember_figures(n, args.quick)}
    for name, fn in (("numba-cuda", numba_figures), ("cupy", cupy_figures)):
        try:
            results[name] = fn(n, args.quick)
        except ImportError as e:
            results[name] = f"absent ({e})"
    for name, r in results.items():
        print(f"{name:12s} {r}")
    if not args.quick:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "cuda.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
