"""Launch overhead: microseconds per launch on the host side, an empty
kernel with 0, 1, 4 and 16 array arguments and two scalars
(perf/_kernels_src.py k0..k16), launched back to back from Python.

ember on the CPU device always; on a GPU: ember vs numba-cuda vs CuPy's
RawKernel vs a C program calling cuLaunchKernel directly (the floor,
perf/cuda/launch_floor.cu, built with nvcc). Without a GPU the GPU part says
so; quick mode still builds the C floor to prove it compiles.

    PYTHONPATH=python /usr/bin/python3 perf/bench_launch.py [--quick]

Writes perf/results/launch.json.
"""

import subprocess

import numpy as np

import _common as C
from _kernels import kernels_for

ARGS = (0, 1, 4, 16)
CUPY_SRC = r'''
extern "C" __global__ void k0(double s, long long n) {}
extern "C" __global__ void k1(double *a, double s, long long n) { if (n < 0) a[0] = s; }
extern "C" __global__ void k4(double *a, double *b, double *c, double *d, double s, long long n)
{ if (n < 0) a[0] = b[0] + c[0] + d[0] + s; }
extern "C" __global__ void k16(double *a0, double *a1, double *a2, double *a3, double *a4,
    double *a5, double *a6, double *a7, double *a8, double *a9, double *a10, double *a11,
    double *a12, double *a13, double *a14, double *a15, double s, long long n)
{ if (n < 0) { a0[0] = a1[0] + a15[0] + s; } }
'''


def launches(cuda, K, number, repeat):
    """{nargs: stats} for the kernels K of `cuda` on its current device."""
    arrays = [cuda.device_array(1) for _ in range(16)]
    kernels = {0: K.k0, 1: K.k1, 4: K.k4, 16: K.k16}
    out = {}
    for n in ARGS:
        k, a = kernels[n], tuple(arrays[:n]) + (1.0, 3)
        out[n] = C.measure(lambda: k[1, 1](*a), number, repeat, warmup=3, sync=cuda.synchronize)
    return out


def numba_cuda_launches(number, repeat):
    try:
        from numba import cuda
        if not cuda.is_available():
            return C.absent("numba-cuda finds no GPU")
    except ImportError:
        return C.absent("numba not installed")
    return launches(cuda, kernels_for(cuda), number, repeat)


def cupy_launches(number, repeat):
    try:
        import cupy
    except ImportError:
        return C.absent("CuPy not installed")
    mod = cupy.RawModule(code=CUPY_SRC)
    arrays = [cupy.zeros(1) for _ in range(16)]
    out = {}
    for n in ARGS:
        f = mod.get_function(f"k{n}")
        a = tuple(arrays[:n]) + (np.float64(1.0), np.int64(3))
        out[n] = C.measure(lambda: f((1,), (1,), a), number, repeat, warmup=3,
                           sync=cupy.cuda.Device().synchronize)
    return out


def floor_launches(number, quick, gpu):
    exe, why = C.nvcc_build("launch_floor.cu", "launch_floor", "-O2", *C.GENCODE, "-lcuda")
    if exe is None:
        return C.absent(why), why
    if not gpu:
        return C.absent("built (no GPU to run it)"), f"built {exe.relative_to(C.ROOT)}"
    p = subprocess.run([str(exe), str(number)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return C.absent(f"failed: {p.stderr.strip()}"), "launch_floor failed"
    med = C.last_json(p.stdout)
    return {n: {"median": float(med[str(n)]), "q1": float(med[str(n)]),
                "q3": float(med[str(n)]), "n": 7} for n in ARGS}, "ran"




def main():
    args = C.parse_args(__doc__)
    number, repeat = (100, 3) if args.quick else (5000, 9)
    from ember import cuda
    rows, notes = [], []
    cuda.select_device("cpu")
    cpu = launches(cuda, kernels_for(cuda), number, repeat)
    for n in ARGS:
        rows.append(C.row(f"cpu device, {n} array args + 2 scalars", "us", {"ember": cpu[n]}))
    gpu = C.gpu_info()
    floor, how = floor_launches(number, args.quick, gpu is not None)
    notes.append(f"C floor (cuLaunchKernel): {how}")
    if gpu is None:
        notes.append("GPU " + C.no_gpu_reason())
    else:
        cuda.select_device(0)
        e = launches(cuda, kernels_for(cuda), number, repeat)
        nb = numba_cuda_launches(number, repeat)
        cp = cupy_launches(number, repeat)
        for n in ARGS:
            res = {"ember": e[n]}
            for name, r in (("numba-cuda", nb), ("cupy RawKernel", cp), ("C cuLaunchKernel", floor)):
                res[name] = r if "absent" in r else r[n]
            rows.append(C.row(f"{gpu[0]}, {n} array args + 2 scalars", "us", res))
    C.print_table("Launch overhead (host side, per launch)", rows,
                  ["ember", "numba-cuda", "cupy RawKernel", "C cuLaunchKernel"])
    C.write_results("launch", "Launch overhead, µs per launch (lower is better)", args.quick,
                    rows, notes)


if __name__ == "__main__":
    main()
