"""The cost of the CPU device's bounds checks: the throughput kernels of
perf/bench_cpu.py (its large sizes) compiled three times in one process --
no checks, stores checked (the default), stores and loads checked -- with
EMBER_CPU_BOUNDS (a switch for this measurement only, read when a kernel
is compiled) and timed interleaved, round after round, so that the three
variants see the same machine load. Results are checked against NumPy.

    PYTHONPATH=python /usr/bin/python3 perf/bounds_cost.py [--quick]

It times CPU time of the process (the workers' included; EMBER_SPIN_US=0
keeps idle spinning out of it), which other jobs on the machine disturb far
less than wall time; the minimum of the rounds is the figure to read.
"""

import os
import sys
import resource

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _kernels import kernels_for  # noqa: E402

from ember import cuda  # noqa: E402

VARIANTS = ("none", "writes", "all")


def cpu_time():
    """CPU seconds used by this process, all threads (the workers'): on a
    machine shared with other jobs it varies far less than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build(mode):
    """The kernels compiled with EMBER_CPU_BOUNDS=mode (compiled here, by a
    first launch, while the variable is set)."""
    os.environ["EMBER_CPU_BOUNDS"] = mode
    K = kernels_for(cuda)
    return K


def cases(K, quick):
    rng = np.random.default_rng(0)
    n = 1 << (16 if quick else 22)
    m = 64 if quick else 256
    h, w = (100, 150) if quick else (1000, 1500)
    r = 128 if quick else 2048
    x = cuda.to_device(rng.random(n, dtype=np.float32))
    y = cuda.to_device(rng.random(n, dtype=np.float32))
    o = cuda.device_array(n, np.float32)
    A = cuda.to_device(rng.random((m, m), dtype=np.float32))
    B = cuda.to_device(rng.random((m, m), dtype=np.float32))
    Cm = cuda.device_array((m, m), np.float32)
    Ct = cuda.device_array((m, m), np.float32)
    img = cuda.device_array((h, w), np.int32)
    u = cuda.to_device(rng.random((r, r)))
    lo = cuda.to_device(np.zeros((r, r)))
    a = np.float32(2.5)

    def g2(shape):
        return ((shape[1] + 15) // 16, (shape[0] + 15) // 16), (16, 16)

    tpb = K.TPB
    tg = ((m + tpb - 1) // tpb,) * 2
    run = {
        "saxpy": lambda: K.saxpy[(n + 127) // 128, 128](a, x, y, o),
        "matmul (naive)": lambda: K.matmul_naive[g2((m, m))](A, B, Cm),
        "matmul (tiled, shared memory)": lambda: K.matmul_tiled[tg, (tpb, tpb)](A, B, Ct),
        "mandelbrot": lambda: K.mandelbrot[g2((h, w))](img, -2.0, 1.0, -1.0, 1.0, 20),
        "laplace": lambda: K.laplace[g2((r, r))](u, lo),
    }
    hx, hy, hA, hB, hu = (v.copy_to_host() for v in (x, y, A, B, u))
    lref = np.zeros_like(hu)
    lref[1:-1, 1:-1] = 0.25 * (hu[:-2, 1:-1] + hu[2:, 1:-1] + hu[1:-1, :-2] + hu[1:-1, 2:])
    check = {
        "saxpy": lambda: np.testing.assert_allclose(o.copy_to_host(), a * hx + hy, rtol=1e-6),
        "matmul (naive)": lambda: np.testing.assert_allclose(Cm.copy_to_host(), hA @ hB,
                                                             rtol=1e-4, atol=1e-4),
        "matmul (tiled, shared memory)": lambda: np.testing.assert_allclose(
            Ct.copy_to_host(), hA @ hB, rtol=1e-4, atol=1e-4),
        "mandelbrot": lambda: None,
        "laplace": lambda: np.testing.assert_allclose(lo.copy_to_host(), lref, rtol=1e-12),
    }
    return run, check


def main():
    quick = "--quick" in sys.argv
    rounds = 5 if quick else 40
    cuda.select_device("cpu")
    setups = {}
    for v in VARIANTS:
        K = build(v)
        run, check = cases(K, quick)
        for name, fn in run.items():   # compile (under this variant's setting) and check
            fn()
            check[name]()
        setups[v] = run
    os.environ.pop("EMBER_CPU_BOUNDS", None)
    names = list(setups["none"])
    times = {(v, c): [] for v in VARIANTS for c in names}
    for _ in range(rounds):
        for c in names:
            for v in VARIANTS:     # interleaved: each round runs every variant
                fn = setups[v][c]
                t = cpu_time()
                fn()
                times[v, c].append(cpu_time() - t)
    for stat in ("min", "median"):
        table(stat, names, {k: float(getattr(np, stat)(s)) * 1e3 for k, s in times.items()},
              rounds)


def table(stat, names, med, rounds):
    print(f"{'kernel':32} {'no checks':>10} {'stores':>16} {'stores+loads':>18}   (ms, {stat} "
          f"of {rounds} interleaved rounds)")
    for c in names:
        base = med["none", c]
        cells = [f"{med['none', c]:10.3f}"]
        for v in ("writes", "all"):
            cells.append(f"{med[v, c]:9.3f} ({(med[v, c] / base - 1) * 100:+5.1f}%)")
        print(f"{c:32} {cells[0]} {cells[1]:>16} {cells[2]:>18}")


if __name__ == "__main__":
    main()
