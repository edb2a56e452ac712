"""The CPU device against numba's CUDA simulator, side by side: the same
numba.cuda kernels launched on ember's CPU device and under
NUMBA_ENABLE_CUDASIM=1 (each in its own process, since the simulator is
chosen at import). Kernels: saxpy, a block tree reduction (shared memory,
a barrier in a while loop) and a tiled matrix multiply (shared memory,
barriers in a loop). Reports microseconds per launch (compile time
excluded: each kernel is launched once before timing) and the ratio, and
how ember scales from 1 to all workers (EMBER_NUM_THREADS). The simulator
runs one Python thread per CUDA thread, so it is measured at the small
sizes the output states; numba absent is reported as absent. Writes
perf/results/vs_cudasim.json (keys n, ember_us, numba_cudasim_us: saxpy at
n threads on both, as before; the rest added).

    PYTHONPATH=python python3 perf/vs_cudasim.py [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r'''
import os, sys, time
import numpy as np
if sys.argv[1] == "numba-sim":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba import cuda
else:
    from ember import cuda

TPB = 16

@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]

@cuda.jit
def block_reduce(a, out):
    sh = cuda.shared.array(256, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    sh[tid] = a[i] if i < a.size else np.float32(0)
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sh[0]

@cuda.jit
def matmul(A, B, C):
    sA = cuda.shared.array((TPB, TPB), np.float32)
    sB = cuda.shared.array((TPB, TPB), np.float32)
    x, y = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    acc = np.float32(0.0)
    for t in range(A.shape[1] // TPB):
        sA[ty, tx] = A[y, tx + t * TPB]
        sB[ty, tx] = B[ty + t * TPB, x]
        cuda.syncthreads()
        for j in range(TPB):
            acc += sA[ty, j] * sB[j, tx]
        cuda.syncthreads()
    C[y, x] = acc

kernel, n, reps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(1)
if kernel == "saxpy":
    x = rng.random(n, dtype=np.float32); y = rng.random(n, dtype=np.float32)
    dx, dy, dout = cuda.to_device(x), cuda.to_device(y), cuda.to_device(np.zeros(n, np.float32))
    launch = lambda: saxpy[(n + 255) // 256, 256](np.float32(2), dx, dy, dout)
    check = lambda: np.allclose(dout.copy_to_host(), 2 * x + y)
elif kernel == "block_reduce":
    a = rng.random(n, dtype=np.float32)
    da, dout = cuda.to_device(a), cuda.to_device(np.zeros(n // 256, np.float32))
    launch = lambda: block_reduce[n // 256, 256](da, dout)
    check = lambda: np.allclose(dout.copy_to_host(), a.reshape(-1, 256).sum(axis=1), rtol=1e-4)
else:
    A = rng.random((n, n), dtype=np.float32); B = rng.random((n, n), dtype=np.float32)
    dA, dB, dC = cuda.to_device(A), cuda.to_device(B), cuda.to_device(np.zeros((n, n), np.float32))
    launch = lambda: matmul[(n // TPB, n // TPB), (TPB, TPB)](dA, dB, dC)
    check = lambda: np.allclose(dC.copy_to_host(), A @ B, rtol=1e-3)
launch()  # compiles (excluded from the time)
cuda.synchronize()
t = time.perf_counter()
for _ in range(reps):
    launch()
cuda.synchronize()
dt = (time.perf_counter() - t) / reps
assert check(), f"{kernel} gave a wrong result"
print(dt * 1e6)
'''


def run(which, kernel, n, reps, workers=None):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "python"))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if workers:
        env["EMBER_NUM_THREADS"] = str(workers)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"  # ember reads kernel source from a file
        script.write_text(CHILD)
        proc = subprocess.run([sys.executable, str(script), which, kernel, str(n), str(reps)],
                              env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        if "No module named 'numba'" in proc.stderr:
            return None
        raise RuntimeError(f"{which} {kernel} failed:\n{proc.stderr}")
    return float(proc.stdout.strip().splitlines()[-1])


def all_workers():
    from ember import _ember  # the pool's size: hwloc's processing units
    try:
        return int(_ember.cpu_topology()["workers"])
    except Exception:
        return os.cpu_count() or 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    q = args.quick
    results = {}

    # saxpy at n threads on both (the original keys)
    n = 256 if q else 4096
    ember_us = run("ember", "saxpy", n, 50 if q else 3000)
    sim_us = run("numba-sim", "saxpy", n, 1 if q else 3)
    print(f"saxpy on {n} float32, per launch: ember cpu device {ember_us:.1f} us", end="")
    if sim_us is None:
        print("; numba's simulator: absent (python3-numba not installed)")
    else:
        print(f"; numba's CUDA simulator {sim_us:.0f} us: ember {sim_us / ember_us:,.0f}x faster")
    results.update({"n": n, "ember_us": ember_us, "numba_cudasim_us": sim_us})

    # each kernel at one size on both: (kernel, n, what n means, ember reps, sim reps)
    cases = [("saxpy", 512 if q else 65536, "threads", 50 if q else 2000, 1),
             ("block_reduce", 512 if q else 2048, "elements, 256 threads per block",
              20 if q else 2000, 1),
             ("matmul", 16 if q else 32, "n x n float32, 16 x 16 tiles", 20 if q else 2000, 1)]
    compared = {}
    for kernel, size, unit, ereps, sreps in cases:
        e = run("ember", kernel, size, ereps)
        s = run("numba-sim", kernel, size, sreps)
        ratio = s / e if s else None
        compared[kernel] = {"n": size, "unit": unit, "ember_us": e, "numba_cudasim_us": s,
                            "ratio": ratio}
        print(f"{kernel} at n={size} ({unit}): ember {e:.1f} us, simulator "
              + (f"{s:,.0f} us: ember {ratio:,.0f}x faster" if s else "absent"))
    results["compared"] = compared

    # ember alone at larger sizes, 1 .. all workers
    top = all_workers()
    counts = sorted({1, top} | ({2, 4, 8, 16, 32, 64} & set(range(1, top + 1))))
    big = [("saxpy", 1 << 14 if q else 1 << 22, 10 if q else 200),
           ("block_reduce", 1 << 14 if q else 1 << 22, 5 if q else 50),
           ("matmul", 64 if q else 512, 2 if q else 10)]
    scaling = {}
    for kernel, size, reps in big:
        times = {w: run("ember", kernel, size, reps, workers=w) for w in counts}
        scaling[kernel] = {"n": size, "us_by_workers": {str(w): t for w, t in times.items()},
                           "speedup": {str(w): times[1] / t for w, t in times.items()}}
        print(f"ember {kernel} at n={size}: " + ", ".join(
            f"{w} worker{'s' if w > 1 else ''} {t:,.0f} us ({times[1] / t:.2f}x)"
            for w, t in times.items()))
    results["scaling"] = scaling
    results["workers"] = top

    if not q:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "vs_cudasim.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
