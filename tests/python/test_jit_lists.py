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


def _py_lists(n):
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(i * 1.5)
    last = -1.0
    if len(out) > 0:
        last = out.pop()
    total = 0.0
    for x in out:
        total += x
    lits = [1, 2, 3]
    lits.append(4)
    lits[0] = 10
    return out, last, total, len(out), lits, sum(lits), max(lits), lits[-1], min(lits)


lists_jit = njit(_py_lists)


@pytest.mark.parametrize("n", [0, 1, 7, 40, 1000])
def test_growable_lists_against_python(n):
    got, want = lists_jit(n), _py_lists(n)
    np.testing.assert_allclose(got[0], want[0])
    assert got[0].dtype == np.float64 and got[4].dtype == np.int64
    assert got[1:4] == pytest.approx(want[1:4])
    np.testing.assert_array_equal(got[4], want[4])
    assert got[5:] == want[5:]


def test_list_item_types_and_rows():
    @njit
    def f(n):
        mixed = []                       # an int and a float item: float64, as NumPy
        mixed.append(1)
        mixed.append(2.5)
        rows = []
        for i in range(n):
            rows.append(np.arange(3.0) * i)
        empty = []
        return mixed, np.array(rows), len(empty), empty

    mixed, rows, n0, empty = f(4)
    assert mixed.dtype == np.float64 and list(mixed) == [1.0, 2.5]
    np.testing.assert_array_equal(rows, np.array([np.arange(3.0) * i for i in range(4)]))
    assert n0 == 0 and empty.shape == (0,) and empty.dtype == np.float64


def test_pop_of_an_empty_list():
    @njit
    def f():
        a = [1.0]
        a.pop()
        return a.pop()

    with pytest.raises(IndexError):
        f()


def test_list_errors_and_dict():
    @njit
    def rebind(x):
        a = []
        if x[0] > 0:
            a = x          # meets the list after the if: one variable
        return a

    with pytest.raises(TypingError, match="'a' is a list"):
        rebind(np.ones(2))

    @njit
    def reuse(x):
        a = [x[1]]
        n = len(a)
        a = x              # the list is not read again: another variable
        return a[0] + n

    assert reuse(np.array([2.5, 4.0])) == reuse.py_func(np.array([2.5, 4.0]))

    @njit
    def other_method():
        a = [1, 2]
        a.sort()
        return a

    with pytest.raises(UnsupportedError, match=r"list.sort\(\) is not supported"):
        other_method()

    @njit
    def a_dict():
        d = {}
        return d

    with pytest.raises(TypingError, match="dict literals are not supported in ember.jit "
                       "functions") as e:
        a_dict()
    assert "kernel" not in str(e.value)


def test_messages_speak_of_functions():
    @njit
    def lam(x):
        f = lambda y: y  # noqa: E731
        return f(x)

    with pytest.raises(UnsupportedError) as e:
        lam(1.0)
    assert "kernel" not in str(e.value).split("(compiling")[0]
    assert "ember.jit function" in str(e.value)


def test_pop_in_a_conditional_expression_is_refused():
    @njit
    def f(n):
        a = [1.0, 2.0]
        return a.pop() if n > 0 else 0.0

    with pytest.raises(TypingError, match="conditional expression"):
        f(1)
