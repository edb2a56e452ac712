"""Compile latency, each in fresh processes: the first call of a small
kernel (saxpy on the CPU device) and of the mandelbrot @jit function
(perf/_loops.py) cold (empty cache) and warm (a second process with
cache=True: the disk cache, python/ember/_compiler/cache.py), numba's
@njit(cache=True) beside it; and `import ember` vs `import numba`.

    PYTHONPATH=python /usr/bin/python3 perf/bench_compile.py [--quick]

Writes perf/results/compile.json.
"""

import tempfile

import _common as C

CHILD = r'''
import json, os, sys, time
which, what = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import numpy as np
if which == "ember":
    import ember as lib
    from ember import cuda
else:
    import numba as lib
    from numba import cuda
t_import = time.perf_counter() - t0
src = os.environ["BENCH_SRC"]
sys.path.insert(0, os.path.dirname(src))
import bench_functions as F
F.cuda = cuda   # the kernel's `cuda` is the library under test
out = {"import_s": t_import}
if what == "kernel":
    f = cuda.jit(cache=True)(F.saxpy)
    sig = "void(float32, float32[::1], float32[::1], float32[::1])"
    x = np.arange(256, dtype=np.float32); y = np.ones(256, np.float32); o = np.zeros_like(x)
    if which == "ember":
        cuda.select_device("cpu")
    call = lambda: f[1, 256](np.float32(2), x, y, o)
elif what == "function":
    f = lib.njit(cache=True)(F.mandelbrot)
    sig = "void(int32[:, ::1], float64, float64, float64, float64, int64)"
    img = np.zeros((20, 30), np.int32)
    call = lambda: f(img, -2.0, 1.0, -1.0, 1.0, 20)
if what != "none":
    t = time.perf_counter()
    f.compile(sig)
    out["compile_s"] = time.perf_counter() - t
    t = time.perf_counter()
    call()
    out["first_call_s"] = time.perf_counter() - t
if what == "kernel":
    assert np.allclose(o, 2 * x + y)
elif what == "function":
    for i in range(20):            # against pure Python, point by point
        for j in range(30):
            c, z, n = complex(-2.0 + j * 0.1, -1.0 + i * 0.1), 0j, 20
            for it in range(20):
                z = z * z + c
                if abs(z) ** 2 >= 4:
                    n = it
                    break
            assert img[i, j] == n, (i, j, img[i, j], n)
stats = getattr(f, "stats", None) if what != "none" else None
if stats is not None:
    out["hits"] = sum(stats.cache_hits.values())
print(json.dumps(out))
'''

def functions_file(tmp):
    """A module both front ends read: the saxpy kernel and the mandelbrot loop."""
    import inspect
    import _loops
    from _kernels import SRC
    src = SRC.read_text()
    saxpy = src[src.index("def saxpy"):src.index("def matmul_naive")]
    text = "cuda = None  # set by the child\n\n\n" + saxpy + "\n" + \
        inspect.getsource(_loops.mandelbrot)
    path = f"{tmp}/bench_functions.py"
    with open(path, "w") as f:
        f.write(text)
    return path


def run(which, what, cache_dir, src):
    env = {"BENCH_SRC": src, "EMBER_CACHE_DIR": cache_dir, "NUMBA_CACHE_DIR": cache_dir}
    return C.last_json(C.run_python(CHILD, which, what, env=env))


def cold_warm(which, what, runs, src):
    """(compile cold, compile warm, first call after the compile) summaries
    and the warm runs' cache hits."""
    cold, warm, first, hits = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            a = run(which, what, cache, src)
            b = run(which, what, cache, src)
        cold.append(a["compile_s"])
        warm.append(b["compile_s"])
        first.extend([a["first_call_s"], b["first_call_s"]])
        hits.append(b.get("hits"))
    return C.summarize(cold, 1e3), C.summarize(warm, 1e3), C.summarize(first, 1e3), hits


def import_times(which, runs, src):
    with tempfile.TemporaryDirectory() as cache:
        return C.summarize([run(which, "none", cache, src)["import_s"] for _ in range(runs)],
                           1e3)


def main():
    args = C.parse_args(__doc__)
    runs = 1 if args.quick else 5
    have_numba = C.numba_version() is not None
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        src = functions_file(tmp)
        for what, label in (("kernel", "saxpy kernel (cuda.jit, CPU device)"),
                            ("function", "mandelbrot (@jit function)")):
            ec, ew, ef, hits = cold_warm("ember", what, runs, src)
            if any(h != 1 for h in hits):
                raise RuntimeError(f"ember's warm run of {what} missed the cache: hits {hits}")
            peers_cold, peers_warm, peers_first = {}, {}, {}
            if not have_numba:
                peers_cold["numba"] = peers_warm["numba"] = peers_first["numba"] = \
                    C.absent("numba not installed")
            elif what == "kernel":
                why = "numba-cuda compiles only for a GPU" if C.gpu_info() is None else None
                if why:
                    peers_cold["numba"] = peers_warm["numba"] = peers_first["numba"] = \
                        C.absent(why)
                else:
                    nc, nw, nf, _ = cold_warm("numba", what, runs, src)
                    peers_cold["numba"], peers_warm["numba"], peers_first["numba"] = nc, nw, nf
            else:
                nc, nw, nf, _ = cold_warm("numba", what, runs, src)
                peers_cold["numba"], peers_warm["numba"], peers_first["numba"] = nc, nw, nf
            rows.append(C.row(f"{label}: compile, cold", "ms", {"ember": ec, **peers_cold}))
            rows.append(C.row(f"{label}: compile, warm (cache=True, 2nd process)", "ms",
                              {"ember": ew, **peers_warm}))
            rows.append(C.row(f"{label}: then the first call", "ms",
                              {"ember": ef, **peers_first}))
        imp = {"ember": import_times("ember", runs * 3, src)}
        imp["numba"] = import_times("numba", runs * 3, src) if have_numba else \
            C.absent("numba not installed")
        rows.append(C.row("import (+ numpy)", "ms", imp))
    notes.append("compile: dispatcher.compile(signature) in a fresh process; cold with an empty "
                 "cache directory, warm in a second process on it (ember's warm compile still "
                 "parses and types the function, then loads the object code). The first call "
                 "after it includes, for ember, creating the CPU device (hwloc topology, "
                 "worker pool), which any first launch or call pays")
    C.print_table("Compile latency (fresh processes)", rows, ["ember", "numba"])
    C.write_results("compile", "Compile latency, ms (lower is better)", args.quick, rows, notes)


if __name__ == "__main__":
    main()
