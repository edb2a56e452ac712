# Indexing with arrays in ember.jit functions, against NumPy: boolean masks
# (read: a new 1-D array or, for a mask of the leading dimensions, the
# selected rows; assignment of a number or a 1-D array) and integer index
# arrays (negative indices, N-D index arrays, rows of N-D arrays), a.flat,
# np.ndenumerate and np.nditer; IndexError / ValueError / TypingError as NumPy.
import numpy as np
import pytest

from ember import njit
from ember.errors import TypingError


@njit
def take(a, idx):
    return a[idx]


@njit
def put(a, idx, v):
    a[idx] = v


DTYPES = [np.bool_, np.int8, np.uint16, np.int64, np.float32, np.float64, np.complex128]


@pytest.mark.parametrize("dtype", DTYPES)
def test_mask_and_index_reads(dtype):
    rng = np.random.default_rng(7)
    for shape in [(9,), (4, 5), (2, 3, 4), (0,), (0, 3)]:
        a = (rng.random(shape) * 10).astype(dtype)
        m = rng.random(shape) < 0.5
        got = take(a, m)
        assert got.dtype == a.dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, a[m])
        if shape[0]:
            rows = rng.random(shape[0]) < 0.5                 # a mask of the first axis
            np.testing.assert_array_equal(take(a, rows), a[rows])
            for idx in (np.array([0, shape[0] - 1, -1, 0]), np.array([], np.int64),
                        np.array([[0, -1], [1 % shape[0], 0]], np.int32),
                        np.array([shape[0] - 1], np.uint8)):
                np.testing.assert_array_equal(take(a, idx), a[idx])


def test_mask_from_an_expression_and_the_all_false_mask():
    @njit
    def positive(a):
        return a[a > 0], a[a > 100]

    a = np.array([-1.0, 2.0, 0.0, 3.5])
    p, none = positive(a)
    np.testing.assert_array_equal(p, a[a > 0])
    assert none.shape == (0,) and none.dtype == a.dtype


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.bool_])
def test_assignments(dtype):
    rng = np.random.default_rng(2)
    for shape in [(8,), (3, 4)]:
        a = (rng.random(shape) * 5).astype(dtype)
        m = rng.random(shape) < 0.5
        idx = np.array([0, -1, 1])
        for v in (3, np.array([7], dtype)):                   # a number, one item
            got, want = a.copy(), a.copy()
            put(got, m, v)
            want[m] = v
            np.testing.assert_array_equal(got, want)
            got, want = a.copy(), a.copy()
            put(got, idx, v)
            want[idx] = v
            np.testing.assert_array_equal(got, want)
        # one item per selected element, in order
        got, want = a.copy(), a.copy()
        vals = np.arange(m.sum()).astype(dtype)
        put(got, m, vals)
        want[m] = vals
        np.testing.assert_array_equal(got, want)
    b = np.zeros(5)
    put(b, np.array([4, 0]), np.array([1.5, 2.5]))
    np.testing.assert_array_equal(b, [2.5, 0, 0, 0, 1.5])


def test_errors():
    a = np.arange(5.0)
    with pytest.raises(IndexError, match="index out of bounds"):
        take(a, np.array([0, 5]))
    with pytest.raises(IndexError, match="index out of bounds"):
        take(a, np.array([-6]))
    with pytest.raises(IndexError, match="boolean index"):
        take(a, np.ones(4, bool))
    with pytest.raises(ValueError, match="extents 3 and 2"):
        put(a, np.array([0, 1]), np.ones(3))
    with pytest.raises(TypingError, match="integer or boolean"):
        take(a, np.ones(2))
    with pytest.raises(TypingError, match="more dimensions"):
        take(a, np.ones((5, 1), bool))
    with pytest.raises(TypingError, match="number or a 1-D array"):
        put(np.zeros((2, 2)), np.ones((2, 2), bool), np.ones((2, 2)))
    ro = np.arange(3.0)
    ro.flags.writeable = False
    with pytest.raises(TypingError, match="read-only"):
        put(ro, np.array([0]), 1.0)


def test_flat():
    @njit
    def hist(a, nbins):
        h = np.zeros(nbins, np.int64)
        for x in a.flat:
            h[min(int(x * nbins), nbins - 1)] += 1
        return h

    rng = np.random.default_rng(4)
    a = rng.random((30, 20))
    want = np.histogram(a, nbins := 8, (0.0, 1.0))[0]
    for view in (a, a.T, a[::2, ::3], np.asfortranarray(a)):
        w = np.histogram(view, nbins, (0.0, 1.0))[0]
        np.testing.assert_array_equal(hist(view, nbins), w)
    np.testing.assert_array_equal(hist(a, nbins), want)

    @njit
    def flat_ops(a):
        a.flat[2] = -1.0                  # a view of a C-contiguous array: a changes
        return a.flat[4], len(a.flat), a.flat[::2].sum()

    b = np.arange(6.0).reshape(2, 3)
    x, n, s = flat_ops(b)
    assert (x, n) == (4.0, 6) and b[0, 2] == -1.0 and s == b.ravel()[::2].sum()

    @njit
    def store_through_a_copy(a):
        a.flat[0] = 1.0

    with pytest.raises(TypingError, match="read-only"):
        store_through_a_copy(np.zeros((3, 3)).T)


def test_ndenumerate_and_nditer():
    @njit
    def walk(a):
        rows = np.zeros(a.size, np.int64)
        vals = np.zeros(a.size)
        k = 0
        for idx, x in np.ndenumerate(a):
            rows[k] = idx[0] * 100 + idx[-1]
            vals[k] = x
            k += 1
        total = 0.0
        for y in np.nditer(a):
            total += y
        return rows, vals, total

    for a in (np.arange(5.0), np.random.default_rng(1).random((3, 4)), np.zeros((2, 0)),
              np.arange(24.0).reshape(2, 3, 4)):
        rows, vals, total = walk(a)
        want = [(i[0] * 100 + i[-1], x) for i, x in np.ndenumerate(a)]
        np.testing.assert_array_equal(rows, [w[0] for w in want])
        np.testing.assert_array_equal(vals, [w[1] for w in want])
        assert total == pytest.approx(a.sum())    # NumPy's nditer refuses empty arrays

    with pytest.raises(TypingError, match="nditer"):
        walk(np.zeros((3, 2)).T)
