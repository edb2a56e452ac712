"""Transfers: host->device and device->host copies of 1 KiB to 64 MiB,
from pageable and from pinned host memory (GB/s), on the current device
(the CPU device here: its "device" memory is host memory too), with, on a
GPU, numba-cuda beside it and the figure of the driver's own bandwidth test
(perf/cuda/kernels.cu "bandwidth": cudaMemcpy, as CUDA's bandwidthTest);
and the bytes moved when host NumPy arrays are passed to a kernel
(saxpy(a, x, y, out): on a GPU ember copies back only what the kernel
writes, numba copies every array back; on the CPU device ember moves
nothing), counted by ember's runtime counters and, for numba-cuda on a GPU,
by wrapping its copy functions. On the CPU device also: saxpy on host
arrays against device arrays, and the gaussian `vectorize(target='cuda')`
against `target='cpu'` (1M elements and 4 elements), as ratios.

    PYTHONPATH=python /usr/bin/python3 perf/bench_transfers.py [--quick]

Writes perf/results/transfers.json.
"""

import subprocess

import numpy as np

import _common as C
from _kernels import kernels_for


def copies(cuda, nbytes, number, repeat, pinned):
    """(H2D stats, D2H stats) in GB/s for `nbytes`."""
    n = nbytes // 8
    host = cuda.pinned_array(n, np.float64) if pinned else np.empty(n)
    host[:] = 1.5
    d = cuda.to_device(host)
    h2d = C.measure(lambda: d.copy_to_device(host), number, repeat, sync=cuda.synchronize,
                    scale=1.0)
    d2h = C.measure(lambda: d.copy_to_host(host), number, repeat, sync=cuda.synchronize,
                    scale=1.0)
    assert host[0] == 1.5 and host[-1] == 1.5
    return to_gbs(h2d, nbytes), to_gbs(d2h, nbytes)


def to_gbs(stat, nbytes):
    """Seconds per copy -> GB/s (quartiles swap: faster is higher)."""
    g = lambda t: nbytes / t / 1e9
    return {"median": g(stat["median"]), "q1": g(stat["q3"]), "q3": g(stat["q1"]),
            "n": stat["n"]}


def bytes_moved_ember(cuda, n):
    from ember import runtime
    K = kernels_for(cuda)
    x, y, out = np.arange(n, dtype=np.float32), np.ones(n, np.float32), np.zeros(n, np.float32)
    K.saxpy[(n + 127) // 128, 128](np.float32(2), x, y, out)  # compile
    runtime.reset_stats()
    K.saxpy[(n + 127) // 128, 128](np.float32(2), x, y, out)
    s = runtime.stats()
    np.testing.assert_allclose(out, 2 * x + y)
    return s["htod_bytes"], s["dtoh_bytes"]


def bytes_moved_numba(n):
    try:
        from numba import cuda
        from numba.cuda.cudadrv import driver
    except ImportError:
        return C.absent("numba not installed")
    if not cuda.is_available():
        return C.absent("numba-cuda needs a GPU")
    moved = {"htod": 0, "dtoh": 0}
    h2d, d2h = driver.host_to_device, driver.device_to_host

    def count_h2d(dst, src, size, stream=0):
        moved["htod"] += size
        return h2d(dst, src, size, stream)

    def count_d2h(dst, src, size, stream=0):
        moved["dtoh"] += size
        return d2h(dst, src, size, stream)

    K = kernels_for(cuda)
    x, y, out = np.arange(n, dtype=np.float32), np.ones(n, np.float32), np.zeros(n, np.float32)
    K.saxpy[(n + 127) // 128, 128](np.float32(2), x, y, out)
    driver.host_to_device, driver.device_to_host = count_h2d, count_d2h
    try:
        K.saxpy[(n + 127) // 128, 128](np.float32(2), x, y, out)
    finally:
        driver.host_to_device, driver.device_to_host = h2d, d2h
    np.testing.assert_allclose(out, 2 * x + y)
    return moved["htod"], moved["dtoh"]


def alternating(fa, fb, repeat, scale):
    """Summaries of fa and fb timed in turn, A B A B ..., so that a drift of
    the machine's speed falls on both."""
    import time
    fa(), fb()
    ta, tb = [], []
    for _ in range(repeat):
        for f, out in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            f()
            out.append(time.perf_counter() - t)
    return C.summarize(ta, scale), C.summarize(tb, scale)


def in_place_rows(cuda, quick):
    """CPU device: host arrays used in place cost what device arrays cost."""
    from ember import vectorize
    from _kernels import kernels_for
    K = kernels_for(cuda)
    n = 1 << 16 if quick else 4_000_000
    repeat = 3 if quick else 15
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    out = np.zeros(n, np.float32)
    dx, dy, dout = cuda.to_device(x), cuda.to_device(y), cuda.device_array(n, np.float32)
    g = (n + 255) // 256
    host, dev = alternating(lambda: K.saxpy[g, 256](np.float32(2), x, y, out),
                            lambda: K.saxpy[g, 256](np.float32(2), dx, dy, dout),
                            repeat * 2, 1e3)
    np.testing.assert_allclose(out, 2 * x + y, rtol=1e-6)
    rows = [C.row(f"saxpy {n} float32, CPU device: host NumPy arrays vs device arrays", "ms",
                  {"ember host arrays": host, "ember device arrays": dev},
                  base="ember device arrays")]

    def gaussian(v, mean, sigma):
        return np.exp(-0.5 * ((v - mean) / sigma) ** 2) / (sigma * 2.5066282746310002)
    sig = ["float32(float32, float32, float32)"]
    gc = vectorize(sig, target="cuda")(gaussian)
    gp = vectorize(sig, target="cpu")(gaussian)
    m, s = np.float32(0.5), np.float32(1.5)
    big = x[:1_000_000]
    np.testing.assert_array_equal(gc(big, m, s), gp(big, m, s))
    gcs, gps = alternating(lambda: gc(big, m, s), lambda: gp(big, m, s), repeat * 2, 1e3)
    rows.append(C.row(f"vectorize gaussian {big.size} float32 on host arrays: target='cuda' "
                      "(CPU device) vs target='cpu'", "ms",
                      {"ember cuda target": gcs, "ember cpu target": gps},
                      base="ember cpu target"))
    small = x[:4]
    rows.append(C.row("vectorize gaussian 4 float32 on host arrays: target='cuda' (CPU device) "
                      "vs target='cpu'", "us",
                      {"ember cuda target": C.measure(lambda: gc(small, m, s), 1000, repeat),
                       "ember cpu target": C.measure(lambda: gp(small, m, s), 1000, repeat)},
                      base="ember cpu target"))
    return rows


def main():
    args = C.parse_args(__doc__)
    sizes = [1 << 10, 1 << 20] if args.quick else [1 << 10, 1 << 16, 1 << 20, 1 << 24, 1 << 26]
    repeat = 3 if args.quick else 9
    from ember import cuda
    gpu = C.gpu_info()
    if gpu is None:
        cuda.select_device("cpu")
        where = "cpu device"
    else:
        cuda.select_device(0)
        where = gpu[0]
    try:
        from numba import cuda as ncuda
        numba_ok = gpu is not None and ncuda.is_available()
    except ImportError:
        ncuda, numba_ok = None, False
    numba_why = "numba not installed" if ncuda is None else "numba-cuda needs a GPU"
    bw = None
    notes = []
    if gpu is not None:
        exe, why = C.nvcc_build("kernels.cu", "kernels_cu", "-O3", *C.GENCODE)
        if exe:
            p = subprocess.run([str(exe), "bandwidth", str(sizes[-1]), "11"],
                               capture_output=True, text=True, timeout=300)
            bw = C.last_json(p.stdout) if p.returncode == 0 else None
    else:
        notes.append("GPU " + C.no_gpu_reason())
    rows = []
    for nbytes in sizes:
        number = max(1, (1 << 22) // nbytes) if not args.quick else 5
        for pinned in (False, True):
            kind = "pinned" if pinned else "pageable"
            e = copies(cuda, nbytes, number, repeat, pinned)
            nb = copies(ncuda, nbytes, number, repeat, pinned) if numba_ok else None
            for i, direction in enumerate(("host->device", "device->host")):
                res = {"ember": e[i],
                       "numba-cuda": nb[i] if nb else C.absent(numba_why)}
                if bw and nbytes == sizes[-1]:
                    key = ("h2d_" if i == 0 else "d2h_") + kind + "_GBps"
                    v = bw[key]
                    res["driver bandwidthTest"] = {"median": v, "q1": v, "q3": v, "n": 11}
                label = f"{nbytes >> 10} KiB" if nbytes < (1 << 20) else f"{nbytes >> 20} MiB"
                rows.append(C.row(f"{direction} {label} {kind} ({where})", "GB/s", res))
    n = 1 << 16 if args.quick else 1 << 22
    eh, ed = bytes_moved_ember(cuda, n)
    nm = bytes_moved_numba(n) if numba_ok else C.absent(numba_why)
    mb = lambda b: {"median": b / 1e6, "q1": b / 1e6, "q3": b / 1e6, "n": 1}
    rows.append(C.row(f"saxpy(a, x, y, out) on host arrays of {n} float32: host->device",
                      "MB", {"ember": mb(eh),
                             "numba-cuda": nm if isinstance(nm, dict) else mb(nm[0])}))
    rows.append(C.row(f"saxpy(a, x, y, out) on host arrays of {n} float32: device->host",
                      "MB", {"ember": mb(ed),
                             "numba-cuda": nm if isinstance(nm, dict) else mb(nm[1])}))
    notes.append(f"bytes moved: each array is {4 * n / 1e6:g} MB; only `out` is written, so "
                 "the minimum on a GPU is the three arrays in and one back; on the CPU "
                 "device, where host memory is the device's, it is 0")
    if gpu is None:
        rows += in_place_rows(cuda, args.quick)
    C.print_table("Transfers", rows, ["ember", "numba-cuda", "driver bandwidthTest"])
    C.write_results("transfers", "Transfers: GB/s (higher is better) and bytes moved",
                    args.quick, rows, notes)


if __name__ == "__main__":
    main()
