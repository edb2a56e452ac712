"""Jacobi iteration for Laplace's equation on a square plate.

Two device arrays are swapped after each step; nothing goes back to the
host until the end. The result is compared with the same iteration in NumPy.

Run: ``EMBER_DEVICE=cpu PYTHONPATH=python python3 examples/laplace.py``
"""

import time

import numpy as np

from ember import cuda

N = 64
STEPS = 500


@cuda.jit
def jacobi_step(src, dst):
    i, j = cuda.grid(2)
    n = src.shape[0]
    m = src.shape[1]
    if i >= 1 and j >= 1 and i < n - 1 and j < m - 1:
        dst[i, j] = 0.25 * (src[i - 1, j] + src[i + 1, j] + src[i, j - 1] + src[i, j + 1])


def initial():
    u = np.zeros((N, N), np.float64)
    u[0, :] = 1.0          # the hot edge; the others stay at 0
    return u


def jacobi_numpy(u, steps):
    a, b = u.copy(), u.copy()
    for _ in range(steps):
        b[1:-1, 1:-1] = 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])
        a, b = b, a
    return a


def main():
    u = initial()
    d_a = cuda.to_device(u)
    d_b = cuda.to_device(u)          # the boundary must be in both
    block = (16, 16)
    grid = ((N + 15) // 16, (N + 15) // 16)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        jacobi_step[grid, block](d_a, d_b)
        d_a, d_b = d_b, d_a
    result = d_a.copy_to_host()
    dt = time.perf_counter() - t0

    expected = jacobi_numpy(u, STEPS)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-14)
    print(f"laplace: {N}x{N}, {STEPS} Jacobi steps in {dt * 1e3:.1f} ms; "
          f"centre value {result[N // 2, N // 2]:.6f}; matches NumPy")


if __name__ == "__main__":
    main()
