"""Jacobi iteration for Laplace's equation in one launch, with grid.sync().

examples/laplace.py launches a kernel per step; here every step runs in a
single launch and the whole grid waits at ``grid.sync()`` between steps
(cooperative groups: on a GPU a cooperative launch, whose grid must fit on
the device at once; on the CPU device the blocks run as fibers in phases).
The result is compared with the same iteration in NumPy.

Run: ``EMBER_DEVICE=cpu PYTHONPATH=python python3 examples/grid_sync_jacobi.py``
"""

import time

import numpy as np

from ember import cuda

N = 64
STEPS = 200


@cuda.jit
def jacobi(a, b, steps):
    grid = cuda.cg.this_grid()
    i, j = cuda.grid(2)
    n = a.shape[0]
    m = a.shape[1]
    inside = i >= 1 and j >= 1 and i < n - 1 and j < m - 1
    for step in range(steps):
        if step % 2 == 0:
            src = a
            dst = b
        else:
            src = b
            dst = a
        if inside:
            dst[i, j] = 0.25 * (src[i - 1, j] + src[i + 1, j] + src[i, j - 1] + src[i, j + 1])
        grid.sync()  # every point of this step written before any is read in the next


def jacobi_numpy(u, steps):
    a, b = u.copy(), u.copy()
    for _ in range(steps):
        b[1:-1, 1:-1] = 0.25 * (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:])
        a, b = b, a
    return a


def main():
    u = np.zeros((N, N), np.float64)
    u[0, :] = 1.0          # the hot edge; the others stay at 0
    d_a, d_b = cuda.to_device(u), cuda.to_device(u)  # the boundary must be in both
    block = (8, 8)
    grid = ((N + 7) // 8, (N + 7) // 8)  # 64 blocks
    t0 = time.perf_counter()
    jacobi[grid, block](d_a, d_b, STEPS)
    got = (d_a if STEPS % 2 == 0 else d_b).copy_to_host()
    took = time.perf_counter() - t0
    want = jacobi_numpy(u, STEPS)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    print(f"{STEPS} Jacobi steps on {N}x{N} in one launch of {grid[0] * grid[1]} blocks: "
          f"{took * 1e3:.1f} ms on {cuda.get_current_device().kind}; matches NumPy")


if __name__ == "__main__":
    main()
