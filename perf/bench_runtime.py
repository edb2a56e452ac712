"""Runtime and launch costs on the current device, with numba beside ember
when numba is importable (absent peers are reported as absent).

Measures, per operation, the median and spread over repeated timeit runs:
host->device and device->host copies of small and large arrays, device
views, kernel compile time (first call, cold, in a fresh process) and the
host-side cost of one kernel launch (an empty-bodied kernel with 0, 1, 4
array arguments). Writes perf/results/runtime.json.

    perf/run            full sizes
    perf/run --quick    tiny sizes: a smoke test, never judged on time
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

import ember
from ember import cuda

HERE = Path(__file__).resolve().parent


def measure(fn, number, repeat):
    times = [t / number for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return {"median_us": statistics.median(times) * 1e6, "min_us": min(times) * 1e6,
            "max_us": max(times) * 1e6}


@cuda.jit
def k0():
    pass


@cuda.jit
def k1(a):
    i = cuda.grid(1)
    if i < 0:
        a[0] = 1.0


@cuda.jit
def k4(a, b, c, d):
    i = cuda.grid(1)
    if i < 0:
        a[0] = b[0] + c[0] + d[0]


COLD_COMPILE = """
import time
from ember import cuda
@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]
import numpy as np
x = cuda.to_device(np.ones(256, np.float32)); out = cuda.device_array_like(x)
t = time.perf_counter(); saxpy[1, 256](2.0, x, x, out); cuda.synchronize()
print(time.perf_counter() - t)
"""


def cold_compile_seconds(runs):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "python"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "cold.py"  # the front end reads kernel source from a file
        script.write_text(COLD_COMPILE)
        for _ in range(runs):
            p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                               text=True, check=True)
            out.append(float(p.stdout.strip()))
    return {"median_ms": statistics.median(out) * 1e3, "min_ms": min(out) * 1e3,
            "max_ms": max(out) * 1e3, "runs": runs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    number, repeat = (50, 3) if args.quick else (5000, 7)
    big = 1 << (12 if args.quick else 24)
    dev = cuda.get_current_device()
    res = {"machine": platform.processor() or platform.machine(), "cpu": repr(ember.cpu),
           "device": f"{dev.kind}:{dev.id} {dev.name}", "python": sys.version.split()[0],
           "numpy": np.__version__, "quick": args.quick, "results": {}}
    small = np.zeros(1)
    large = np.random.rand(big // 8)
    dsmall, dlarge = cuda.to_device(small), cuda.to_device(large)
    out = np.empty_like(large)
    r = res["results"]
    r["to_device(1 element)"] = measure(lambda: cuda.to_device(small), number, repeat)
    r["copy_to_host(1 element)"] = measure(lambda: dsmall.copy_to_host(), number, repeat)
    r["view d[::2]"] = measure(lambda: dlarge[::2], number, repeat)
    n_big = max(number // 500, 3)
    m = measure(lambda: dlarge.copy_to_host(out), n_big, repeat)
    m["GB/s"] = large.nbytes / (m["median_us"] * 1e-6) / 1e9
    r[f"copy_to_host({large.nbytes >> 10} KiB)"] = m
    a = [cuda.device_array(1) for _ in range(4)]
    k0[1, 1]()
    k1[1, 1](a[0])
    k4[1, 1](*a)
    r["launch, 0 array args"] = measure(lambda: k0[1, 1](), number, repeat)
    r["launch, 1 array arg"] = measure(lambda: k1[1, 1](a[0]), number, repeat)
    r["launch, 4 array args"] = measure(lambda: k4[1, 1](*a), number, repeat)
    res["cold_compile_saxpy"] = cold_compile_seconds(1 if args.quick else 5)
    try:
        import numba  # noqa: F401
        res["numba"] = f"numba {numba.__version__}: comparisons arrive with the benchmark issue"
    except ImportError:
        res["numba"] = "absent (python3-numba not installed)"

    print(f"ember runtime benchmarks on {res['device']} ({res['cpu']})")
    for name, v in r.items():
        extra = f"  {v['GB/s']:.1f} GB/s" if "GB/s" in v else ""
        print(f"  {name:32s} median {v['median_us']:9.2f} us  "
              f"[{v['min_us']:.2f} .. {v['max_us']:.2f}]{extra}")
    c = res["cold_compile_saxpy"]
    print(f"  {'first call of saxpy (cold)':32s} median {c['median_ms']:9.2f} ms  "
          f"[{c['min_ms']:.2f} .. {c['max_ms']:.2f}] over {c['runs']} processes")
    print(f"  numba: {res['numba']}")
    outdir = HERE / "results"
    outdir.mkdir(exist_ok=True)
    (outdir / ("runtime-quick.json" if args.quick else "runtime.json")).write_text(
        json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
