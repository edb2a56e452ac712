"""``cuda.grid(2)`` over a matrix: ``out[i, j] = a[i, j] * i + j``.

Run: ``EMBER_DEVICE=cpu PYTHONPATH=python python3 examples/grid2d.py``
"""

import numpy as np

from ember import cuda


@cuda.jit
def scale_rows(a, out):
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = a[i, j] * i + j


def main():
    rows, cols = 123, 77
    a = np.random.default_rng(1).standard_normal((rows, cols))
    out = np.zeros_like(a)
    block = (16, 8)
    grid = ((rows + block[0] - 1) // block[0], (cols + block[1] - 1) // block[1])
    scale_rows[grid, block](a, out)          # host arrays: out is copied back
    i, j = np.indices(a.shape)
    np.testing.assert_allclose(out, a * i + j, rtol=1e-12)
    print(f"grid2d: {rows}x{cols} matrix over a {grid} grid of {block} blocks; "
          "matches NumPy")


if __name__ == "__main__":
    main()
