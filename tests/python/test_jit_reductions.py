# Reductions in ember.jit functions against NumPy: sum/prod/min/max/mean/
# var/std/argmin/argmax/all/any/cumsum/cumprod as methods and np.* functions,
# over every element and along an axis (also negative, from a variable), on
# every numeric dtype, empty arrays, non-contiguous layouts; NumPy's result
# dtypes and its ValueErrors.
import numpy as np
import pytest

import ember
from ember.errors import TypingError, UnsupportedError

DTYPES = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint32, np.float32, np.float64,
          np.complex128]
OPS = ["sum", "prod", "min", "max", "mean", "var", "std", "argmin", "argmax", "all", "any",
       "cumsum", "cumprod"]
NOT_COMPLEX = {"min", "max", "var", "std", "argmin", "argmax"}


def _method(op):
    """f(a) = a.op(), g(a, k) = a.op(axis=k), h(a, k) = np.op(a, k), written
    to a module file (ember reads the source)."""
    import importlib.util
    import tempfile
    src = (f"import numpy as np\n"
           f"def f(a):\n    return a.{op}()\n"
           f"def g(a, k):\n    return a.{op}(axis=k)\n"
           f"def h(a, k):\n    return np.{op}(a, k)\n")
    path = f"{tempfile.mkdtemp()}/reduce_{op}.py"
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(f"reduce_{op}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.f, mod.g, mod.h


_CACHE = {}


def _jitted(op):
    if op not in _CACHE:
        _CACHE[op] = tuple(ember.njit(x) for x in _method(op))
    return _CACHE[op]


def _data(dtype, shape, rng):
    if dtype == np.bool_:
        return rng.random(shape) < 0.7
    if np.issubdtype(dtype, np.complexfloating):
        return (rng.random(shape) + 1j * rng.random(shape)).astype(dtype)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0 if np.issubdtype(dtype, np.unsignedinteger) else -3, 4,
                            size=shape).astype(dtype)
    return (rng.random(shape) * 2 - 0.5).astype(dtype)


def _check(got, want, dtype, jf=None):
    """got equals NumPy's `want` with its dtype; a scalar comes back as a
    Python number (as numba's), so its type is the compiled return type of
    jf's latest overload."""
    want = np.asarray(want)
    got_arr = np.asarray(got)
    if want.ndim == 0 and jf is not None:
        assert list(jf.overloads.values())[-1].return_type == want.dtype.name
        got_arr = got_arr.astype(want.dtype)
    elif want.ndim == 0:
        assert got_arr.dtype.kind == want.dtype.kind or (
            got_arr.dtype.kind == "i" and want.dtype.kind == "u"), (got_arr.dtype, want.dtype)
        got_arr = got_arr.astype(want.dtype)
    assert got_arr.dtype == want.dtype, (got_arr.dtype, want.dtype)
    assert got_arr.shape == want.shape
    if want.dtype.kind in "fc":
        tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(got_arr, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got_arr, want)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_array_and_axes(op, dtype):
    if op in NOT_COMPLEX and np.dtype(dtype).kind == "c":
        pytest.skip("not defined for complex")
    rng = np.random.default_rng(hash((op, np.dtype(dtype).name)) % 2**32)
    f, g, h = _jitted(op)
    for shape in [(7,), (3, 5), (2, 3, 4)]:
        a = _data(dtype, shape, rng)
        _check(f(a), getattr(a, op)(), dtype, f)
        for k in range(-a.ndim, a.ndim):
            _check(g(a, k), getattr(a, op)(axis=k), dtype, g)
            _check(h(a, k), getattr(np, op)(a, k), dtype, h)


@pytest.mark.parametrize("op", OPS)
def test_layouts(op):
    """F-ordered, strided and reversed views reduce as NumPy."""
    f, g, _ = _jitted(op)
    base = np.random.default_rng(1).random((6, 8))
    for a in (np.asfortranarray(base), base[::2, 1::3], base[::-1, ::-2], base.T):
        _check(f(a), getattr(a, op)(), np.float64)
        for k in (0, 1, -1):
            _check(g(a, k), getattr(a, op)(axis=k), np.float64)


@pytest.mark.parametrize("op", ["sum", "prod", "mean", "var", "std", "all", "any", "cumsum",
                                "cumprod"])
def test_empty(op):
    f, g, _ = _jitted(op)
    with np.errstate(all="ignore"), _nowarn():
        for dtype in (np.int32, np.float64):
            a = np.zeros(0, dtype)
            _check(f(a), getattr(a, op)(), dtype)
            for shape in [(0, 3), (3, 0), (0, 0)]:
                a = np.zeros(shape, dtype)
                for k in (0, 1):
                    _check(g(a, k), getattr(a, op)(axis=k), dtype)


class _nowarn:
    def __enter__(self):
        import warnings
        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.w.__exit__(*exc)


@pytest.mark.parametrize("op", ["min", "max", "argmin", "argmax"])
def test_empty_raises_like_numpy(op):
    f, g, _ = _jitted(op)
    with pytest.raises(ValueError):
        getattr(np.zeros(0), op)()
    with pytest.raises(ValueError, match="zero-size array"):
        f(np.zeros(0))
    with pytest.raises(ValueError, match="zero-size array"):
        f(np.zeros((3, 0)))
    # along an empty axis: an error; along a non-empty one of an empty array: empty result
    with pytest.raises(ValueError, match="zero-size array"):
        g(np.zeros((0, 3)), 0)
    a = np.zeros((0, 3))
    _check(g(a, 1), getattr(a, op)(axis=1), np.float64)


def test_nan_and_truth():
    f_min, _, _ = _jitted("argmin")
    f_max, _, _ = _jitted("argmax")
    f_all, _, _ = _jitted("all")
    f_any, g_any, _ = _jitted("any")
    a = np.array([3.0, 1.0, np.nan, 0.5, np.nan])
    assert f_min(a) == np.argmin(a) == 2
    assert f_max(a) == np.argmax(a) == 2
    assert f_all(np.array([1.0, np.nan])) == np.all(np.array([1.0, np.nan]))
    assert f_any(np.array([0.0, np.nan])) == np.any(np.array([0.0, np.nan]))
    assert f_any(np.zeros(4)) is np.any(np.zeros(4)).item() is False
    # ties: the first index wins, as NumPy
    b = np.array([[2, 1, 1], [0, 5, 0]], np.int16)
    _, g_min, _ = _jitted("argmin")
    _check(g_min(b, 1), b.argmin(axis=1), np.int16)
    _check(g_any(b, 0), b.any(axis=0), np.int16)


def test_axis_errors():
    _, g, h = _jitted("sum")
    a = np.ones((2, 3))
    for k in (2, -3, 7):
        with pytest.raises(ValueError, match=f"axis {k} is out of bounds for array of dimension 2"):
            g(a, k)
    with pytest.raises(ValueError, match="out of bounds"):
        h(np.ones(3), 1)

    @ember.njit
    def bad_axis(a):
        return a.sum(axis=1.5)
    with pytest.raises(TypingError, match="axis must be an integer"):
        bad_axis(a)

    @ember.njit
    def bad_kw(a):
        return a.var(ddof=1)
    with pytest.raises(TypingError, match="only axis="):
        bad_kw(a)

    @ember.njit
    def of_number(x):
        return np.argmin(x)
    with pytest.raises(TypingError, match="reductions are of arrays"):
        of_number(1.0)

    @ember.njit
    def complex_argmin(a):
        return a.argmin()
    with pytest.raises(TypingError, match="complex"):
        complex_argmin(np.ones(3, np.complex128))


def test_constant_axis_and_use_in_expressions():
    @ember.njit
    def normalise(x):
        mu = x.mean(axis=0)
        sd = x.std(axis=0)
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i, j] = (x[i, j] - mu[j]) / sd[j]
        return out, np.argmax(x.sum(axis=1)), x.cumsum(1)[:, -1]

    x = np.random.default_rng(3).random((20, 4))
    out, k, last = normalise(x)
    np.testing.assert_allclose(out, (x - x.mean(0)) / x.std(0))
    assert k == np.argmax(x.sum(axis=1))
    np.testing.assert_allclose(last, x.sum(axis=1))


def test_not_in_kernels():
    from ember import cuda

    @cuda.jit
    def k(a, out):
        out[0] = a.argmin()
    with pytest.raises(UnsupportedError, match="ember.jit functions only"):
        k[1, 1](np.ones(3), np.zeros(1, np.int64))
