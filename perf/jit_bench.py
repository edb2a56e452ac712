"""ember.jit against numba's @njit (when numba is importable) on the seed
scenarios of issue 6: the cost of a scalar call (hypot), of a call with one
array argument, the mandelbrot fractal on a 1000x1500 uint8 image, a Monte
Carlo estimate of pi with np.random, creating and returning arrays
(np.zeros, a pairwise distance matrix from np.empty), and the first call
(compilation); and ember.vectorize against numba's @vectorize on the
gaussian density of 1,000,000 float32 values, targets cpu and parallel
(medians of 15 runs, ratios to numba's same target).

Each time is the best of several runs; the same Python functions are
compiled by both. Absent numba is reported as absent.

    PYTHONPATH=python /usr/bin/python3 perf/jit_bench.py [--quick] [--json FILE]
"""

import argparse
import json
import statistics
import math
import os
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


SQRT_2PI = np.float32((2 * math.pi) ** 0.5)


def gaussian_pdf(x, mean, sigma):
    return math.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)


def median(fn, repeat=15):
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeat))


def run_vectorize(vectorize, quick):
    """ms per call of the gaussian ufunc (float32) per target."""
    n = 10_000 if quick else 1_000_000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    mean, sigma = np.float32(0.5), np.float32(1.5)
    rows = {}
    for target in ("cpu", "parallel"):
        t = time.perf_counter()
        f = vectorize(["float32(float32, float32, float32)"], target=target)(gaussian_pdf)
        rows[f"vectorize compile ({target})"] = (time.perf_counter() - t) * 1e3, "ms"
        out = np.empty_like(x)
        f(x, mean, sigma, out=out)
        rows[f"gaussian_pdf {n} float32 ({target})"] = \
            median(lambda: f(x, mean, sigma, out=out)) * 1e3, "ms"
    return rows


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
    p.add_argument("--json", metavar="FILE", help="where the JSON goes (default: "
                   "perf/results/jit_bench[-quick].json, which perf/plot.py and report.py read)")
    opts = p.parse_args()
    if not opts.json:
        opts.json = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                 "jit_bench-quick.json" if opts.quick else "jit_bench.json")
    quick = opts.quick
    results = {"ember": run("ember", ember.njit, quick)}
    vec = {"ember": run_vectorize(ember.vectorize, quick)}
    try:
        import numba
        results["numba"] = run("numba", numba.njit, quick)
        vec["numba"] = run_vectorize(numba.vectorize, quick)
    except ImportError:
        results["numba"] = vec["numba"] = None
    for title, table in (("ember.jit vs numba.njit", results),
                         ("ember.vectorize vs numba.vectorize", vec)):
        print(f"== {title}")
        for name, rows in table.items():
            if rows is None:
                print(f"{name}: not importable here")
                continue
            print(name)
            for k, (v, unit) in rows.items():
                other = table["numba"] if name == "ember" else None
                ratio = f"  ({v / other[k][0]:.2f}x numba)" if other else ""
                print(f"  {k:38s} {v:10.2f} {unit}{ratio}")
    if opts.json:
        def plain(table):
            return {name: None if rows is None else {k: v for k, (v, _) in rows.items()}
                    for name, rows in table.items()}
        data = {"jit": plain(results), "vectorize": plain(vec)}
        if vec["numba"]:
            data["vectorize_ratio_to_numba"] = {
                k: vec["ember"][k][0] / vec["numba"][k][0] for k in vec["ember"]}
        with open(opts.json, "w") as f:
            json.dump(data, f, indent=1)
        print(f"-> {opts.json}")


if __name__ == "__main__":
    main()
