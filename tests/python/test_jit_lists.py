# Python lists in ember.jit functions, against pure Python and NumPy: list
# comprehensions (range, arrays, enumerate, zip, if filters; items that are
# numbers or arrays), np.array of them, the builtins on them, and growable
# lists (append, pop, len, indexing, iteration). Lists are NumPy arrays
# inside the function and come back as arrays.
import numpy as np
import pytest

from ember import njit
from ember.errors import TypingError, UnsupportedError


def test_comprehensions_against_python():
    @njit
    def f(a, n):
        x = 7                                     # the comprehension's x is its own
        squares = [x * x for x in range(n)]
        big = np.array([v for v in a if v > 0.5])
        pairs = [i * v for i, v in enumerate(a) if i % 2 == 0]
        sums = [u + w for u, w in zip(a, a[::-1])]
        return squares, big, pairs, sums, x, len(squares), sum(squares), min(sums), max(big)

    a = np.random.default_rng(0).random(9)
    sq, big, pairs, sums, x, n, s, lo, hi = f(a, 6)
    py = a.tolist()
    np.testing.assert_array_equal(sq, [x * x for x in range(6)])
    assert sq.dtype == np.int64 and x == 7 and n == 6 and s == sum(x * x for x in range(6))
    np.testing.assert_array_equal(big, [v for v in py if v > 0.5])
    np.testing.assert_allclose(pairs, [i * v for i, v in enumerate(py) if i % 2 == 0])
    np.testing.assert_allclose(sums, [u + w for u, w in zip(py, py[::-1])])
    assert lo == min(u + w for u, w in zip(py, py[::-1])) and hi == max(big)


def test_comprehension_dtypes_and_rows():
    @njit
    def f(a):
        halves = [np.float32(v) / 2 for v in a]
        rows = np.array([a[i:i + 3] * i for i in range(a.size - 2)])
        flags = [v > 1 for v in a]
        return halves, rows, flags

    a = np.arange(6.0)
    halves, rows, flags = f(a)
    assert halves.dtype == np.float32 and flags.dtype == np.bool_
    np.testing.assert_array_equal(halves, np.array([np.float32(v) / 2 for v in a]))
    np.testing.assert_array_equal(rows, np.array([a[i:i + 3] * i for i in range(a.size - 2)]))
    np.testing.assert_array_equal(flags, [v > 1 for v in a])


def test_empty_comprehensions():
    @njit
    def f(n):
        return [i * 2.0 for i in range(n)], np.array([i for i in range(n) if i > 100])

    a, b = f(0)
    assert a.shape == (0,) and a.dtype == np.float64
    c, d = f(50)
    assert d.shape == (0,) and d.dtype == np.int64
    np.testing.assert_array_equal(c, [i * 2.0 for i in range(50)])


def test_comprehension_errors():
    @njit
    def nested(n):
        return [i * j for i in range(n) for j in range(n)]

    with pytest.raises(UnsupportedError, match="more than one 'for'"):
        nested(3)

    @njit
    def tuples(n):
        return [(i, i) for i in range(n)]

    with pytest.raises(TypingError, match="lists of tuples"):
        tuples(3)
