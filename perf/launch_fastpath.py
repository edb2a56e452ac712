"""Launch overhead on the cpu device, end to end from Python: an empty
kernel with 0 and 4 device-array arguments launched on [1, 1], a 4x256
saxpy on 1024 float32 elements and one on 1M elements (throughput). Prints the best of 5 timeit runs (µs per
launch); used to measure the launch fast path before and after.

    PYTHONPATH=python /usr/bin/python3 perf/launch_fastpath.py
"""

import timeit

import numpy as np

from ember import cuda


@cuda.jit
def k0():
    pass


@cuda.jit
def k4(a, b, c, d):
    i = cuda.grid(1)
    if i < 0:
        a[0] = b[0] + c[0] + d[0]


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


def best_us(stmt, number):
    stmt()  # compile
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e6


def main():
    cuda.select_device("cpu")
    x = cuda.to_device(np.ones(1024, np.float32))
    out = cuda.device_array_like(x)
    big = cuda.to_device(np.ones(1 << 20, np.float32))
    big_out = cuda.device_array_like(big)
    rows = [
        ("k0[1, 1]()", lambda: k0[1, 1](), 20000),
        ("k4[1, 1](x, x, x, x)", lambda: k4[1, 1](x, x, x, x), 20000),
        ("saxpy[4, 256](2.0, x, x, out)", lambda: saxpy[4, 256](2.0, x, x, out), 5000),
        ("saxpy[4096, 256] (1M elements)", lambda: saxpy[4096, 256](2.0, big, big, big_out), 50),
    ]
    for name, fn, number in rows:
        print(f"{name:34s} {best_us(fn, number):8.2f} us")
    cuda.synchronize()
    assert np.allclose(out.copy_to_host(), 3.0)


if __name__ == "__main__":
    main()
