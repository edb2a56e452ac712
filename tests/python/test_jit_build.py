# Building arrays in ember.jit functions, against NumPy: np.array / np.asarray
# from literal lists, tuples and nested lists (NumPy's dtype discovery, the
# dtype= argument, empty lists), from arrays (copies, conversions, asarray's
# identity), and np.empty/zeros/ones/full with tuple shapes from variables.
import numpy as np
import pytest

from ember import njit
from ember.errors import TypingError


def _same(got, want):
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_literal_lists_and_their_dtypes():
    @njit
    def f(i32, f32, x, flag):
        return (np.array([1, 2, 3]), np.array([1, 2.5]), np.array([flag, True]),
                np.array([flag, 1]), np.array([i32, f32]), np.array([f32, f32]),
                np.array([x, 1j]), np.array((i32, i32)), np.array([[1, 2], [3, 4], [5, 6]]),
                np.array([[[x, 1.0]], [[2.0, x]]]), np.array([]))

    args = (np.int32(3), np.float32(1.5), 2.0, False)
    i32, f32, x, flag = args
    want = (np.array([1, 2, 3]), np.array([1, 2.5]), np.array([flag, True]),
            np.array([flag, 1]), np.array([i32, f32]), np.array([f32, f32]),
            np.array([x, 1j]), np.array((i32, i32)), np.array([[1, 2], [3, 4], [5, 6]]),
            np.array([[[x, 1.0]], [[2.0, x]]]), np.array([]))
    for got, w in zip(f(*args), want):
        _same(got, w)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int64, np.float32,
                                   np.float64, np.complex64, np.complex128])
def test_dtype_argument(dtype):
    @njit
    def f(x):
        return np.array([[x, 2], [0, 1]], dtype=dtype), np.asarray([x, 3.0], dtype)

    a, b = f(1.0)
    _same(a, np.array([[1.0, 2], [0, 1]], dtype=dtype))
    _same(b, np.asarray([1.0, 3.0], dtype))


def test_from_arrays_and_tuple_variables():
    @njit
    def f(a, n):
        t = (n, n + 1, n + 2)
        b = np.array(a)
        b[0, 0] = -1.0                 # a copy: a is unchanged
        return np.asarray(a), b, np.asarray(a, np.int32), np.array(a.T, dtype=np.float32), \
            np.array(t), np.array(a[:, 1])

    a = np.arange(6.0).reshape(2, 3)
    same, copy, ints, tr, tup, col = f(a, 4)
    assert same is a and a[0, 0] == 0.0
    want = a.copy()
    want[0, 0] = -1.0
    _same(copy, want)
    _same(ints, a.astype(np.int32))
    _same(tr, np.array(a.T, dtype=np.float32))
    _same(tup, np.array((4, 5, 6)))
    _same(col, a[:, 1].copy())


def test_makers_with_tuple_shapes_from_variables():
    @njit
    def f(n, m):
        shape = (n, m)
        return (np.empty(shape).shape, np.zeros((n, m), np.int16), np.ones(shape, dtype=np.uint8),
                np.full((m, n, 2), 2.5, np.float32), np.zeros((0, m)))

    shp, z, o, fu, e = f(3, 4)
    assert shp == (3, 4)
    _same(z, np.zeros((3, 4), np.int16))
    _same(o, np.ones((3, 4), np.uint8))
    _same(fu, np.full((4, 3, 2), 2.5, np.float32))
    _same(e, np.zeros((0, 4)))


def test_errors():
    @njit
    def ragged():
        return np.array([[1, 2], [3]])

    with pytest.raises(TypingError, match="rectangular"):
        ragged()

    @njit
    def scalar(x):
        return np.array(x)

    with pytest.raises(TypingError, match="0-d arrays"):
        scalar(1.0)

    @njit
    def complex_to_float():
        return np.array([1j, 2], dtype=np.float64)

    with pytest.raises(TypingError, match="complex"):
        complex_to_float()

    @njit
    def mixed(a):
        return np.array([a, 1.0])

    with pytest.raises(TypingError, match="arrays of one ndim"):
        mixed(np.ones(2))

    @njit
    def ragged_arrays(a, b):
        return np.array([a, b])

    with pytest.raises(ValueError, match="extents 3 and 2"):
        ragged_arrays(np.ones(2), np.ones(3))


def test_arrays_of_arrays_and_np_stack():
    @njit
    def f(a, b, c):
        return np.array([a, b]), np.stack((a, b, c)), np.array([[a], [c]]), \
            np.array((a.T, b.T), dtype=np.float32)

    a = np.arange(6.0).reshape(2, 3)
    b = np.ones((2, 3), np.int64)
    c = a[::-1]
    got = f(a, b, c)
    want = (np.array([a, b]), np.stack((a, b, c)), np.array([[a], [c]]),
            np.array((a.T, b.T), dtype=np.float32))
    for g, w in zip(got, want):
        _same(g, w)

    @njit
    def g(n):
        return np.stack((np.arange(n), np.zeros(n, np.int64)))

    _same(g(4), np.stack((np.arange(4), np.zeros(4, np.int64))))
