"""The CPU fallback: the throughput kernels (perf/_kernels_src.py) on ember's
CPU device against numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, at small
sizes, stated: it runs one Python thread per CUDA thread), the same kernels
at larger sizes against the equivalent plain loops (perf/_loops.py) under
ember.jit and numba's @njit, and the CPU device's scaling from 1 worker to
all cores (EMBER_NUM_THREADS). Every result is checked against NumPy.

    PYTHONPATH=python /usr/bin/python3 perf/bench_cpu.py [--quick]

Writes perf/results/cpu.json. (perf/vs_cudasim.py measures saxpy alone.)
"""

import os

import _common as C

CHILD = r'''
import json, os, sys
sys.path.insert(0, os.environ["PERF_DIR"])
mode, sizes, repeat = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
if mode == "numba-sim":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
import numpy as np
import _common as C
if mode in ("ember-device", "ember-jit"):
    import ember
    from ember import cuda
    jit = ember.njit
else:
    import numba
    from numba import cuda
    jit = numba.njit

def mandel_ref(h, w, iters):
    """NumPy's mandelbrot: escape counts of the same grid of points."""
    y, x = np.mgrid[0:h, 0:w]
    c = (-2.0 + x * (3.0 / w)) + 1j * (-1.0 + y * (2.0 / h))
    z = np.zeros_like(c)
    n = np.full(c.shape, iters, np.int32)
    alive = np.ones(c.shape, bool)
    for k in range(iters):
        z[alive] = z[alive] * z[alive] + c[alive]
        esc = alive & (z.real * z.real + z.imag * z.imag >= 4)
        n[esc] = k
        alive &= ~esc
    return n

rng = np.random.default_rng(0)
out = {}
if mode in ("ember-device", "numba-sim"):
    if mode == "ember-device":
        cuda.select_device("cpu")
    from _kernels import kernels_for
    K = kernels_for(cuda)
    sync = cuda.synchronize
    def launch2d(kernel, shape, *args):
        blocks = ((shape[1] + 15) // 16, (shape[0] + 15) // 16)
        return lambda: kernel[blocks, (16, 16)](*args)
else:
    import _loops
    L = {name: jit(getattr(_loops, name)) for name in ("saxpy", "matmul", "mandelbrot", "laplace")}
    sync = None

def run(name, fn, check, number=1):
    try:
        fn()
        check()
        out[name] = C.measure(fn, number, repeat, warmup=1, sync=sync, scale=1e3)
    except Exception as e:
        out[name] = {"absent": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}

n = sizes["saxpy"]
x = rng.random(n, dtype=np.float32); y = rng.random(n, dtype=np.float32)
o = np.zeros_like(x)
a = np.float32(2.5)
if mode in ("ember-device", "numba-sim"):
    dx, dy, do = cuda.to_device(x), cuda.to_device(y), cuda.to_device(o)
    run("saxpy", lambda: K.saxpy[(n + 127) // 128, 128](a, dx, dy, do),
        lambda: np.testing.assert_allclose(do.copy_to_host(), a * x + y, rtol=1e-6))
else:
    run("saxpy", lambda: L["saxpy"](a, x, y, o),
        lambda: np.testing.assert_allclose(o, a * x + y, rtol=1e-6))

m = sizes["matmul"]
A = rng.random((m, m), dtype=np.float32); B = rng.random((m, m), dtype=np.float32)
Cm = np.zeros((m, m), np.float32)
want = A @ B
check_mm = lambda got: np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
if mode in ("ember-device", "numba-sim"):
    dA, dB, dC = cuda.to_device(A), cuda.to_device(B), cuda.to_device(Cm)
    run("matmul (naive)", launch2d(K.matmul_naive, (m, m), dA, dB, dC),
        lambda: check_mm(dC.copy_to_host()))
    dC2 = cuda.to_device(Cm)
    tpb = K.TPB
    grid = ((m + tpb - 1) // tpb, (m + tpb - 1) // tpb)
    run("matmul (tiled, shared memory)", lambda: K.matmul_tiled[grid, (tpb, tpb)](dA, dB, dC2),
        lambda: check_mm(dC2.copy_to_host()))
else:
    run("matmul (naive)", lambda: L["matmul"](A, B, Cm), lambda: check_mm(Cm))

h, w = sizes["mandelbrot"]
img = np.zeros((h, w), np.int32)
ref = mandel_ref(h, w, 20)
def check_mandel(got):
    # a point on the escape boundary may round differently: allow 0.1 %
    assert np.mean(got != ref) <= 1e-3, np.mean(got != ref)
if mode in ("ember-device", "numba-sim"):
    dimg = cuda.to_device(img)
    run("mandelbrot", launch2d(K.mandelbrot, (h, w), dimg, -2.0, 1.0, -1.0, 1.0, 20),
        lambda: check_mandel(dimg.copy_to_host()))
else:
    run("mandelbrot", lambda: L["mandelbrot"](img, -2.0, 1.0, -1.0, 1.0, 20),
        lambda: check_mandel(img))

r, c = sizes["laplace"]
u = rng.random((r, c)); lo = np.zeros_like(u)
lref = np.zeros_like(u)
lref[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
if mode in ("ember-device", "numba-sim"):
    du, dlo = cuda.to_device(u), cuda.to_device(lo)
    run("laplace", launch2d(K.laplace, (r, c), du, dlo),
        lambda: np.testing.assert_allclose(dlo.copy_to_host(), lref, rtol=1e-12))
else:
    run("laplace", lambda: L["laplace"](u, lo),
        lambda: np.testing.assert_allclose(lo, lref, rtol=1e-12))
print(json.dumps(out))
'''

CASES = ("saxpy", "matmul (naive)", "matmul (tiled, shared memory)", "mandelbrot", "laplace")


def child(mode, sizes, repeat, threads=None):
    import json
    env = {"PERF_DIR": str(C.HERE)}
    if threads:
        env["EMBER_NUM_THREADS"] = str(threads)
    try:
        return C.last_json(C.run_python(CHILD, mode, json.dumps(sizes), repeat, env=env))
    except RuntimeError as e:
        if mode.startswith("numba") and "No module named 'numba'" in str(e):
            return None
        raise


def describe(sizes):
    return {"saxpy": f"n={sizes['saxpy']}", "matmul (naive)": f"{sizes['matmul']}²",
            "matmul (tiled, shared memory)": f"{sizes['matmul']}²",
            "mandelbrot": "{}x{}".format(*sizes["mandelbrot"]),
            "laplace": "{}x{}".format(*sizes["laplace"])}


def main():
    args = C.parse_args(__doc__)
    small = {"saxpy": 256, "matmul": 16, "mandelbrot": (16, 16), "laplace": (16, 16)}
    large = {"saxpy": 1 << 16, "matmul": 64, "mandelbrot": (100, 150), "laplace": (128, 128)} \
        if args.quick else \
        {"saxpy": 1 << 22, "matmul": 256, "mandelbrot": (1000, 1500), "laplace": (2048, 2048)}
    repeat = 3 if args.quick else 7
    rows, notes = [], []
    have_numba = C.numba_version() is not None
    missing = C.absent("numba not installed")

    # 1. simulator sizes: CPU device vs numba's simulator
    dev = child("ember-device", small, repeat)
    sim = child("numba-sim", small, 1 if args.quick else 3) if have_numba else None
    ds = describe(small)
    for case in CASES:
        rows.append(C.row(f"{case} {ds[case]}: cpu device vs simulator", "ms",
                          {"ember cpu device": dev.get(case),
                           "numba cudasim": sim.get(case) if sim else missing},
                          base="ember cpu device"))
    # 2. larger sizes: CPU device vs @jit loops
    dev_l = child("ember-device", large, repeat)
    ejit = child("ember-jit", large, repeat)
    njit = child("numba-jit", large, repeat) if have_numba else None
    dl = describe(large)
    for case in CASES:
        rows.append(C.row(f"{case} {dl[case]}: cpu device vs @jit loops", "ms",
                          {"ember cpu device": dev_l.get(case),
                           "ember.jit loop": ejit.get(case) or
                           C.absent("a kernel with shared memory has no loop form"),
                           "numba njit loop": (njit.get(case) or
                                               C.absent("a kernel with shared memory has no "
                                                        "loop form")) if njit else missing},
                          base="ember cpu device"))
    # 3. scaling of the CPU device from 1 worker to all cores
    cores = os.cpu_count() or 1
    counts = sorted({1, 2, 4, 8, 16, 32, 64, cores} & set(range(1, cores + 1)))
    scaling = {}
    for t in counts:
        scaling[t] = child("ember-device", large, repeat, threads=t)
    for case in ("mandelbrot", "laplace", "saxpy"):
        res = {f"{t} workers": scaling[t].get(case) for t in counts}
        rows.append(C.row(f"{case} {dl[case]}: cpu device scaling", "ms", res,
                          base="1 workers"))
    notes.append(f"numba's CUDA simulator runs only at the small sizes ({ds['saxpy']}, 2-D "
                 f"16x16): it runs one Python thread per CUDA thread")
    notes.append(f"scaling: EMBER_NUM_THREADS = {counts} on {cores} cores; ratios are time "
                 f"relative to 1 worker (below 1 = faster); cores that other jobs use (see "
                 f"the machine's loadavg) are not there for the workers")
    tools = ["ember cpu device", "numba cudasim", "ember.jit loop", "numba njit loop"]
    C.print_table("CPU fallback (ms per launch or call)", rows,
                  tools + [f"{t} workers" for t in counts])
    C.write_results("cpu", "CPU fallback: kernels on the CPU device, ms (lower is better)",
                    args.quick, rows, notes)


if __name__ == "__main__":
    main()
