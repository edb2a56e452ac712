"""Recursive device functions: allowed with an explicit signature (numba's
rule), lowered as real functions on the CPU, with a depth guard that turns
runaway recursion into an exception instead of a stack overflow."""

import re

import numpy as np
import pytest

from ember import cuda
from ember.errors import TypingError


@pytest.fixture(autouse=True)
def _cpu(cpu_device):
    yield


@cuda.jit("int64(int64)", device=True)
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


@cuda.jit("float64(float64[::1], int64, int64)", device=True)
def pairwise_sum(a, lo, hi):
    if hi - lo == 1:
        return a[lo]
    mid = (lo + hi) // 2
    return pairwise_sum(a, lo, mid) + pairwise_sum(a, mid, hi)


@cuda.jit
def fib_and_sum(out, sums, a):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = fib(i)
        sums[i] = pairwise_sum(a, 0, i + 1)


def fib_py(n):
    return n if n < 2 else fib_py(n - 1) + fib_py(n - 2)


def test_self_recursion_matches_python():
    a = np.random.default_rng(3).random(20)
    out = np.zeros(20, np.int64)
    sums = np.zeros(20)
    fib_and_sum[2, 16](out, sums, a)
    np.testing.assert_array_equal(out, [fib_py(i) for i in range(20)])
    np.testing.assert_allclose(sums, np.cumsum(a))


@cuda.jit("boolean(int64)", device=True)
def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)


@cuda.jit("boolean(int64)", device=True)
def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)


@cuda.jit("UniTuple(int64, 2)(int64, int64)", device=True)
def gcd_steps(a, b):
    """(gcd, number of steps) by Euclid, recursively; returns a tuple."""
    if b == 0:
        return a, 0
    g, steps = gcd_steps(b, a % b)
    return g, steps + 1


@cuda.jit
def mutual_and_tuples(parity, g, steps, x, y):
    i = cuda.grid(1)
    if i < x.size:
        parity[i] = is_even(x[i])
        g[i], steps[i] = gcd_steps(x[i], y[i])


def gcd_steps_py(a, b):
    if b == 0:
        return a, 0
    g, s = gcd_steps_py(b, a % b)
    return g, s + 1


def test_mutual_recursion_and_tuple_results():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 200, 64)
    y = rng.integers(1, 200, 64)
    parity = np.zeros(64, np.bool_)
    g = np.zeros(64, np.int64)
    steps = np.zeros(64, np.int64)
    mutual_and_tuples[4, 16](parity, g, steps, x, y)
    np.testing.assert_array_equal(parity, x % 2 == 0)
    want = [gcd_steps_py(int(a), int(b)) for a, b in zip(x, y)]
    np.testing.assert_array_equal(g, [w[0] for w in want])
    np.testing.assert_array_equal(steps, [w[1] for w in want])


@cuda.jit("void(float64[:], int64)", device=True)
def fill_down(a, n):
    if n < 0:
        return
    a[n] = n * 0.5
    fill_down(a, n - 1)


@cuda.jit
def recursive_store(a):
    fill_down(a, a.size - 1)


def test_recursive_function_that_writes_copies_back():
    a = np.zeros(10)
    recursive_store[1, 1](a)
    np.testing.assert_array_equal(a, np.arange(10) * 0.5)


@cuda.jit("int64(int64)", device=True)
def forever(n):
    return forever(n + 1)


@cuda.jit
def runs_away(out):
    out[0] = forever(0)


def test_runaway_recursion_raises_instead_of_crashing():
    with pytest.raises(RuntimeError, match="deeper than 1000 calls"):
        runs_away[1, 4](np.zeros(1, np.int64))
    # the runtime still works afterwards
    out = np.zeros(5, np.int64)
    fib_and_sum[1, 5](out, np.zeros(5), np.ones(5))
    np.testing.assert_array_equal(out, [0, 1, 1, 2, 3])


@cuda.jit("int32(float64[::1])", device=True)
def wants_contiguous(a):
    return 1


@cuda.jit
def passes_strided(out, a):
    out[0] = wants_contiguous(a[::2])


@cuda.jit("int64(int64)", device=True)
def returns_array(n):
    return n * 1j


@cuda.jit
def calls_returns_array(out):
    out[0] = returns_array(1)


@cuda.jit("int64(int64, int64)", device=True)
def two_sigs_needed(a, b):
    return a


@cuda.jit
def wrong_arity(out):
    out[0] = two_sigs_needed(1)


@pytest.mark.parametrize("kernel, args, text", [
    (passes_strided, (np.zeros(1), np.zeros(8)),
     "argument 1 of wants_contiguous() is float64[:], which does not convert to "
     "float64[::1] of its signature"),
    (calls_returns_array, (np.zeros(1, np.int64),),
     "this return gives complex128, which does not convert to int64 of the signature"),
    (wrong_arity, (np.zeros(1, np.int64),), "missing required argument 'b'"),
])
def test_signature_mismatches_are_typing_errors(kernel, args, text):
    with pytest.raises(TypingError, match=re.escape(text)) as ei:
        kernel[1, 1](*args)
    assert "test_recursion.py:" in str(ei.value)


@cuda.jit("int64(int64)", device=True)
def big_local_recursive(n):
    scratch = cuda.local.array(512, np.int64)
    scratch[0] = n
    if n == 0:
        return 0
    return big_local_recursive(n - 1) + scratch[0]


@cuda.jit
def calls_big_local(out):
    out[0] = big_local_recursive(3)


def test_local_arrays_in_recursive_functions_are_bounded():
    with pytest.raises(TypingError, match="more than 1024 bytes in a recursive device function"):
        calls_big_local[1, 1](np.zeros(1, np.int64))
