"""The benchmark kernels (perf/_kernels_src.py) compiled by a given cuda
module: ``kernels_for(cuda)`` executes that file with `cuda` bound to
ember.cuda, numba.cuda or numba's simulator and returns its kernels jitted
by that module (the source stays readable by both front ends: the code
objects keep the file's name)."""

import types
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parent / "_kernels_src.py"
KERNELS = ("k0", "k1", "k4", "k16", "saxpy", "matmul_naive", "matmul_tiled", "mandelbrot",
           "laplace")


def kernels_for(cuda, float32=np.float32):
    ns = {"cuda": cuda, "float32": float32, "__name__": f"perf_kernels_{id(cuda)}"}
    exec(compile(SRC.read_text(), str(SRC), "exec"), ns)
    ns["mandel_device"] = cuda.jit(device=True)(ns["mandel_point"])
    out = types.SimpleNamespace(TPB=ns["TPB"])
    for name in KERNELS:
        setattr(out, name, cuda.jit(ns[name]))
    return out
