"""ember.jit against numba's @njit (when numba is importable) on the seed
scenarios of issue 6: the cost of a scalar call (hypot), of a call with one
array argument, the mandelbrot fractal on a 1000x1500 uint8 image, a Monte
Carlo estimate of pi with np.random, creating and returning arrays
(np.zeros, a pairwise distance matrix from np.empty), and the first call
(compilation).

Each time is the best of several runs; the same Python functions are
compiled by both. Absent numba is reported as absent.

    PYTHONPATH=python /usr/bin/python3 perf/jit_bench.py [--quick]
"""

import argparse
import math
import time
import timeit

import numpy as np

import ember


def hypot(x, y):
    return math.sqrt(x * x + y * y)


def touch(a):
    a[0] += 1.0


def mandel(x, y, max_iters):
    i = 0
    c = complex(x, y)
    z = 0.0j
    for i in range(max_iters):
        z = z * z + c
        if (z.real * z.real + z.imag * z.imag) >= 4:
            return i
    return 255


def make_fractal(mandel_fn):
    def create_fractal(min_x, max_x, min_y, max_y, image, iters):
        height = image.shape[0]
        width = image.shape[1]
        pixel_size_x = (max_x - min_x) / width
        pixel_size_y = (max_y - min_y) / height
        for x in range(0, width):
            real = min_x + x * pixel_size_x
            for y in range(0, height):
                imag = min_y + y * pixel_size_y
                color = mandel_fn(real, imag, iters)
                image[y, x] = color
    return create_fractal


def fresh(n):
    return np.zeros(n)


def pairwise_distances(X):
    n, d = X.shape
    D = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            D[i, j] = np.sqrt(s)
    return D


def monte_carlo_pi(nsamples):
    acc = 0
    for i in range(nsamples):
        x = np.random.random()
        y = np.random.random()
        if (x ** 2 + y ** 2) < 1.0:
            acc += 1
    return 4.0 * acc / nsamples


def best(fn, number=1, repeat=5):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def run(name, njit, quick):
    shape = (100, 150) if quick else (1000, 1500)
    samples = 10_000 if quick else 10_000_000
    rows = {}
    h = njit(hypot)
    t = time.perf_counter()
    h(3.0, 4.0)
    rows["first call hypot (compile)"] = (time.perf_counter() - t) * 1e3, "ms"
    rows["hypot(3.0, 4.0)"] = best(lambda: h(3.0, 4.0), 100_000) * 1e9, "ns"
    tt = njit(touch)
    a = np.zeros(8)
    tt(a)
    rows["touch(a) (one array)"] = best(lambda: tt(a), 100_000) * 1e9, "ns"
    m = njit(mandel)
    create = njit(make_fractal(m))
    image = np.zeros(shape, dtype=np.uint8)
    t = time.perf_counter()
    create(-2.0, 1.0, -1.0, 1.0, image, 20)
    rows["first call mandelbrot (compile)"] = (time.perf_counter() - t) * 1e3, "ms"
    rows[f"mandelbrot {shape[0]}x{shape[1]}"] = \
        best(lambda: create(-2.0, 1.0, -1.0, 1.0, image, 20)) * 1e3, "ms"
    fr = njit(fresh)
    fr(10)
    rows["np.zeros(10) created and returned"] = best(lambda: fr(10), 100_000) * 1e9, "ns"
    pd = njit(pairwise_distances)
    X = np.random.default_rng(0).normal(size=(50 if quick else 500, 8))
    pd(X)
    rows[f"pairwise distances {X.shape[0]}x8 (np.empty)"] = best(lambda: pd(X), 5) * 1e3, "ms"
    mc = njit(monte_carlo_pi)
    mc(10)
    rows[f"monte carlo pi, {samples} samples"] = best(lambda: mc(samples), 1, 3) * 1e3, "ms"
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    quick = p.parse_args().quick
    results = {"ember": run("ember", ember.njit, quick)}
    try:
        import numba
        results["numba"] = run("numba", numba.njit, quick)
    except ImportError:
        results["numba"] = None
    for name, rows in results.items():
        if rows is None:
            print(f"{name}: not importable here")
            continue
        print(name)
        for k, (v, unit) in rows.items():
            other = results["numba"] if name == "ember" else None
            ratio = f"  ({v / other[k][0]:.2f}x numba)" if other else ""
            print(f"  {k:38s} {v:10.2f} {unit}{ratio}")


if __name__ == "__main__":
    main()
