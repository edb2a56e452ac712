"""ember's demo: the examples of the article "Numba: weapon of mass
optimization", run as kernels on the default device (a CUDA GPU when one is
usable, else every core of the CPU) and checked against NumPy.

1. The Mandelbrot set: a ``@cuda.jit`` kernel, one thread per pixel, calling
   a device function; the picture is saved as a PNG (``build/mandelbrot.png``
   in the checkout, or the path given as the first argument).
2. A device function (``@cuda.jit(device=True)``) that converts polar to
   Cartesian coordinates, called from a kernel that measures distances.
3. The Gaussian density as a ufunc, ``ember.vectorize(..., target='cuda')``.

Each result is compared with the same job done in NumPy; a mismatch exits
with status 1. Times are the best of several calls after a first call, which
compiles and is timed apart. Run it with ``tools/dev run [PNG_PATH]``.
"""

import math
import pathlib
import struct
import sys
import time
import warnings
import zlib

import numpy as np

import ember
from ember import cuda


def timed(fn, repeat=10):
    """(first call's ms, best of the next ``repeat`` calls' ms) of ``fn()``."""
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times[0], min(times[1:])


def report(title, ember_fn, numpy_fn, check, numpy_repeat=10, compile_ms=None):
    """Time both versions of one job, print the times and ``check()``'s verdict.
    Kernels compile in their first call; pass ``compile_ms`` when it was earlier."""
    first_ms, ember_ms = timed(ember_fn)
    _, numpy_ms = timed(numpy_fn, numpy_repeat)
    when = "in the first call" if compile_ms is None else "at decoration"
    ratio = (f"{numpy_ms / ember_ms:.1f}x faster" if numpy_ms >= ember_ms
             else f"{ember_ms / numpy_ms:.1f}x slower")
    print(f"{title}\n  ember {ember_ms:8.2f} ms   NumPy {numpy_ms:8.2f} ms   (ember {ratio}; "
          f"compiled {when}: {first_ms if compile_ms is None else compile_ms:.0f} ms)")
    ok, what = check()
    print(f"  {what}")
    if not ok:
        sys.exit(f"MISMATCH with NumPy: {title}")


# --- 1. the Mandelbrot set ---------------------------------------------------

@cuda.jit(device=True)
def mandel(x, y, max_iters):
    """How many steps of z = z*z + c stay inside radius 2 (max_iters: all)."""
    c = complex(x, y)
    z = 0j
    for i in range(max_iters):
        z = z * z + c
        if z.real * z.real + z.imag * z.imag >= 4.0:
            return i
    return max_iters


@cuda.jit
def mandel_kernel(min_x, max_x, min_y, max_y, image, iters):
    x, y = cuda.grid(2)
    height, width = image.shape
    if x < width and y < height:
        real = min_x + x * ((max_x - min_x) / width)
        imag = min_y + y * ((max_y - min_y) / height)
        image[y, x] = mandel(real, imag, iters)


def mandel_numpy(min_x, max_x, min_y, max_y, image, iters):
    """The same escape counts, every pixel at once in NumPy."""
    height, width = image.shape
    real = min_x + np.arange(width) * ((max_x - min_x) / width)
    imag = min_y + np.arange(height) * ((max_y - min_y) / height)
    c = real[None, :] + 1j * imag[:, None]
    z = np.zeros_like(c)
    image[:] = iters
    alive = np.ones(c.shape, bool)
    for i in range(iters):
        z[alive] = z[alive] * z[alive] + c[alive]
        escaped = alive & (z.real * z.real + z.imag * z.imag >= 4.0)
        image[escaped] = i
        alive &= ~escaped


def write_png(path, counts, iters):
    """Colour the escape counts (the set itself black) and write an RGB PNG."""
    t = np.sqrt(counts / iters)
    stops = [0.0, 0.16, 0.42, 0.64, 0.86, 1.0]
    palette = [(0, 7, 100), (32, 107, 203), (237, 255, 255), (255, 170, 0), (0, 2, 0),
               (0, 0, 0)]
    rgb = np.stack([np.interp(t, stops, [p[k] for p in palette]) for k in range(3)], -1)
    rgb = rgb.astype(np.uint8)
    height, width = counts.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], 1)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data)))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
                     + chunk(b"IEND", b""))


def demo_mandelbrot(png_path):
    height, width, iters = 1000, 1500, 100
    area = (-2.0, 1.0, -1.0, 1.0)
    image = cuda.device_array((height, width), np.int32)
    expected = np.empty((height, width), np.int32)
    blocks, threads = ((width + 15) // 16, (height + 15) // 16), (16, 16)

    def run():
        mandel_kernel[blocks, threads](*area, image, iters)
        cuda.synchronize()

    def check():
        # a point right on an escape boundary may round differently
        bad = int((image.copy_to_host() != expected).sum())
        return bad <= 50, f"{bad} of {height * width} pixels differ from NumPy's (50 allowed)"

    report(f"1. Mandelbrot set {width}x{height}, {iters} iterations (kernel + device function)",
           run, lambda: mandel_numpy(*area, expected, iters), check, numpy_repeat=1)
    write_png(png_path, image.copy_to_host(), iters)
    print(f"  picture: {png_path}")


# --- 2. a device function called from a kernel -------------------------------

@cuda.jit(device=True)
def polar_to_cartesian(rho, theta):
    return rho * math.cos(theta), rho * math.sin(theta)


@cuda.jit
def polar_distance(rho1, theta1, rho2, theta2, out):
    i = cuda.grid(1)
    if i < out.size:
        x1, y1 = polar_to_cartesian(rho1[i], theta1[i])
        x2, y2 = polar_to_cartesian(rho2[i], theta2[i])
        out[i] = ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5


def polar_distance_numpy(rho1, theta1, rho2, theta2):
    x1, y1 = rho1 * np.cos(theta1), rho1 * np.sin(theta1)
    x2, y2 = rho2 * np.cos(theta2), rho2 * np.sin(theta2)
    return np.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2)


def demo_polar(rng, n=1_000_000):
    args = [rng.uniform(0.5, 1.5, n).astype(np.float32),
            rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            rng.uniform(0.5, 1.5, n).astype(np.float32),
            rng.uniform(-np.pi, np.pi, n).astype(np.float32)]
    dargs = [cuda.to_device(a) for a in args]
    out = cuda.device_array(n, np.float32)

    def run():
        polar_distance[(n + 255) // 256, 256](*dargs, out)
        cuda.synchronize()

    def check():
        err = float(np.abs(out.copy_to_host() - polar_distance_numpy(*args)).max())
        return err <= 1e-5, (f"largest difference from NumPy's float32 result: {err:.1e} "
                             "(1e-5 allowed)")

    report(f"2. distances of {n:,} pairs of polar points (kernel + device function, "
           "device arrays)", run, lambda: polar_distance_numpy(*args), check)


# --- 3. the Gaussian density as a CUDA ufunc ----------------------------------

SQRT_2PI = np.float32((2 * math.pi) ** 0.5)


def gaussian_dens(x, mean, sigma):
    return math.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)


def demo_gaussian(rng, n=1_000_000):
    t0 = time.perf_counter()
    # the same as decorating gaussian_dens with @ember.vectorize([...], target="cuda")
    gaussian_dens_gpu = ember.vectorize(["float32(float32, float32, float32)"],
                                        target="cuda")(gaussian_dens)
    compile_ms = (time.perf_counter() - t0) * 1e3
    x = rng.uniform(-3, 3, n).astype(np.float32)
    mean, sigma = np.float32(0.0), np.float32(1.0)

    def numpy_gaussian():
        return np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)

    def check():
        expected = np.exp(-0.5 * x.astype(np.float64) ** 2) / np.sqrt(2 * np.pi)
        got = gaussian_dens_gpu(x, mean, sigma)
        err = float((np.abs(got - expected) / expected).max())
        return err <= 1e-5, (f"largest relative difference from NumPy's float64 result: "
                             f"{err:.1e} (1e-5 allowed)")

    report(f"3. Gaussian density of {n:,} float32 values (vectorize target='cuda', "
           "NumPy arrays)", lambda: gaussian_dens_gpu(x, mean, sigma),
           numpy_gaussian, check, compile_ms=compile_ms)


def main():
    root = pathlib.Path(__file__).resolve().parents[1]
    png_path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                            root / "build" / "mandelbrot.png")
    dev = cuda.get_current_device()
    where = "" if cuda.is_available() else " (no CUDA GPU usable: kernels run on the CPU's cores)"
    print(f"device: {dev.kind}:{dev.id} {dev.name.strip()}{where}")
    # vectorize(target='cuda') would warn that it runs on the cpu device: said above
    warnings.filterwarnings("ignore", message=".*run on ember's cpu device")

    rng = np.random.default_rng(0)
    demo_mandelbrot(png_path.resolve())
    demo_polar(rng)
    demo_gaussian(rng)
    print("all results match NumPy's")


if __name__ == "__main__":
    main()
