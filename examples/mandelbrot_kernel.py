"""The Mandelbrot set, one thread per pixel, into a 300x200 uint8 image.

Run: ``EMBER_DEVICE=cpu PYTHONPATH=python python3 examples/mandelbrot_kernel.py``
"""

import time

import numpy as np

from ember import cuda

WIDTH, HEIGHT, MAX_ITERS = 300, 200, 100
XMIN, XMAX, YMIN, YMAX = -2.0, 1.0, -1.0, 1.0


@cuda.jit
def mandel_kernel(xmin, xmax, ymin, ymax, max_iters, image):
    x, y = cuda.grid(2)
    height = image.shape[0]
    width = image.shape[1]
    if x < width and y < height:
        real = xmin + x * (xmax - xmin) / width
        imag = ymin + y * (ymax - ymin) / height
        c = complex(real, imag)
        z = 0j
        count = max_iters
        for n in range(max_iters):
            z = z * z + c
            if z.real * z.real + z.imag * z.imag >= 4.0:
                count = n
                break
        image[y, x] = count


def mandel_numpy(xmin, xmax, ymin, ymax, max_iters, image):
    """The same computation, pixel by pixel in vectorised NumPy."""
    height, width = image.shape
    xs = xmin + np.arange(width) * (xmax - xmin) / width
    ys = ymin + np.arange(height) * (ymax - ymin) / height
    c = xs[None, :] + 1j * ys[:, None]
    z = np.zeros_like(c)
    count = np.full(c.shape, max_iters, np.int64)
    alive = np.ones(c.shape, bool)
    for n in range(max_iters):
        z[alive] = z[alive] * z[alive] + c[alive]
        escaped = alive & (z.real * z.real + z.imag * z.imag >= 4.0)
        count[escaped] = n
        alive &= ~escaped
    image[:] = count


def main():
    image = np.zeros((HEIGHT, WIDTH), np.uint8)
    dimage = cuda.to_device(image)
    block = (16, 16)
    grid = ((WIDTH + 15) // 16, (HEIGHT + 15) // 16)
    mandel_kernel[grid, block](XMIN, XMAX, YMIN, YMAX, MAX_ITERS, dimage)   # compile
    t0 = time.perf_counter()
    mandel_kernel[grid, block](XMIN, XMAX, YMIN, YMAX, MAX_ITERS, dimage)
    cuda.synchronize()
    dt = time.perf_counter() - t0
    dimage.copy_to_host(image)

    expected = np.zeros_like(image)
    mandel_numpy(XMIN, XMAX, YMIN, YMAX, MAX_ITERS, expected)
    # a pixel right on the escape boundary may round differently
    mismatches = int((image != expected).sum())
    assert mismatches <= 10, f"{mismatches} pixels differ from NumPy"
    print(f"mandelbrot {WIDTH}x{HEIGHT}: checksum {int(image.sum(dtype=np.int64))}, "
          f"{dt * 1e3:.2f} ms, {mismatches} pixels differ from NumPy")


if __name__ == "__main__":
    main()
