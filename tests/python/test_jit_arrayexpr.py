"""Array expressions in ember.jit functions (a + b, np.sin(a), a > 0.5,
np.where ...), slice assignment (a[1:3] = b, a[:] = 0, in jit functions and
in kernels), in-place operators (a += b) and the array makers a.copy(),
np.copy, a.fill.

Every result is compared with NumPy computing the same expression in Python
on the same inputs, values and dtypes both. Dtypes follow NEP 50 as ember's
scalars do: a Python literal is weak (int32 array + 2 stays int32, float32
array * 2.0 stays float32), a typed scalar argument is not (float32 array *
float64 argument is float64, as NumPy 2 and numba).
"""

import importlib.util
import itertools
import os
import tempfile

import numpy as np
import pytest

from ember import cuda, njit
from ember.errors import TypingError, UnsupportedError

DTYPES = [np.int32, np.int64, np.float32, np.float64, np.complex128, np.bool_]


_GEN_DIR = tempfile.mkdtemp(prefix="ember_arrayexpr_")
_gen_count = itertools.count()


def jit_source(params, body):
    """An @njit function `def f(params): return body`, written to a file (ember
    reads a function's source, so lambdas and exec'd code cannot be used)."""
    path = os.path.join(_GEN_DIR, f"gen{next(_gen_count)}.py")
    with open(path, "w") as fh:
        fh.write(f"import numpy as np\nfrom ember import njit\n\n\n@njit\n"
                 f"def f({params}):\n    return {body}\n")
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.f


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sample(dt, shape, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    if dt == np.bool_:  # a positive one is a divisor: all True
        return rng.random(shape) > (-1 if positive else 0.5)
    if np.issubdtype(dt, np.integer):
        lo = 1 if positive else -9
        return rng.integers(lo, 10, shape).astype(dt)
    x = rng.random(shape) * 4 + (0.5 if positive else -2)
    if np.issubdtype(dt, np.complexfloating):
        x = x + 1j * (rng.random(shape) - 0.5)
    return x.astype(dt)


def same(got, want):
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    assert got.flags.c_contiguous
    if np.issubdtype(want.dtype, np.inexact):
        tol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# binary operators, every dtype pair NumPy allows
# ---------------------------------------------------------------------------

@njit
def add(a, b):
    return a + b


@njit
def sub(a, b):
    return a - b


@njit
def mul(a, b):
    return a * b


@njit
def truediv(a, b):
    return a / b


@njit
def floordiv(a, b):
    return a // b


@njit
def mod(a, b):
    return a % b


@njit
def power(a, b):
    return a ** b


@njit
def bitand(a, b):
    return a & b


@njit
def bitor(a, b):
    return a | b


@njit
def bitxor(a, b):
    return a ^ b


ARITH = [(add, np.add), (sub, np.subtract), (mul, np.multiply), (truediv, np.true_divide)]


@pytest.mark.parametrize("f, ref", ARITH)
@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("db", DTYPES)
def test_arithmetic_of_every_dtype_pair(f, ref, da, db):
    a = sample(da, (3, 4), 1)
    b = sample(db, (3, 4), 2, positive=True)
    if ref is np.subtract and da == db == np.bool_:
        with pytest.raises(TypingError, match="operator - of bool arrays"):
            f(a, b)
        return
    same(f(a, b), ref(a, b))


@pytest.mark.parametrize("f, ref", [(floordiv, np.floor_divide), (mod, np.remainder)])
@pytest.mark.parametrize("da", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("db", [np.int32, np.int64, np.float32, np.float64])
def test_floor_division_and_modulo(f, ref, da, db):
    a = sample(da, 12, 3)
    b = sample(db, 12, 4, positive=True)
    same(f(a, b), ref(a, b))


def test_integer_division_by_zero_gives_zero_as_numpy():
    a = np.array([7, -7, 3], dtype=np.int64)
    b = np.array([0, 2, 0], dtype=np.int64)
    with np.errstate(divide="ignore"):
        same(floordiv(a, b), a // b)
        same(mod(a, b), a % b)


@pytest.mark.parametrize("f, ref", [(bitand, np.bitwise_and), (bitor, np.bitwise_or),
                                    (bitxor, np.bitwise_xor)])
@pytest.mark.parametrize("da, db", [(np.int32, np.int32), (np.int64, np.int32),
                                    (np.bool_, np.bool_), (np.bool_, np.int64)])
def test_bitwise_operators(f, ref, da, db):
    a, b = sample(da, 10, 5), sample(db, 10, 6)
    same(f(a, b), ref(a, b))


def test_bitwise_of_floats_is_a_typing_error_naming_the_line():
    with pytest.raises(TypingError, match=r"test_jit_arrayexpr.py:\d+:.*operator & needs "
                                          "integers or bools"):
        bitand(np.ones(3), np.ones(3))


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.float32, np.float64, np.complex128])
def test_power_with_a_literal_exponent(dt):
    @njit
    def sq(a):
        return a ** 2

    a = sample(dt, (2, 5), 7)
    same(sq(a), a ** 2)


def test_power_of_float_arrays():
    a, b = sample(np.float64, 8, 1, True), sample(np.float64, 8, 2)
    same(power(a, b), a ** b)


# ---------------------------------------------------------------------------
# scalars: weak literals, typed scalar arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES[:5])
def test_literals_are_weak(dt):
    @njit
    def f(a):
        return a + 2, a * 2.0, 2 - a, 3 * a

    a = sample(dt, 6, 8)
    r = f(a)
    for got, want in zip(r, (a + 2, a * 2.0, 2 - a, 3 * a)):
        same(got, want)


@pytest.mark.parametrize("dt", [np.int32, np.float32, np.float64])
def test_a_scalar_argument_is_typed_as_ember_types_it(dt):
    a = sample(dt, 5, 9)
    # a float argument is float64 (strong): float32 array * float64 -> float64 (NEP 50)
    got = mul(a, 1.5)
    want = (a.astype(np.result_type(dt, np.float64)) * 1.5)
    same(got, want)
    # an int argument is int64: int32 array + int64 -> int64
    got = add(a, 3)
    same(got, a.astype(np.result_type(dt, np.int64)) + 3)


def test_scalar_with_a_2d_array_both_sides():
    a = sample(np.float64, (3, 4), 10)
    same(sub(2.5, a), 2.5 - a)
    same(truediv(a, 4), a / 4)


# ---------------------------------------------------------------------------
# unary operators and comparisons
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [np.int32, np.int64, np.float32, np.float64, np.complex128])
def test_negation_and_abs(dt):
    @njit
    def f(a):
        return -a, abs(a), np.abs(a), +a

    a = sample(dt, (4, 3), 11)
    for got, want in zip(f(a), (-a, np.abs(a), np.abs(a), a.copy())):
        same(got, want)


def test_invert_of_ints_and_bools():
    @njit
    def f(a):
        return ~a

    for a in (sample(np.int32, 7, 1), sample(np.int64, 7, 2), sample(np.bool_, 7, 3)):
        same(f(a), ~a)


def test_negating_a_bool_array_is_a_typing_error():
    @njit
    def f(a):
        return -a

    with pytest.raises(TypingError, match="unary - of a bool array"):
        f(np.ones(3, np.bool_))


def test_not_of_an_array_is_a_typing_error():
    @njit
    def f(a):
        return not a

    with pytest.raises(TypingError, match="'not' of an array: its truth value is ambiguous"):
        f(np.ones(3))


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
@pytest.mark.parametrize("da, db", [(np.float64, np.float64), (np.int32, np.float32),
                                    (np.int64, np.int64), (np.bool_, np.bool_)])
def test_comparisons_give_bool_arrays(op, da, db):
    f = jit_source("a, b", f"a {op} b")
    a, b = sample(da, (2, 6), 12), sample(db, (2, 6), 13)
    a[0, :3] = b[0, :3]  # some equal elements
    same(f(a, b), eval(f"a {op} b"))


def test_comparison_with_a_literal():
    @njit
    def f(a):
        return a > 0.5

    a = sample(np.float32, (3, 3), 14)
    same(f(a), a > 0.5)


def test_complex_arrays_are_not_ordered():
    @njit
    def f(a, b):
        return a < b

    with pytest.raises(TypingError, match="complex numbers are not ordered"):
        f(np.ones(2, np.complex128), np.ones(2, np.complex128))


# ---------------------------------------------------------------------------
# NumPy functions on arrays
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sin", "cos", "exp", "log", "sqrt", "tanh", "floor",
                                  "arctan", "log1p", "abs", "square", "sign"])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32])
def test_unary_ufuncs(name, dt):
    fn = getattr(np, name)
    f = jit_source("a", f"np.{name}(a)")
    a = sample(dt, (3, 5), 15, positive=True)
    same(f(a), numpy2_ufunc(fn, a))


NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def numpy2_ufunc(fn, a):
    """fn(a) with NumPy 2's rule, which ember follows on every NumPy: floor,
    ceil and trunc keep an integer or bool type (NumPy 1 gave float64)."""
    want = fn(a)
    if fn in (np.floor, np.ceil, np.trunc) and not np.issubdtype(a.dtype, np.inexact):
        kept = a.copy()
        np.testing.assert_array_equal(want, kept)   # the values agree on NumPy 1 too
        if NUMPY2:
            assert want.dtype == kept.dtype
        return kept
    return want


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc"])
@pytest.mark.parametrize("dt", [np.bool_, np.int8, np.uint16, np.int64, np.float32])
def test_rounding_ufuncs_keep_integer_types(name, dt):
    fn = getattr(np, name)
    f = jit_source("a", f"np.{name}(a)")
    a = sample(dt, 7, 21)
    same(f(a), numpy2_ufunc(fn, a))
    g = jit_source("a", f"np.{name}(a[1])")      # the scalar form
    want = numpy2_ufunc(fn, a[1:2])[0]
    got = g(a)
    # a scalar comes back as a Python number, float exactly when NumPy's is
    assert got == want and isinstance(got, float) == isinstance(want, np.inexact), (got, want)


@pytest.mark.parametrize("name", ["maximum", "minimum", "arctan2", "hypot", "fmod"])
@pytest.mark.parametrize("da, db", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.int32, np.float64)])
def test_binary_ufuncs(name, da, db):
    fn = getattr(np, name)
    f = jit_source("a, b", f"np.{name}(a, b)")
    a, b = sample(da, (4, 3), 16, True), sample(db, (3,), 17, True)
    same(f(a, b), fn(a, b))


def test_maximum_of_ints_and_nan_propagation():
    f = jit_source("a, b", "np.maximum(a, b), np.minimum(a, b)")
    a, b = sample(np.int32, 9, 18), sample(np.int32, 9, 19)
    mx, mn = f(a, b)
    same(mx, np.maximum(a, b))
    same(mn, np.minimum(a, b))
    x = np.array([1.0, np.nan, 3.0])
    y = np.array([np.nan, 2.0, 1.0])
    mx, mn = f(x, y)
    same(mx, np.maximum(x, y))
    same(mn, np.minimum(x, y))


def test_where():
    @njit
    def f(c, x, y):
        return np.where(c, x, y)

    @njit
    def g(a):
        return np.where(a > 0, a, 0.0)

    c = sample(np.bool_, (3, 4), 20)
    x, y = sample(np.float64, (3, 4), 21), sample(np.int32, (4,), 22)
    same(f(c, x, y), np.where(c, x, y))
    a = sample(np.float32, 10, 23)
    same(g(a), np.where(a > 0, a, 0.0))


def test_math_module_functions_refuse_arrays():
    import math

    @njit
    def f(a):
        return math.sin(a)

    with pytest.raises(TypingError, match=r"sin\(\) needs numbers"):
        f(np.ones(3))


# ---------------------------------------------------------------------------
# broadcasting, views, nesting
# ---------------------------------------------------------------------------

BROADCASTS = [((3, 1), (4,)), ((3, 4), (4,)), ((1, 4), (3, 1)), ((2, 1, 3), (4, 1)),
              ((5,), (1,)), ((0, 3), (3,)), ((2, 3), (2, 3)), ((1,), (1,))]


@pytest.mark.parametrize("sa, sb", BROADCASTS)
def test_broadcasting_shapes(sa, sb):
    a, b = sample(np.float64, sa, 24), sample(np.float64, sb, 25)
    same(add(a, b), a + b)
    same(mul(b, a), b * a)


def test_zero_stride_and_non_contiguous_inputs():
    base = sample(np.float64, (6, 8), 26)
    a = base[::2, 1::3]          # strided view
    t = base.T                   # transposed (F order)
    z = np.broadcast_to(np.arange(4.0), (3, 4))  # stride 0 rows
    same(add(a, a), a + a)
    same(mul(t, 2.0 * np.ones(6)), t * 2.0)
    same(sub(z, base[:3, :4]), z - base[:3, :4])
    r = base[::-1, ::-2]         # negative strides
    same(add(r, 1.0), r + 1.0)


@pytest.mark.parametrize("sa, sb", [((3,), (4,)), ((2, 3), (3, 2)), ((4, 3), (4,))])
def test_broadcast_mismatch_is_a_value_error_naming_the_line(sa, sb):
    a, b = np.ones(sa), np.ones(sb)
    with pytest.raises(ValueError, match=r"test_jit_arrayexpr.py:\d+:\d+: operands could not "
                                         r"be broadcast together"):
        add(a, b)


def test_nested_expressions():
    @njit
    def norm(a, b):
        return np.sqrt(a * a + b * b)

    @njit
    def mixed(a, b, c):
        return (a - b.mean()) / (1.0 + np.exp(-c)) > b

    a, b = sample(np.float64, (3, 4), 27), sample(np.float64, (4,), 28)
    same(norm(a, b), np.sqrt(a * a + b * b))
    c = sample(np.float32, (3, 1), 29)
    same(mixed(a, b, c), (a - b.mean()) / (1.0 + np.exp(-c)) > b)


def test_result_feeds_reductions_and_indexing():
    @njit
    def f(a, b):
        d = a - b
        s = (d * d).sum()
        return s, d[1], d.shape[0]

    a, b = sample(np.float64, (3, 2), 30), sample(np.float64, (3, 2), 31)
    s, row, n = f(a, b)
    assert np.isclose(s, ((a - b) ** 2).sum())
    same(row, (a - b)[1])
    assert n == 3


def test_operands_are_not_modified():
    a, b = sample(np.float64, 5, 32), sample(np.float64, 5, 33)
    a0, b0 = a.copy(), b.copy()
    add(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


# ---------------------------------------------------------------------------
# in-place operators
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [np.int32, np.int64, np.float32, np.float64, np.complex128])
def test_augmented_assignment_works_in_place(dt):
    @njit
    def f(a, b):
        a += b
        a *= 2
        a -= 1
        return a

    a, b = sample(dt, (3, 4), 34), sample(dt, (4,), 35)
    want = ((a + b) * 2) - 1
    got = f(a, b)
    assert got is a  # the argument itself, modified
    same(a, want.astype(dt))


def test_augmented_assignment_casts_same_kind():
    @njit
    def f(a):
        a /= 2.0

    @njit
    def g(a, b):
        a += b

    x = np.arange(4.0, dtype=np.float32)
    f(x)
    same(x, np.arange(4.0, dtype=np.float32) / 2)
    y = np.arange(4, dtype=np.int64)
    g(y, np.ones(4, np.int32))
    same(y, np.arange(1, 5, dtype=np.int64))
    with pytest.raises(TypingError, match="same-kind"):
        f(np.arange(4))
    with pytest.raises(TypingError, match="same-kind"):
        g(np.arange(4), np.ones(4))


def test_augmented_assignment_on_a_slice_and_a_row():
    @njit
    def f(a, b):
        a[1:3] += b
        a[0] *= 10.0
        a[:, 0] -= 1.0

    a, b = sample(np.float64, (4, 3), 36), sample(np.float64, (3,), 37)
    want = a.copy()
    want[1:3] += b
    want[0] *= 10.0
    want[:, 0] -= 1.0
    f(a, b)
    same(a, want)


def test_augmented_assignment_broadcast_mismatch():
    @njit
    def iadd(a, b):
        a += b

    with pytest.raises(ValueError, match="could not be broadcast together: extents 4 and 3"):
        iadd(np.ones(3), np.ones(4))
    with pytest.raises(TypingError, match="could not broadcast a 2-d array into a 1-d"):
        iadd(np.ones(3), np.ones((2, 3)))  # the result would not fit a


def test_overlapping_in_place_reads_the_old_values():
    @njit
    def shift(a):
        a[1:] = a[:-1]
        return a

    @njit
    def shift_add(a):
        a[1:] += a[:-1]
        return a

    @njit
    def rev(a):
        a[:] = a[::-1]
        return a

    x = np.arange(6)
    want = x.copy()
    want[1:] = want[:-1].copy()
    same(shift(x.copy()), want)
    want = x.copy()
    want[1:] += x[:-1]
    same(shift_add(x.copy()), want)
    same(rev(x.copy()), x[::-1])


# ---------------------------------------------------------------------------
# slice assignment
# ---------------------------------------------------------------------------

def test_slice_assignment_forms():
    @njit
    def f(a, b, row, i, j):
        a[:] = 0
        a[1:3] = b
        a[i, :] = row
        a[:, j] = 1.5
        a[3, 1:] = row[:2]
        return a

    a = np.empty((5, 3))
    b = sample(np.float64, (2, 3), 38)
    row = sample(np.float64, 3, 39)
    want = np.empty((5, 3))
    want[:] = 0
    want[1:3] = b
    want[4, :] = row
    want[:, 2] = 1.5
    want[3, 1:] = row[:2]
    same(f(a, b, row, 4, 2), want)


def test_slice_assignment_converts_the_value():
    @njit
    def f(a, v, b):
        a[::2] = v
        a[1::2] = b

    a = np.zeros(6, np.int32)
    f(a, 2.7, np.array([True, False, True]))
    want = np.zeros(6, np.int32)
    want[::2] = 2.7
    want[1::2] = np.array([True, False, True])
    same(a, want)


def test_row_assignment_of_a_2d_array():
    @njit
    def f(a, r):
        for i in range(a.shape[0]):
            a[i] = r * i

    a, r = np.zeros((3, 4)), sample(np.float64, 4, 40)
    f(a, r)
    same(a, np.outer(np.arange(3.0), r))


def test_slice_assignment_errors():
    @njit
    def too_many_dims(a, b):
        a[:] = b

    @njit
    def complex_into_real(a, z):
        a[:] = z

    @njit
    def mismatch(a, b):
        a[1:3] = b

    with pytest.raises(TypingError, match=r"could not broadcast a 2-d array into a 1-d"):
        too_many_dims(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(TypingError, match=r"cannot store complex128 into an array of float64"):
        complex_into_real(np.zeros(3), 1j)
    with pytest.raises(ValueError, match=r"test_jit_arrayexpr.py:\d+:\d+: operands could not "
                                         r"be broadcast together: extents 3 and 2"):
        mismatch(np.zeros(5), np.ones(3))
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(TypingError, match="read-only"):
        mismatch(ro, np.ones(2))


@cuda.jit
def kernel_slice_assign(a, b, v):
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i, :] = v
        a[i, 1:3] = b[i]
        a[i, 3:] += b[i, 0]


def test_slice_assignment_in_a_kernel_on_the_cpu_device():
    a = np.zeros((40, 5))
    b = sample(np.float64, (40, 2), 41)
    kernel_slice_assign[2, 32](a, b, 0.25)
    want = np.full((40, 5), 0.25)
    want[:, 1:3] = b
    want[:, 3:] += b[:, :1]
    same(a, want)


@cuda.jit
def kernel_row_store(a, b):
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i, :] = b


def test_slice_assignment_shape_mismatch_in_a_kernel_is_an_index_error():
    a = np.zeros((4, 3))
    with pytest.raises(IndexError, match=r"test_jit_arrayexpr.py:\d+:\d+: index out of bounds"):
        kernel_row_store[1, 4](a, np.ones(2))
    np.testing.assert_array_equal(a, 0.0)  # nothing stored
    kernel_row_store[1, 4](a, np.arange(3.0))
    same(a, np.tile(np.arange(3.0), (4, 1)))


def test_kernels_refuse_array_expressions():
    @cuda.jit
    def k(a, b, out):
        c = a + b
        out[0] = c[0]

    with pytest.raises(UnsupportedError, match=r"array expressions .* are not supported in "
                                               "kernels"):
        k[1, 1](np.ones(3), np.ones(3), np.zeros(3))


# ---------------------------------------------------------------------------
# copy, fill
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES)
def test_copy_forms(dt):
    @njit
    def f(a):
        return a.copy(), np.copy(a), a.T.copy(), a[::2].copy()

    a = sample(dt, (4, 3), 42)
    r = f(a)
    for got, want in zip(r, (a.copy(), np.copy(a), a.T.copy(), a[::2].copy())):
        same(got, want)
        assert not np.shares_memory(got, a)


def test_fill():
    @njit
    def f(a, v):
        a.fill(v)
        a[0].fill(-1)
        return a

    a = np.zeros((3, 2), np.float32)
    same(f(a, 2.5), np.array([[-1, -1], [2.5, 2.5], [2.5, 2.5]], np.float32))


def test_fill_is_a_statement():
    @njit
    def f(a):
        return a.fill(1)

    with pytest.raises(TypingError, match="use it as a statement"):
        f(np.zeros(2))


# ---------------------------------------------------------------------------
# linspace, eye
# ---------------------------------------------------------------------------

@njit
def linspaces(a, b, n):
    return (np.linspace(a, b, n), np.linspace(a, b, n, endpoint=False), np.linspace(a, b),
            np.linspace(a, b, num=n, dtype=np.int32), np.linspace(a, b, n, False, dtype=np.float32))


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.5, 7.1, 11), (3, 3, 4), (0, 1, 1), (0, 1, 0),
                                  (10, -4, 7), (1e-300, 2e-300, 3), (0.1, 0.7, 2)])
def test_linspace_matches_numpy_exactly(args):
    a, b, n = args
    want = (np.linspace(a, b, n), np.linspace(a, b, n, endpoint=False), np.linspace(a, b),
            np.linspace(a, b, num=n, dtype=np.int32),
            np.linspace(a, b, n, False, dtype=np.float32))
    for got, w in zip(linspaces(a, b, n), want):
        assert got.dtype == w.dtype and got.shape == w.shape
        np.testing.assert_array_equal(got, w)  # the same formula: bit for bit


def test_linspace_errors():
    with pytest.raises(ValueError, match=r"test_jit_arrayexpr.py:\d+:\d+: negative dimensions"):
        linspaces(0, 1, -1)

    @njit
    def retstep(n):
        return np.linspace(0, 1, n, retstep=True)

    @njit
    def float_num(n):
        return np.linspace(0, 1, n)

    with pytest.raises(UnsupportedError, match=r"retstep=True\) is not supported"):
        retstep(3)
    with pytest.raises(TypingError, match=r"np.linspace\(\): this argument must be an integer"):
        float_num(3.0)


@njit
def eyes(n, m, k):
    return (np.eye(n), np.eye(n, m, k), np.eye(n, M=m, k=k, dtype=np.int32),
            np.eye(n, dtype=np.bool_), np.eye(n, None, k))


@pytest.mark.parametrize("args", [(3, 4, 1), (4, 2, -1), (0, 3, 0), (3, 3, 5), (2, 5, -3),
                                  (1, 1, 0)])
def test_eye_matches_numpy(args):
    n, m, k = args
    want = (np.eye(n), np.eye(n, m, k), np.eye(n, M=m, k=k, dtype=np.int32),
            np.eye(n, dtype=np.bool_), np.eye(n, None, k))
    for got, w in zip(eyes(n, m, k), want):
        same(got, w)


def test_eye_errors():
    with pytest.raises(ValueError, match="negative dimensions"):
        eyes(-1, 2, 0)

    @njit
    def float_n(n):
        return np.eye(n)

    with pytest.raises(TypingError, match=r"np.eye\(\): this argument must be an integer"):
        float_n(2.0)


def test_kernels_refuse_linspace_and_eye():
    @cuda.jit
    def k(out):
        t = np.linspace(0, 1, 3)
        out[0] = t[0]

    with pytest.raises(UnsupportedError, match="creating arrays"):
        k[1, 1](np.zeros(3))


# ---------------------------------------------------------------------------
# reshape (a view of a C-contiguous array)
# ---------------------------------------------------------------------------

@njit
def reshapes(a, n):
    return a.reshape(n, -1), a.reshape((2, 3)), a.reshape(-1), (a * 2).reshape(3, 2)


def test_reshape_forms_share_memory():
    a = np.arange(6.0)
    got = reshapes(a, 3)
    want = (a.reshape(3, -1), a.reshape((2, 3)), a.reshape(-1), (a * 2).reshape(3, 2))
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    assert np.shares_memory(got[0], a) and np.shares_memory(got[1], a)
    assert not np.shares_memory(got[3], a)


def test_stores_through_a_reshaped_argument_reach_it():
    @njit
    def f(a):
        b = a.reshape(2, 3)
        b[1, :] = 7.0
        b[0, 0] = -1.0

    x = np.zeros(6)
    f(x)
    same(x, np.array([-1.0, 0, 0, 7, 7, 7]))


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"test_jit_arrayexpr.py:\d+:\d+: cannot reshape array "
                                         r"of size 6"):
        reshapes(np.arange(6.0), 4)
    with pytest.raises(ValueError, match="cannot reshape array of size 0"):
        reshapes(np.zeros(0), 0)  # -1 with a zero extent: NumPy refuses too

    @njit
    def transposed(a):
        return a.T.reshape(6)

    @njit
    def two_unknown(a):
        return a.reshape(-1, -1)

    with pytest.raises(TypingError, match=r"only C-contiguous arrays can be reshaped here"):
        transposed(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cannot reshape"):
        two_unknown(np.zeros(4))


# ---------------------------------------------------------------------------
# realistic programs, memory
# ---------------------------------------------------------------------------

def test_softmax_and_standardize():
    @njit
    def softmax(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    @njit
    def standardize(X):
        m = X.mean()
        d = X - m
        return d / np.sqrt((d * d).mean())

    x = sample(np.float64, 50, 43)
    e = np.exp(x - x.max())
    same(softmax(x), e / e.sum())
    X = sample(np.float64, (20, 7), 44)
    same(standardize(X), (X - X.mean()) / X.std())


def test_expressions_in_a_long_loop_keep_memory_bounded():
    @njit
    def relax(a, n):
        for _ in range(n):
            b = a * 0.5 + 1.0
            a = b - np.sqrt(b * 0.0)
        return a

    a = np.zeros(1000)
    relax(a, 10)
    before = rss_bytes()
    out = relax(a, 100000)
    grown = rss_bytes() - before
    assert grown < 50 * 2**20, grown  # 10^5 iterations x 2 arrays of 8 KB would be 1.6 GB
    want = np.zeros(1000)
    for _ in range(60):  # converges to 2.0
        want = want * 0.5 + 1.0
    np.testing.assert_allclose(out, want)
