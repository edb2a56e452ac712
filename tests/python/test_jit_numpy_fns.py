# np.unique, np.searchsorted, np.nonzero / one-argument np.where and
# np.histogram in ember.jit functions (python/ember/_jitlib.py), against
# NumPy: dtypes, NaNs, empty arrays, N-D input where NumPy flattens, both
# sides of searchsorted, histogram ranges given and taken from the data.
import numpy as np
import pytest

from ember import njit
from ember.errors import TypingError


@njit
def uniq(a):
    return np.unique(a)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int64, np.uint32, np.float32,
                                   np.float64])
def test_unique(dtype):
    rng = np.random.default_rng(8)
    for shape in [(0,), (1,), (50,), (6, 7)]:
        a = (rng.random(shape) * 6).astype(dtype)
        got = uniq(a)
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got, np.unique(a))
    f = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(uniq(f), np.unique(f))       # NaNs collapse (NumPy 1.24)
    np.testing.assert_array_equal(uniq(f.reshape(5, 1).T), np.unique(f))


@njit
def search(a, v):
    return np.searchsorted(a, v), np.searchsorted(a, v, side="right"), \
        np.searchsorted(a, v, "left")


def test_searchsorted():
    a = np.array([1.0, 2.0, 2.0, 2.0, 5.0, np.nan])
    for v in (-1.0, 1.0, 2.0, 3.0, 5.0, 7.0, np.nan):
        lo, hi, lo2 = search(a, v)
        assert (lo, hi, lo2) == (np.searchsorted(a, v), np.searchsorted(a, v, "right"),
                                 np.searchsorted(a, v)), v
    ints = np.arange(0, 100, 3)
    for v in (-5, 0, 3, 50, 99, 200):
        assert search(ints, v)[:2] == (np.searchsorted(ints, v), np.searchsorted(ints, v, "right"))
    assert search(np.zeros(0), 1.0) == (0, 0, 0)

    @njit
    def bad_side(a):
        return np.searchsorted(a, 1.0, side="middle")

    with pytest.raises(TypingError, match="side must be"):
        bad_side(a)


def test_nonzero_and_where():
    @njit
    def f(a):
        return np.nonzero(a), np.where(a > 0), np.nonzero(a > 10)

    for a in (np.array([0, 3, 0, -1, 5]), np.array([0.0, 0.5, np.nan]), np.zeros(0),
              np.array([True, False, True])):
        nz, wh, none = f(a)
        np.testing.assert_array_equal(nz[0], np.nonzero(a)[0])
        np.testing.assert_array_equal(wh[0], np.where(a > 0)[0])
        assert none[0].shape == (0,) and none[0].dtype == np.int64


def test_histogram():
    @njit
    def h(a, n):
        return np.histogram(a, n), np.histogram(a, bins=n, range=(0.0, 1.0)), np.histogram(a)

    rng = np.random.default_rng(9)
    for a in (rng.random(1000), rng.normal(size=(30, 40)), np.full(5, 2.0), np.zeros(0),
              np.linspace(0, 1, 101), rng.integers(0, 10, 200)):
        for n in (1, 7, 50):
            (c1, e1), (c2, e2), (c3, e3) = h(a, n)
            w1, w2, w3 = np.histogram(a, n), np.histogram(a, n, (0.0, 1.0)), np.histogram(a)
            for got, want in ((c1, w1[0]), (e1, w1[1]), (c2, w2[0]), (e2, w2[1]),
                              (c3, w3[0]), (e3, w3[1])):
                np.testing.assert_array_equal(got, want)


def test_concatenate_hstack_vstack():
    @njit
    def join1(a, b, c):
        return np.concatenate((a, b, c)), np.hstack((a, b)), np.vstack([a, c]), \
            np.concatenate([a]), np.concatenate((a, b), axis=0)

    a, b, c = np.arange(3.0), np.arange(4, dtype=np.int32), np.ones(3, np.float32)
    got = join1(a, b, c)
    want = (np.concatenate((a, b, c)), np.hstack((a, b)), np.vstack([a, c]),
            np.concatenate([a]), np.concatenate((a, b), axis=0))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)

    @njit
    def join2(x, y):
        return np.concatenate((x, y)), np.hstack((x, y)), np.vstack((x, y, x))

    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3), np.int64)
    for g, w in zip(join2(x, y), (np.concatenate((x, y)), np.hstack((x, y)),
                                  np.vstack((x, y, x)))):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(join2(x.T, y.T)[1], np.hstack((x.T, y.T)))

    with pytest.raises(ValueError):                  # rows of different lengths
        join1(a, b, np.ones(4))

    @njit
    def not_literal(t):
        return np.concatenate(t)

    with pytest.raises(TypingError, match="tuple or list"):
        not_literal((a, a))

    @njit
    def other_axis(x):
        return np.concatenate((x, x), axis=1)

    with pytest.raises(TypingError, match="axis=0 only"):
        other_axis(x)


@pytest.mark.parametrize("dtype", [np.bool_, np.int32, np.int64, np.float32, np.float64])
def test_dot_and_matmul(dtype):
    @njit
    def prods(a, b, v, w):
        return np.dot(a, b), a @ v, w @ b, np.dot(v, w[:v.shape[0]]), np.matmul(a, b), a @ b

    rng = np.random.default_rng(11)
    for m, k, p in [(3, 4, 5), (1, 1, 1), (0, 3, 2), (4, 0, 3), (17, 33, 9)]:
        a = (rng.random((m, k)) * 4).astype(dtype)
        b = (rng.random((k, p)) * 4).astype(dtype)
        v = (rng.random(k) * 4).astype(dtype)
        w = (rng.random(k) * 4).astype(dtype)
        for A, B in ((a, b), (np.asfortranarray(a), b.T.copy().T)):
            got = prods(A, B, v, w)
            want = (np.dot(A, B), A @ v, w @ B, np.dot(v, w), np.matmul(A, B), A @ B)
            for g, x in zip(got, want):
                x = np.asarray(x)
                if x.ndim:
                    assert g.dtype == x.dtype and g.shape == x.shape
                np.testing.assert_allclose(g, x, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_dot_errors():
    @njit
    def d(a, b):
        return a @ b

    with pytest.raises(ValueError, match="extents 3 and 2"):
        d(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(TypingError, match="1-D and 2-D"):
        d(np.ones((2, 2, 2)), np.ones(2))
    with pytest.raises(TypingError, match="real numbers"):
        d(np.ones(2, np.complex128), np.ones(2))


def _loadable(name):
    import ctypes
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def test_blas_found_where_the_machine_has_one():
    import ember
    if _loadable("libopenblas.so.0"):
        assert ember.cpu.blas == "libopenblas.so.0"
    elif not any(_loadable(n) for n in ("libcblas.so.3", "libblas.so.3")):
        assert ember.cpu.blas is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_products_in_every_layout(dtype):
    """Layouts the BLAS reads in place (C, Fortran, row-strided views,
    transposes) and those left to the loop (every other column, negative
    strides) give NumPy's product."""
    @njit
    def mm(a, b):
        return a @ b

    rng = np.random.default_rng(5)
    A = rng.random((40, 60)).astype(dtype)
    B = rng.random((60, 30)).astype(dtype)
    v = rng.random(60).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    views = [(A, B), (np.asfortranarray(A), np.asfortranarray(B)), (A[:, :50], B[:50]),
             (B.T, A.T), (A[::2, ::2], B[::2]), (A[::-1], B[:, ::-1]), (A[:1], B[:, :1]),
             (A[:, :1], B[:1])]
    for x, y in views:
        np.testing.assert_allclose(mm(x, y), x @ y, rtol=rtol)
    for x in (A, A.T.copy().T, A[:, ::2]):
        w = v[:x.shape[1]]
        np.testing.assert_allclose(mm(x, w), x @ w, rtol=rtol)
        u = v[:x.shape[0]]
        np.testing.assert_allclose(mm(u, x), u @ x, rtol=rtol)


def test_products_without_blas_match(tmp_path):
    """EMBER_BLAS=none: the compiled loop gives the same products."""
    import subprocess
    import sys
    script = tmp_path / "noblas.py"
    script.write_text(
        "import numpy as np, ember\n"
        "assert ember.cpu.blas is None, ember.cpu.blas\n"
        "f = ember.njit(lambda a, b: a @ b)\n"
        "r = np.random.default_rng(2)\n"
        "a, b = r.random((33, 17)), r.random((17, 9))\n"
        "np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-12)\n"
        "np.testing.assert_allclose(f(a.astype(np.float32), b.astype(np.float32)),\n"
        "                           (a @ b).astype(np.float32), rtol=1e-5)\n"
        "print('ok')\n")
    env = dict(__import__("os").environ, EMBER_BLAS="none")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
