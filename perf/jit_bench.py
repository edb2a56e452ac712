"""ember.jit against numba's @njit on the seed scenarios of issue 6: the
cost of a scalar call (hypot), of a call with one array argument, the
mandelbrot fractal on a 1000x1500 uint8 image, creating and returning arrays
(np.zeros, a pairwise distance matrix from np.empty), a Monte Carlo estimate
of pi with np.random, the first call (compilation), whole-array arithmetic
(np.sqrt(a*a + b*b)), a parallel=True prange reduction, k-means (np.array
of a list comprehension, argmin, boolean masks), a histogram over a.flat and
sorting rows (np.sort); and ember.vectorize
against numba's @vectorize on the gaussian density of 1,000,000 float32
values, targets cpu and parallel (and their compile times); and a
Lennard-Jones energy over all pairs in a prange loop, whose `** 6`, `** 2`
and `** 0.5` are multiplications and a square root in both (issue 13).

Both compile the same Python functions in this one process; each time is
the median of repeated runs after a warm-up (perf/_common.py's measure), and
every result is checked (against NumPy, or the known answer) before it is
timed. A compile row takes a fresh function object per sample (compilers
keep what they compiled per function object); the warm-up sample absorbs
the process's one-time setup, which perf/bench_compile.py measures in fresh
processes. numba not installed (or failing on a case) is reported absent.

    PYTHONPATH=python /usr/bin/python3 perf/jit_bench.py [--quick] [--json FILE]

Writes perf/results/jit_bench[-quick].json (or FILE), which perf/plot.py
and perf/report.py read.
"""

import argparse
import math

import numpy as np

import _common as C

try:  # ember accepts numba's prange too; numba only its own
    from numba import prange
except ImportError:
    from ember import prange


def make_hypot():
    def hypot(x, y):
        return math.sqrt(x * x + y * y)
    return hypot


def touch(a):
    a[0] += 1.0


def make_fractal(njit):
    """A fresh mandelbrot (the escape count of one point) and the loop
    over the image that calls it, both compiled by `njit`."""
    def mandel(x, y, max_iters):
        i = 0
        c = complex(x, y)
        z = 0.0j
        for i in range(max_iters):
            z = z * z + c
            if (z.real * z.real + z.imag * z.imag) >= 4:
                return i
        return 255

    mandel_fn = njit(mandel)

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
    return njit(create_fractal)


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


def kmeans(X, centroids0, iters):
    """Lloyd's k-means as numba users write it: a list comprehension into
    np.array, argmin, boolean-mask indexing and an axis sum."""
    K = centroids0.shape[0]
    n = X.shape[0]
    centroids = centroids0.copy()
    labels = np.zeros(n, np.int64)
    for it in range(iters):
        for i in range(n):
            dist = np.array([((X[i] - centroids[k]) ** 2).sum() for k in range(K)])
            labels[i] = dist.argmin()
        for k in range(K):
            members = X[labels == k]
            if members.shape[0] > 0:
                centroids[k] = members.sum(axis=0) / members.shape[0]
    return centroids, labels


def histogram_flat(a, lo, hi, nbins):
    """np.histogram's counts over every element of a (a.flat)."""
    h = np.zeros(nbins, np.int64)
    scale = nbins / (hi - lo)
    for x in a.flat:
        k = int((x - lo) * scale)
        if 0 <= k < nbins:
            h[k] += 1
        elif x == hi:
            h[nbins - 1] += 1
    return h


def sort_rows(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = np.sort(a[i])
    return out


def matmul(a, b):
    return a @ b


def kmeans_ref(X, centroids0, iters):
    c = centroids0.copy()
    for _ in range(iters):
        labels = ((X[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)
        for k in range(c.shape[0]):
            m = X[labels == k]
            if len(m):
                c[k] = m.sum(0) / len(m)
    return c, labels


SQRT_2PI = np.float32((2 * math.pi) ** 0.5)


def norm2(a, b):
    return np.sqrt(a * a + b * b)


def psum_sqrt(x):
    s = 0.0
    for i in prange(x.shape[0]):
        s += math.sqrt(x[i])
    return s


def lennard_jones(pos, sigma, eps):
    """The Lennard-Jones energy of all pairs: 4 eps ((s/r)**12 - (s/r)**6)."""
    n = pos.shape[0]
    e = 0.0
    for i in prange(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r = (dx ** 2 + dy ** 2 + dz ** 2) ** 0.5
            sr6 = (sigma / r) ** 6
            e += 4.0 * eps * (sr6 ** 2 - sr6)
    return e


def lennard_jones_ref(pos, sigma, eps):
    total = 0.0
    for i in range(pos.shape[0] - 1):
        r = np.sqrt(((pos[i + 1:] - pos[i]) ** 2).sum(axis=1))
        sr6 = (sigma / r) ** 6
        total += math.fsum(4.0 * eps * (sr6 * sr6 - sr6))
    return total


def make_gaussian():
    def gaussian_pdf(x, mean, sigma):
        return math.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * SQRT_2PI)
    return gaussian_pdf


# ---- independent references ----------------------------------------------

def mandel_ref(shape, iters, min_x=-2.0, max_x=1.0, min_y=-1.0, max_y=1.0):
    """NumPy's escape counts on the same grid (255 where a point stays)."""
    h, w = shape
    real = min_x + np.arange(w) * ((max_x - min_x) / w)
    imag = min_y + np.arange(h) * ((max_y - min_y) / h)
    c = real[None, :] + 1j * imag[:, None]
    z = np.zeros_like(c)
    n = np.full(shape, 255, np.uint8)
    alive = np.ones(shape, bool)
    for k in range(iters):
        z[alive] = z[alive] * z[alive] + c[alive]
        esc = alive & (z.real * z.real + z.imag * z.imag >= 4)
        n[esc] = k
        alive &= ~esc
    return n


def check_mandel(got, want):
    # a point on the escape boundary may round differently: allow 0.1 %
    bad = np.mean(got != want)
    assert bad <= 1e-3, f"{bad:.2%} of the pixels differ from NumPy's"


def equals(want):
    def check(got):
        assert got == want, f"{got!r}, expected {want!r}"
    return check


def check_pi(est, n):
    # 6 standard deviations of the estimate: fails by chance about never
    p = math.pi / 4
    assert abs(est - math.pi) < 6 * 4 * math.sqrt(p * (1 - p) / n), est


def gaussian_ref(x, mean, sigma):
    x, mean, sigma = (np.float64(v) for v in (x, mean, sigma))
    return np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


# ---- the cases ------------------------------------------------------------

class Sizes:
    def __init__(self, quick):
        self.quick = quick
        self.shape = (100, 150) if quick else (1000, 1500)
        self.compile_shape = (10, 15)       # the first call: mostly the compile
        self.calls = 10_000 if quick else 100_000   # calls per sample of a call cost
        self.points = 50 if quick else 500
        self.samples = 10_000 if quick else 10_000_000
        self.n = 10_000 if quick else 1_000_000
        self.atoms = 300 if quick else 4000     # Lennard-Jones: atoms**2 / 2 pairs
        self.repeat = 3 if quick else 7
        self.compile_repeat = 2 if quick else 5
        self.kmeans = (200, 4, 8, 3) if quick else (5000, 4, 8, 5)   # points, dims, K, iters
        self.hist = (100, 100) if quick else (2000, 1000)
        self.rows = (50, 100) if quick else (2000, 500)
        self.matmul = 40 if quick else 300


def cases(s):
    """(case, unit) in table order."""
    h, w = s.shape
    ch, cw = s.compile_shape
    out = [("hypot(3.0, 4.0)", "ns"), ("touch(a) (one array argument)", "ns"),
           ("np.zeros(10) created and returned", "ns"),
           (f"mandelbrot {h}x{w}", "ms"),
           (f"pairwise distances {s.points}x8 (np.empty)", "ms"),
           (f"monte carlo pi, {s.samples} samples", "ms"),
           ("first call hypot (compile)", "ms"),
           (f"first call mandelbrot {ch}x{cw} (compile)", "ms")]
    for target in ("cpu", "parallel"):
        out += [(f"vectorize gaussian_pdf {s.n} float32 ({target})", "ms"),
                (f"vectorize compile gaussian_pdf ({target})", "ms")]
    out += [(f"array expression np.sqrt(a*a + b*b), {s.n} float64", "ms"),
            (f"prange sum of sqrt, {s.n * 10} float64 (parallel=True)", "ms"),
            (f"prange Lennard-Jones energy, {s.atoms} atoms (parallel=True)", "ms")]
    n, d, k, it = s.kmeans
    out += [(f"k-means {n}x{d}, K={k}, {it} iterations (np.array of a list comprehension, "
             "argmin, a[mask], sum(axis=0))", "ms"),
            (f"histogram of a {s.hist[0]}x{s.hist[1]} array over a.flat, 50 bins", "ms"),
            (f"sorting the rows of a {s.rows[0]}x{s.rows[1]} float64 array (np.sort)", "ms"),
            (f"a @ b of two {s.matmul}x{s.matmul} float64 matrices", "ms")]
    return out


def timed(out, case, fn, check, number=1, repeat=7, scale=1e3):
    """Checks fn's result, then measures it into out[case]; an error is
    recorded as absent with its message."""
    try:
        check(fn())
        out[case] = C.measure(fn, number, repeat, warmup=1, scale=scale)
    except Exception as e:
        out[case] = C.absent(f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}")


def run(njit, vectorize, s):
    """{case: summary} of one tool (njit and vectorize its decorators)."""
    names = [c for c, _ in cases(s)]
    out = {}
    it = iter(names)

    h = njit(make_hypot())
    timed(out, next(it), lambda: h(3.0, 4.0), equals(5.0),
          s.calls, s.repeat, 1e9)
    tt = njit(touch)
    a = np.zeros(8)

    def touch_check(_):
        assert a[0] == 1.0 and not a[1:].any(), a
    timed(out, next(it), lambda: tt(a), touch_check, s.calls, s.repeat, 1e9)
    fr = njit(fresh)

    def zeros_check(r):
        assert r.shape == (10,) and r.dtype == np.float64 and not r.any(), r
    timed(out, next(it), lambda: fr(10), zeros_check, s.calls, s.repeat, 1e9)

    create = make_fractal(njit)
    image = np.zeros(s.shape, dtype=np.uint8)
    want = mandel_ref(s.shape, 20)
    timed(out, next(it), lambda: create(-2.0, 1.0, -1.0, 1.0, image, 20),
          lambda _: check_mandel(image, want), 1, s.repeat)

    pd = njit(pairwise_distances)
    X = np.random.default_rng(0).normal(size=(s.points, 8))
    dref = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    timed(out, next(it), lambda: pd(X),
          lambda r: np.testing.assert_allclose(r, dref, rtol=1e-12, atol=1e-12), 1, s.repeat)

    mc = njit(monte_carlo_pi)
    timed(out, next(it), lambda: mc(s.samples), lambda r: check_pi(r, s.samples), 1, s.repeat)

    # compile rows: a fresh function object per sample, compiled by its first call
    timed(out, next(it), lambda: njit(make_hypot())(3.0, 4.0), equals(5.0),
          1, s.compile_repeat)
    small = np.zeros(s.compile_shape, dtype=np.uint8)
    small_want = mandel_ref(s.compile_shape, 20)
    timed(out, next(it), lambda: make_fractal(njit)(-2.0, 1.0, -1.0, 1.0, small, 20),
          lambda _: check_mandel(small, small_want), 1, s.compile_repeat)

    x = np.random.default_rng(0).standard_normal(s.n).astype(np.float32)
    mean, sigma = np.float32(0.5), np.float32(1.5)
    gref = gaussian_ref(x, mean, sigma)
    sig = ["float32(float32, float32, float32)"]
    for target in ("cpu", "parallel"):
        res = np.empty_like(x)

        def gcheck(_, res=res):
            assert res.dtype == np.float32
            np.testing.assert_allclose(res, gref, rtol=1e-5, atol=1e-7)
        try:
            f = vectorize(sig, target=target)(make_gaussian())
            timed(out, next(it), lambda f=f, res=res: f(x, mean, sigma, out=res), gcheck,
                  1, s.repeat)
        except Exception as e:
            out[next(it)] = C.absent(f"{type(e).__name__}: {str(e)[:300]}")
        one = np.float32(0.25)
        timed(out, next(it),
              lambda target=target: vectorize(sig, target=target)(make_gaussian())(
                  one, mean, sigma),
              lambda r: np.testing.assert_allclose(r, gaussian_ref(one, mean, sigma),
                                                   rtol=1e-5), 1, s.compile_repeat)

    rng = np.random.default_rng(1)
    a, b = rng.random(s.n), rng.random(s.n)
    nref = np.sqrt(a * a + b * b)
    ne = njit(norm2)
    timed(out, next(it), lambda: ne(a, b),
          lambda r: np.testing.assert_allclose(r, nref, rtol=1e-15), 1, s.repeat)
    xs = rng.random(s.n * 10)
    sref = math.fsum(np.sqrt(xs))
    ps = njit(parallel=True)(psum_sqrt)
    timed(out, next(it), lambda: ps(xs),
          lambda r: np.testing.assert_allclose(r, sref, rtol=1e-9), 1, s.repeat)
    pos = rng.random((s.atoms, 3)) * (s.atoms ** (1 / 3) * 1.2)
    lref = lennard_jones_ref(pos, 1.0, 1.0)
    lj = njit(parallel=True)(lennard_jones)
    timed(out, next(it), lambda: lj(pos, 1.0, 1.0),
          lambda r: np.testing.assert_allclose(r, lref, rtol=1e-9), 1, s.repeat)

    n, d, k, iters = s.kmeans
    X = np.random.default_rng(3).normal(size=(n, d)) + np.repeat(
        np.random.default_rng(4).normal(scale=6, size=(k, d)), n // k + 1, axis=0)[:n]
    c0 = X[::n // k][:k].copy()
    cref, lref = kmeans_ref(X, c0, iters)
    km = njit(kmeans)

    def kcheck(r):
        np.testing.assert_allclose(r[0], cref, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(r[1], lref)
    timed(out, next(it), lambda: km(X, c0, iters), kcheck, 1, s.repeat)

    img = np.random.default_rng(5).random(s.hist)
    href = np.histogram(img, 50, (0.0, 1.0))[0]
    hf = njit(histogram_flat)
    timed(out, next(it), lambda: hf(img, 0.0, 1.0, 50),
          lambda r: np.testing.assert_array_equal(r, href), 1, s.repeat)

    rows = np.random.default_rng(6).random(s.rows)
    rref = np.sort(rows, axis=1)
    sr = njit(sort_rows)
    timed(out, next(it), lambda: sr(rows),
          lambda r: np.testing.assert_array_equal(r, rref), 1, s.repeat)

    ma, mb = np.random.default_rng(7).random((2, s.matmul, s.matmul))
    mref = ma @ mb
    mm = njit(matmul)
    timed(out, next(it), lambda: mm(ma, mb),
          lambda r: np.testing.assert_allclose(r, mref, rtol=1e-12), 1, s.repeat)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats: a smoke test, never judged on time")
    p.add_argument("--json", metavar="FILE", help="where the results go (default: "
                   "perf/results/jit_bench[-quick].json, which perf/plot.py and report.py read)")
    args = p.parse_args()
    s = Sizes(args.quick)
    import ember
    results = {"ember": run(ember.njit, ember.vectorize, s)}
    if C.numba_version() is None:
        results["numba"] = {}
        missing = C.absent("numba not installed")
    else:
        import numba
        results["numba"] = run(numba.njit, numba.vectorize, s)
        missing = None
    rows = [C.row(case, unit, {t: results[t].get(case, missing) for t in ("ember", "numba")})
            for case, unit in cases(s)]
    notes = [
        f"calls: {s.calls} calls per sample for the ns rows, 1 for the ms rows; "
        f"{s.repeat} samples after a warm-up ({s.compile_repeat} for the compile rows)",
        "compile rows: a new function object (and for vectorize a new ufunc) per sample, "
        "compiled and called once; the mandelbrot one compiles both of its functions. The "
        "warm-up sample takes the process's one-time compiler setup (perf/bench_compile.py "
        "has fresh-process numbers)",
        "monte carlo: ember's and numba's np.random are different streams; each estimate is "
        "checked to lie within 6 standard deviations of pi",
        "ratios are numba/ember medians: above 1, ember is faster",
    ]
    C.print_table("ember.jit / ember.vectorize vs numba (per call)", rows, ["ember", "numba"])
    C.write_results("jit_bench", "ember.jit and ember.vectorize vs numba, per call "
                    "(lower is better)", args.quick, rows, notes, path=args.json)


if __name__ == "__main__":
    main()
