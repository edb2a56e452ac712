"""Self-recursive device functions without a signature (numba's rule): a
recursive call returns the type that the function's other returns give,
widened until it no longer changes; with no other return it is "runaway
recursion", a TypingError, and so is mutual recursion without signatures.

Results are compared with the same functions run by Python; kernels run on
the cpu device (and a GPU where there is one) and are compiled to PTX and
checked by ptxas (conftest.py).
"""

import re

import numpy as np
import pytest

from ember import cuda
from ember.errors import TypingError

pytestmark = pytest.mark.usefixtures("kernel_device")


def make_functions(jit):
    """The recursive functions, compiled by `jit` (each calls itself through
    its closure): identity gives the Python references."""
    @jit
    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)

    @jit
    def halve(n):           # int for n <= 0, else float: the type widens
        if n > 0:
            return halve(n - 1) * 0.5
        return 1

    @jit
    def count_down(n):      # the recursive return comes before the base case
        if n > 0:
            return count_down(n - 1) + 2
        return -n

    @jit
    def gcd_steps(a, b):    # a tuple, unpacked at the recursive call
        if b == 0:
            return a, 0
        g, s = gcd_steps(b, a % b)
        return g, s + 1

    @jit
    def mixed(x, y):        # int, float: the recursive call is another specialisation
        if x > 1 and y > 0:
            return x + mixed(x - y, y)
        return y

    return fib, halve, count_down, gcd_steps, mixed


fib_py, halve_py, count_down_py, gcd_steps_py, mixed_py = make_functions(lambda f: f)
fib, halve, count_down, gcd_steps, mixed = make_functions(cuda.jit(device=True))


@cuda.jit
def numbers(ifib, ffib, half, down, g, steps, mix, n, y):
    i = cuda.grid(1)
    if i < n.size:
        ifib[i] = fib(n[i])
        ffib[i] = fib(n[i] * 1.0)
        half[i] = halve(n[i])
        down[i] = count_down(n[i])
        g[i], steps[i] = gcd_steps(n[i] + 7, y[i])
        mix[i] = mixed(n[i], y[i] * 0.5)


def test_self_recursion_without_a_signature_matches_python():
    n = np.arange(12, dtype=np.int64)
    y = np.array([3, 5, 8, 13, 2, 1, 4, 6, 9, 10, 11, 12], dtype=np.int64)
    outs = [np.zeros(12, np.int64), np.zeros(12), np.zeros(12), np.zeros(12, np.int64),
            np.zeros(12, np.int64), np.zeros(12, np.int64), np.zeros(12)]
    numbers[1, 16](*outs, n, y)
    ifib, ffib, half, down, g, steps, mix = outs
    for i in range(12):
        k, m = int(n[i]), int(y[i])
        assert ifib[i] == fib_py(k) and ffib[i] == fib_py(float(k))
        assert half[i] == halve_py(k)
        assert down[i] == count_down_py(k)
        assert (g[i], steps[i]) == gcd_steps_py(k + 7, m)
        assert mix[i] == mixed_py(k, m * 0.5)


@cuda.jit(device=True)
def fill_down(a, n):
    if n < 0:
        return
    a[n] = n * 0.5
    fill_down(a, n - 1)


@cuda.jit
def recursive_store(a):
    fill_down(a, a.size - 1)


def test_recursion_without_a_signature_that_writes_an_array():
    a = np.zeros(10)
    recursive_store[1, 1](a)
    np.testing.assert_array_equal(a, np.arange(10) * 0.5)


@cuda.jit(device=True)
def runaway(x):
    return runaway(x)


@cuda.jit
def calls_runaway(out):
    out[0] = runaway(1)


@cuda.jit(device=True)
def ping(n):
    if n == 0:
        return 0
    return pong(n - 1)


@cuda.jit(device=True)
def pong(n):
    return ping(n)


@cuda.jit
def calls_ping(out):
    out[0] = ping(3)


@pytest.mark.parametrize("kernel, text", [
    (calls_runaway, "recursive call to device function 'runaway': cannot type infer runaway "
                    "recursion"),
    (calls_ping, "recursive call to device function 'ping' through another function: mutual "
                 "recursion needs explicit signatures"),
])
def test_untypable_recursion_is_a_typing_error(kernel, text):
    with pytest.raises(TypingError, match=re.escape(text)) as ei:
        kernel[1, 1](np.zeros(1, np.int64))
    assert "test_recursion_implicit.py:" in str(ei.value)
