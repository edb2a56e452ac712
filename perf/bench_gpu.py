"""Kernel throughput on a GPU: saxpy (GB/s, against a device-to-device copy
of the same bytes), the tiled shared-memory matmul, mandelbrot and laplace
(perf/_kernels_src.py), ember vs numba-cuda vs the same algorithms in CUDA C
(perf/cuda/kernels.cu, built with nvcc, timed with CUDA events). Results are
checked against NumPy. Without a GPU it builds the CUDA C program (to prove
it compiles) and says that nothing ran.

    PYTHONPATH=python /usr/bin/python3 perf/bench_gpu.py [--quick]

Writes perf/results/gpu.json.
"""

import subprocess

import numpy as np

import _common as C
from _kernels import kernels_for



def python_side(cuda, n, reps):
    """{case: ms} for one library's cuda module on its current GPU."""
    K = kernels_for(cuda)
    rng = np.random.default_rng(0)
    out = {}
    sync = cuda.synchronize
    x = rng.random(n, dtype=np.float32)
    y = rng.random(n, dtype=np.float32)
    dx, dy, do = cuda.to_device(x), cuda.to_device(y), cuda.device_array(n, np.float32)
    run = lambda: K.saxpy[(n + 255) // 256, 256](np.float32(2), dx, dy, do)
    out["saxpy"] = C.measure(run, 10, reps, sync=sync, scale=1e3)
    np.testing.assert_allclose(do.copy_to_host(), 2 * x + y, rtol=1e-6)
    out["device-to-device copy"] = C.measure(lambda: do.copy_to_device(dx), 10, reps,
                                             sync=sync, scale=1e3)
    m, tpb = 1024, K.TPB
    A = rng.random((m, m), dtype=np.float32)
    B = rng.random((m, m), dtype=np.float32)
    dA, dB, dC = cuda.to_device(A), cuda.to_device(B), cuda.device_array((m, m), np.float32)
    g = ((m + tpb - 1) // tpb, (m + tpb - 1) // tpb)
    out["matmul (tiled) 1024²"] = C.measure(lambda: K.matmul_tiled[g, (tpb, tpb)](dA, dB, dC),
                                           1, reps, sync=sync, scale=1e3)
    np.testing.assert_allclose(dC.copy_to_host(), A @ B, rtol=1e-3, atol=1e-3)
    h, w = 1000, 1500
    img = cuda.device_array((h, w), np.int32)
    g2 = ((w + 15) // 16, (h + 15) // 16)
    out["mandelbrot 1000x1500"] = C.measure(
        lambda: K.mandelbrot[g2, (16, 16)](img, -2.0, 1.0, -1.0, 1.0, 20), 1, reps, sync=sync,
        scale=1e3)
    r = c = 2048
    u = rng.random((r, c))
    du, dl = cuda.to_device(u), cuda.to_device(np.zeros_like(u))
    g3 = ((c + 15) // 16, (r + 15) // 16)
    out["laplace 2048²"] = C.measure(lambda: K.laplace[g3, (16, 16)](du, dl), 1, reps,
                                     sync=sync, scale=1e3)
    want = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    np.testing.assert_allclose(dl.copy_to_host()[1:-1, 1:-1], want, rtol=1e-12)
    return out


def cuda_c_side(exe, n, reps):
    p = subprocess.run([str(exe), "kernels", str(n), str(reps)], capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        return C.absent(f"kernels_cu failed: {p.stderr.strip()[-300:]}")
    d = C.last_json(p.stdout)
    one = lambda v: {"median": v, "q1": v, "q3": v, "n": reps}
    return {"saxpy": one(d["saxpy_ms"]), "device-to-device copy": one(d["copy_ms"]),
            "matmul (tiled) 1024²": one(d["matmul_ms"]),
            "mandelbrot 1000x1500": one(d["mandelbrot_ms"]),
            "laplace 2048²": one(d["laplace_ms"])}


def main():
    args = C.parse_args(__doc__)
    n, reps = (1 << 20, 5) if args.quick else (1 << 26, 21)
    exe, why = C.nvcc_build("kernels.cu", "kernels_cu", "-O3", *C.GENCODE)
    notes = [f"CUDA C: {why}" if exe is None else f"CUDA C built: {exe.relative_to(C.ROOT)}"]
    rows = []
    gpu = C.gpu_info()
    if gpu is None:
        notes.append("GPU " + C.no_gpu_reason())
    else:
        from ember import cuda
        cuda.select_device(0)
        ember_r = python_side(cuda, n, reps)
        try:
            from numba import cuda as ncuda
            numba_r = python_side(ncuda, n, reps) if ncuda.is_available() else \
                C.absent("numba-cuda finds no GPU")
        except ImportError:
            numba_r = C.absent("numba not installed")
        c_r = cuda_c_side(exe, n, reps) if exe else C.absent(why)
        for case in ember_r:
            res = {"ember": ember_r[case]}
            for name, r in (("numba-cuda", numba_r), ("CUDA C", c_r)):
                res[name] = r if "absent" in r else r[case]
            unit_row = C.row(f"{case}" + (f" n={n}" if case in ("saxpy", "device-to-device copy")
                                          else "") + f" on {gpu[0]}", "ms", res)
            rows.append(unit_row)
        gbs = {}
        for tool in ("ember", "numba-cuda", "CUDA C"):
            s = rows[0]["results"].get(tool)
            if s and "median" in s:
                v = 12 * n / (s["median"] * 1e-3) / 1e9
                gbs[tool] = {"median": v, "q1": v, "q3": v, "n": 1}
        rows.append(C.row(f"saxpy n={n}: bandwidth", "GB/s", gbs))
    C.print_table("GPU kernel throughput", rows, ["ember", "numba-cuda", "CUDA C"])
    C.write_results("gpu", "GPU kernel throughput, ms (lower is better)", args.quick, rows,
                    notes)


if __name__ == "__main__":
    main()
