"""saxpy with ember: ``out = a * x + y`` on one million float32s.

Run: ``EMBER_DEVICE=cpu PYTHONPATH=python python3 examples/saxpy.py``
(the same code runs with ``from numba import cuda``).
"""

import time

import numpy as np

from ember import cuda


@cuda.jit("void(float32, float32[::1], float32[::1], float32[::1])")
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


def main():
    n = 1 << 20
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    a = np.float32(2.5)

    dx, dy = cuda.to_device(x), cuda.to_device(y)
    dout = cuda.device_array_like(dx)
    threads = 256
    blocks = (n + threads - 1) // threads
    saxpy[blocks, threads](a, dx, dy, dout)          # warm up
    t0 = time.perf_counter()
    saxpy[blocks, threads](a, dx, dy, dout)
    cuda.synchronize()
    dt = time.perf_counter() - t0
    out = dout.copy_to_host()

    np.testing.assert_allclose(out, a * x + y, rtol=1e-6, atol=1e-6)
    print(f"saxpy: {n} elements in {dt * 1e3:.2f} ms "
          f"({3 * 4 * n / dt / 1e9:.2f} GB/s); matches NumPy")


if __name__ == "__main__":
    main()
