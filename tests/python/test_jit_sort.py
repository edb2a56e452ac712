# np.sort, a.sort() and np.argsort in ember.jit functions, against NumPy:
# every sortable dtype, along the last axis of 1-D to 3-D arrays, strided and
# F-ordered views, NaNs and infinities (NaNs last), ties (argsort is stable:
# NumPy's kind='stable'), empty and long arrays (the introsort's heapsort
# fallback), and the refusals.
import numpy as np
import pytest

from ember import njit
from ember.errors import TypingError


@njit
def sorted_and_order(a):
    return np.sort(a), np.argsort(a), a.argsort()


@njit
def sort_in_place(a):
    a.sort()


DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float32, np.float64]


def _check(a):
    s, i, j = sorted_and_order(a)
    np.testing.assert_array_equal(s, np.sort(a))
    assert s.dtype == a.dtype and i.dtype == np.int64
    np.testing.assert_array_equal(i, np.argsort(a, kind="stable"))
    np.testing.assert_array_equal(j, i)
    c = a.copy()
    sort_in_place(c)
    np.testing.assert_array_equal(c, np.sort(a))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_shapes(dtype):
    rng = np.random.default_rng(5)
    for shape in [(0,), (1,), (17,), (300,), (4, 33), (2, 3, 20), (3, 0)]:
        a = (rng.random(shape) * 20 - (0 if np.dtype(dtype).kind in "ub" else 10))
        _check(a.astype(dtype))                                 # many ties in the ints


def test_views_and_in_place_on_views():
    base = np.random.default_rng(1).random((40, 30))
    for view in (base.T, base[::3, ::-2], np.asfortranarray(base)):
        _check(view)
        c = base.copy()
        v = c.T[::2]
        sort_in_place(v)                                        # sorts inside c
        w = base.copy()
        w.T[::2].sort()
        np.testing.assert_array_equal(c, w)


def test_nan_inf_and_adversarial_inputs():
    a = np.array([3.0, np.nan, 1.0, -np.inf, np.nan, 0.0, np.inf, -0.0])
    _check(a)
    _check(a.astype(np.float32))
    n = 20000
    for a in (np.arange(n, dtype=np.float64), np.arange(n)[::-1].copy(), np.zeros(n),
              np.tile([1.0, 0.0], n // 2), np.random.default_rng(2).integers(0, 3, n)):
        _check(a)


def test_refusals():
    with pytest.raises(TypingError, match="complex"):
        sorted_and_order(np.ones(3, np.complex128))

    @njit
    def kind(a):
        return np.sort(a, kind="mergesort")

    with pytest.raises(TypingError, match="one array"):
        kind(np.ones(3))

    @njit
    def as_value(a):
        return a.sort()

    with pytest.raises(TypingError, match="returns nothing"):
        as_value(np.ones(3))

    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(TypingError, match="read-only"):
        sort_in_place(ro)
