"""Python semantics in kernels and ember.jit functions that fuzzing found
silently wrong (issue 13): `a or b` / `a and b` give an operand, a bare
`return` beside a value gives None, a tuple literal's subscript evaluates
every item, a zero range step is ValueError; and `x ** k` with a constant
exponent (multiplications, a square root) agrees with Python's pow.

Every result is compared with the same Python function run by CPython (or
with NumPy); kernels run on the cpu device (and a GPU where there is one)
and are also compiled to PTX and assembled by ptxas (conftest.py).
"""

import math
import re

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError

pytestmark = pytest.mark.usefixtures("kernel_device")

NAN, INF = math.nan, math.inf


def same(got, want):
    """Equal as Python values, nan equal to nan, -0.0 apart from 0.0."""
    if isinstance(want, tuple):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    return got == want and type(got) is type(want) and \
        (not isinstance(want, float) or math.copysign(1, got) == math.copysign(1, want))


# ---- a or b / a and b ------------------------------------------------------

def or_and(a, b):
    return a or b, a and b, not a or b > 0


OR_AND_CASES = [(0, 5), (3, 5), (0, 0), (-2, 0), (0.0, 2.5), (1.5, 0.0), (True, False),
                (False, True), (True, True), (0.0, -0.0), (NAN, 1.0)]


@pytest.mark.parametrize("a, b", OR_AND_CASES)
def test_or_and_return_an_operand_in_jit(a, b):
    got = ember.jit(or_and)(a, b)
    want = or_and(a, b)
    assert same(got, want), (got, want)


def test_or_and_mixed_types_give_the_common_type():
    # numba unifies the operands' types: int or float is a float
    f = ember.jit(or_and)
    assert same(f(0, 2.5), (2.5, 0.0, True))
    assert same(f(3, 2.5), (3.0, 2.5, True))


def test_or_and_in_kernels():
    @cuda.jit
    def k(a, b, o_or, o_and):
        i = cuda.grid(1)
        if i < a.size:
            o_or[i] = a[i] or b[i]
            o_and[i] = a[i] and b[i]

    a = np.array([0.0, 1.5, 0.0, -3.0, NAN])
    b = np.array([2.0, 7.0, 0.0, 0.0, 4.0])
    o_or, o_and = np.zeros_like(a), np.zeros_like(a)
    k[1, 8](a, b, o_or, o_and)
    np.testing.assert_array_equal(o_or, [x or y for x, y in zip(a, b)])
    np.testing.assert_array_equal(o_and, [x and y for x, y in zip(a, b)])


def test_or_short_circuits():
    @ember.jit
    def f(a, i):
        return i < 0 or a[i] > 1.0   # a[i] is never read for i < 0

    a = np.array([0.5, 2.0])
    assert f(a, -5) is True and f(a, 1) is True and f(a, 0) is False


def test_or_of_a_tuple_is_a_clear_error():
    @ember.jit
    def f(x):
        return (x, x) or x

    with pytest.raises(TypingError, match=r"test_kernel_python\.py:\d+.*'or' operand"):
        f(1)


# ---- return None beside a value -------------------------------------------

def maybe(x):
    if x > 0:
        return x * 2
    return None


def falls_off(x):
    for i in range(x):
        if i == 3:
            return i


def bare(x):
    if x < 0:
        return
    return 1.5 * x


@pytest.mark.parametrize("fn, args", [(maybe, 3), (maybe, -1), (maybe, 2.5),
                                      (falls_off, 10), (falls_off, 2), (bare, -1.0),
                                      (bare, 2.0)])
def test_return_none_beside_a_value_gives_none(fn, args):
    assert same(ember.jit(fn)(args), fn(args)) or (fn(args) is None and
                                                   ember.jit(fn)(args) is None)


def test_return_none_with_an_explicit_signature():
    f = ember.jit("float64(int64)")(maybe)
    assert f(-3) is None and f(4) == 8.0 and type(f(4)) is float


def test_return_none_twice_in_a_row_and_through_the_fast_path():
    f = ember.jit(maybe)
    assert [f(v) for v in (1, -1, 2, -2, -2, 3)] == [maybe(v) for v in (1, -1, 2, -2, -2, 3)]


def test_return_of_a_device_function_called_from_jit():
    g = ember.jit(maybe)

    @ember.jit
    def f(x):
        return g(x)   # the callee's value reaches the root, which returns it

    assert f(5) == 10


# ---- a tuple literal's subscript evaluates every item ---------------------

def test_tuple_literal_subscript_evaluates_every_item_for_bounds_checks():
    @ember.jit(boundscheck=True)
    def f(a, i):
        return (a[i], a[i + 5])[0]

    a = np.arange(4.0)
    with pytest.raises(IndexError, match=r"test_kernel_python\.py:\d+"):
        f(a, 1)
    assert f(np.arange(10.0), 1) == 1.0


def test_tuple_literal_subscript_keeps_side_effects():
    @cuda.jit
    def k(counter, out):
        out[0] = (cuda.atomic.add(counter, 0, 1), cuda.atomic.add(counter, 1, 10))[1]

    counter = np.zeros(2, dtype=np.int64)
    out = np.full(1, -1, dtype=np.int64)
    k[1, 1](counter, out)
    assert counter.tolist() == [1, 10] and out[0] == 0


# ---- range step ----------------------------------------------------------

def range_sum(n, s):
    t = 0
    for i in range(0, n, s):
        t += i
    return t


def test_zero_range_step_at_run_time_is_value_error():
    f = ember.jit(range_sum)
    assert f(10, 3) == range_sum(10, 3) and f(10, -1) == range_sum(10, -1)
    with pytest.raises(ValueError, match=r"test_kernel_python\.py:\d+:\d+: range\(\) arg 3 "
                                         r"must not be zero"):
        f(10, 0)
    assert f(10, 2) == range_sum(10, 2)  # usable after the error


def test_zero_range_step_in_a_kernel_runs_no_iteration():
    # numba ends the thread (its exception is lost without debug=True);
    # ember runs no iteration and goes on (README "Differences")
    @cuda.jit
    def k(s, out):
        t = 0
        for i in range(0, 10, s[0]):
            t += 1
        out[0] = t

    out = np.full(1, -1, dtype=np.int64)
    k[1, 1](np.array([0]), out)
    assert out[0] == 0
    k[1, 1](np.array([4]), out)
    assert out[0] == len(range(0, 10, 4))


def test_constant_zero_range_step_is_a_compile_error():
    @ember.jit
    def f(n):
        t = 0
        for i in range(0, n, 0):
            t += i
        return t

    with pytest.raises(Exception, match="must not be zero"):
        f(3)


# ---- ** with constant exponents --------------------------------------------

def powers(x):
    return (x ** 2, x ** 3, (1.0 / x) ** 6, x ** 0.5, x ** -1, x ** 2.0, x ** -2.0,
            x ** 0, x ** 12, math.pow(x, 3), x ** 1, x ** 7)


def py_pow(x, e):
    try:
        return math.pow(x, e)
    except (ValueError, OverflowError):
        return np.power(np.float64(x), np.float64(e)).item()
    except ZeroDivisionError:
        return math.copysign(INF, x) if e == int(e) and int(e) % 2 else INF


POW_EXPS = [2, 3, None, 0.5, -1, 2.0, -2.0, 0, 12, 3, 1, 7]  # None: (1/x) ** 6


def expected_powers(x):
    out = []
    for e in POW_EXPS:
        if e is None:
            r = 1.0 / x if x != 0 else math.copysign(INF, x)
            out.append(py_pow(r, 6))
        else:
            out.append(py_pow(x, e))
    return out


POW_VALUES = [1.7, -1.7, 0.3, 2.0, -2.0, 1e-3, 123.456, 0.0, -0.0, INF, -INF, NAN, 1e300]


@pytest.mark.parametrize("x", POW_VALUES)
def test_constant_exponents_in_jit_match_pow(x):
    with np.errstate(all="ignore"):
        got = ember.jit(powers)(x)
        want = expected_powers(x)
    for g, w, e in zip(got, want, POW_EXPS):
        if math.isnan(w):
            assert math.isnan(g), (x, e, g)
        elif math.isinf(w) or w == 0:
            assert g == w and math.copysign(1, g) == math.copysign(1, w), (x, e, g, w)
        else:
            assert g == pytest.approx(w, rel=4e-15), (x, e, g, w)


def test_constant_exponents_in_kernels_float32_and_float64():
    @cuda.jit
    def k(x, out):
        i = cuda.grid(1)
        if i < x.size:
            v = x[i]
            out[i, 0] = v ** 2
            out[i, 1] = v ** 3
            out[i, 2] = (1.0 / v) ** 6
            out[i, 3] = v ** 0.5
            out[i, 4] = v ** -1
            out[i, 5] = v ** 2.0

    for dt, rtol in ((np.float32, 2e-6), (np.float64, 4e-15)):
        x = np.array([1.7, 0.3, 2.0, 123.5, 4.0, 0.0, -0.0, np.inf, -np.inf], dtype=dt)
        out = np.zeros((x.size, 6), dtype=dt)
        k[1, 16](x, out)
        with np.errstate(all="ignore"):
            want = np.stack([np.power(x, 2), np.power(x, 3), np.power(dt(1) / x, 6),
                             np.power(x, dt(0.5)), np.power(x, dt(-1)), np.power(x, dt(2))],
                            axis=1)
        np.testing.assert_allclose(out, want, rtol=rtol)
        assert np.array_equal(np.signbit(out), np.signbit(want))


def test_constant_exponents_become_multiplications_in_the_ptx(nvvm):
    def k(x, out):
        i = cuda.grid(1)
        if i < x.size:
            r = 1.0 / x[i]
            out[i] = r ** 6 - r ** 12 + x[i] ** 0.5

    ptx, _ = cuda.compile_ptx(k, "void(float64[::1], float64[::1])")
    assert "__nv_pow" not in ptx and not re.search(r"\bcall\b.*pow", ptx)
    assert "sqrt.rn.f64" in ptx


def test_other_exponents_still_call_pow():
    @ember.jit
    def f(x, e):
        return x ** 2.5, x ** e, x ** 100

    got = f(1.3, 0.7)
    assert got[0] == pytest.approx(1.3 ** 2.5, rel=1e-15)
    assert got[1] == pytest.approx(1.3 ** 0.7, rel=1e-15)
    assert got[2] == pytest.approx(1.3 ** 100, rel=1e-14)


def test_builtin_pow_and_complex_power_in_kernels():
    # numba's test_powi.py kernels
    @cuda.jit
    def vec_pow(r, x, y):
        i = cuda.grid(1)
        if i < len(r):
            r[i] = pow(x[i], y[i])

    @cuda.jit
    def vec_pow_inplace(r, x):
        i = cuda.grid(1)
        if i < len(r):
            r[i] **= x[i]

    rng = np.random.default_rng(123)
    for dt, rtol in ((np.complex64, 3e-7), (np.complex128, 1e-14)):
        x = (rng.random(32) + rng.random(32) * 1j).astype(dt)
        y = (rng.random(32) + rng.random(32) * 1j).astype(dt)
        r = np.zeros_like(x)
        vec_pow[1, 32](r, x, y)
        np.testing.assert_allclose(r, x ** y, rtol=rtol)
        x2 = np.array([0j, 1j], dtype=dt)
        y2 = np.array([0j, 1 + 0j], dtype=dt)
        r2 = np.zeros_like(x2)
        vec_pow[1, 2](r2, x2, y2)
        np.testing.assert_allclose(r2, x2 ** y2, rtol=rtol)
        xi = x.copy()
        vec_pow_inplace[1, 32](xi, y)
        np.testing.assert_allclose(xi, x ** y, rtol=rtol * 3)
    r = np.zeros(3)
    vec_pow[1, 3](r, np.array([2.0, 9.0, 1.5]), np.array([10.0, 0.5, -2.0]))
    np.testing.assert_allclose(r, [2.0 ** 10, 3.0, 1.5 ** -2], rtol=1e-15)


def test_pow_with_a_modulus_is_refused():
    @ember.jit
    def f(a, b):
        return pow(a, b, 7)

    with pytest.raises(Exception, match=r"test_kernel_python\.py:\d+:\d+: pow\(\) takes 2 "
                                        r"arguments"):
        f(2, 3)
