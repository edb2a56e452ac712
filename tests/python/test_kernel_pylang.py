"""Python features numba's kernels accept (issue 13, "Python in kernels"):
Enum and IntEnum members as constants and arguments, the operator
module's functions, `is` / `is not`, `raise` and `assert` (the launch or
call raises that exception class, naming file, line, thread and block),
tuples (len, (), iteration, a variable index), namedtuple arguments, complex
`**`.

The kernels follow numba's own tests (numba/cuda/tests/cudapy/test_enums.py,
test_operator.py, test_userexc.py); every result is compared with the same function run by
CPython, or with NumPy. Kernels run on the cpu device (and a GPU where there
is one) and are compiled to PTX and assembled by ptxas (conftest.py).
"""

import cmath
import enum
import operator
import re
import warnings
from collections import namedtuple

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError, UnsupportedError

pytestmark = pytest.mark.usefixtures("kernel_device")


class Color(enum.Enum):
    red = 1
    green = 2
    blue = 3


class Shake(enum.Enum):
    vanilla = 7
    mint = 3          # the value of Color.blue: still a different member


class Planet(enum.Enum):
    VENUS = (4.869e+24, 6.0518e6)
    EARTH = (5.976e+24, 6.37814e6)
    MARS = (6.421e+23, 3.3972e6)


class Shape(enum.IntEnum):
    circle = 2
    square = 500


class RequestError(enum.IntEnum):
    dummy = 2
    not_found = 404
    internal_error = 500


class Small(enum.IntEnum):
    two = 2           # the value of Shape.circle and RequestError.dummy
    too = 2           # an alias: the same member as Small.two


# ---- enums -----------------------------------------------------------------

def compare(a, b, out):
    out[0] = a == b
    out[1] = a != b
    out[2] = a is b
    out[3] = a is not b


@pytest.mark.parametrize("a, b", [(Color.red, Color.red), (Color.red, Color.green),
                                  (Planet.EARTH, Planet.EARTH), (Planet.VENUS, Planet.MARS),
                                  (Color.blue, Shake.mint), (Shape.circle, Shape.circle),
                                  (Shape.circle, RequestError.not_found),
                                  (Shape.circle, Small.two), (Small.two, Small.too),
                                  (Shape.circle, 2), (2, RequestError.dummy), (2, 2)])
def test_enum_members_as_arguments_compare_as_in_python(a, b):
    got = np.zeros(4, dtype=np.bool_)
    want = got.copy()
    cuda.jit(compare)[1, 1](a, b, got)
    compare(a, b, want)
    np.testing.assert_array_equal(got, want)


def test_is_between_int_enum_classes_with_the_fast_path():
    # IntEnum members of two classes with one value are equal but never the
    # same object; an int and a member neither. Launches alternate so that
    # a kernel compiled for one pair of argument types (and kept by the C
    # fast path) is never reused for another pair.
    k = cuda.jit(compare)
    pairs = [(2, 2), (Shape.circle, Small.two), (2, 2), (Shape.circle, Shape.circle),
             (Shape.circle, 2), (Small.two, Shape.circle), (2, Small.two)]
    for a, b in pairs * 2:
        got = np.zeros(4, dtype=np.bool_)
        want = got.copy()
        k[1, 1](a, b, got)
        compare(a, b, want)
        np.testing.assert_array_equal(got, want, err_msg=f"{a!r}, {b!r}")


def test_is_against_member_constants():
    def k(a, out):
        out[0] = a is Shape.circle
        out[1] = a is not Small.two
        out[2] = a is Color.red
        out[3] = a == Shape.circle

    for a in (Shape.circle, Small.two, Shape.square, Color.red, 2):
        got = np.zeros(4, dtype=np.bool_)
        want = got.copy()
        cuda.jit(k)[1, 1](a, got)
        k(a, want)
        np.testing.assert_array_equal(got, want, err_msg=repr(a))


def test_an_enum_member_inside_a_tuple():
    def k(t, out):
        out[0] = t[0] + t[1]

    got = np.zeros(1, dtype=np.int64)
    cuda.jit(k)[1, 1]((Shape.square, 3), got)   # an IntEnum member is its int there
    assert got[0] == Shape.square + 3
    with pytest.raises(TypeError, match="cannot take a Color inside a tuple"):
        cuda.jit(k)[1, 1]((Color.red, 3), got)


def test_enum_members_as_constants():
    def k(out):
        out[0] = Color.red == Color.green
        out[1] = Color['red'] == Color['red']
        out[2] = Color.blue.value
        out[3] = Shape.square + 1
        out[4] = Color.blue == Shake.mint

    got = np.zeros(5, dtype=np.int64)
    want = got.copy()
    cuda.jit(k)[1, 1](got)
    k(want)
    np.testing.assert_array_equal(got, want)


def test_enum_from_a_device_function():
    @cuda.jit(device=True)
    def inner(pred):
        return Color.red if pred else Color.green

    @cuda.jit
    def k(pred, out):
        out[0] = inner(pred) == Color.red
        out[1] = inner(not pred) == Color.green
        out[2] = inner(pred) == Color.green

    got = np.zeros(3, dtype=np.bool_)
    k[1, 1](True, got)
    assert got.tolist() == [True, True, False]


@pytest.mark.parametrize("x", [300, 450, 550])
def test_int_enum_coerces_to_int(x):
    def f(x, out):
        if x > RequestError.internal_error:
            out[0] = x - RequestError.not_found
        else:
            out[0] = x + Shape.circle

    got = np.zeros(1, dtype=np.int32)
    want = got.copy()
    cuda.jit(f)[1, 1](x, got)
    f(x, want)
    np.testing.assert_array_equal(got, want)


def test_int_enum_in_a_cuda_ufunc():
    def f(x):
        if x != RequestError.not_found:
            return RequestError['internal_error']
        return RequestError.dummy

    uf = ember.vectorize("int64(int64)", target="cuda")(f)
    arr = np.array([2, 404, 500, 404], dtype=np.int64)
    with warnings.catch_warnings():  # "runs on the cpu device" (once per process)
        warnings.simplefilter("ignore")
        got = uf(arr)
    np.testing.assert_array_equal(got, [f(v) for v in arr])


def test_enum_in_jit():
    def is_red(c):
        return c == Color.red

    f = ember.jit(is_red)
    assert f(Color.red) is True and f(Color.blue) is False and f(Shake.mint) is False


def test_unknown_enum_member_is_a_typing_error():
    @cuda.jit
    def k(out):
        out[0] = Color.purple == Color.red

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+.*no member 'purple'"):
        k[1, 1](np.zeros(1, dtype=np.bool_))


# ---- the operator module -----------------------------------------------------

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.iadd, operator.imul]
COMPARE = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.__name__)
def test_operator_binary_functions(op):
    @cuda.jit
    def k(a, b):
        i = cuda.grid(1)
        if i < a.size:
            a[i] = op(a[i], b[i])

    a = np.array([1.0, 7.5, -3.25, 2.0])
    b = np.array([1.0, 2.0, 1.5, 0.5])
    got = a.copy()
    k[1, 8](got, b)
    np.testing.assert_allclose(got, [op(x, y) for x, y in zip(a, b)], rtol=1e-15)


@pytest.mark.parametrize("op", COMPARE, ids=lambda o: o.__name__)
def test_operator_comparisons(op):
    @cuda.jit
    def k(a, b, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = op(a[i], b[i])

    a = np.array([1, 5, -3, 2])
    b = np.array([1, 2, 4, 2])
    out = np.zeros(4, dtype=np.bool_)
    k[1, 8](a, b, out)
    assert out.tolist() == [op(x, y) for x, y in zip(a, b)]


def test_operator_bit_and_unary_functions_in_jit():
    def f(x, y):
        return (operator.and_(x, y), operator.or_(x, y), operator.xor(x, y),
                operator.lshift(x, 2), operator.rshift(x, 1), operator.neg(x),
                operator.invert(y), operator.not_(x), operator.truth(y), operator.abs(-x),
                operator.pos(y))

    for x, y in ((12, 10), (0, 7), (5, 0)):
        assert ember.jit(f)(x, y) == f(x, y)


def test_operator_wrong_argument_count():
    @cuda.jit
    def k(a):
        a[0] = operator.add(a[0])

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+.*takes 2 arguments"):
        k[1, 1](np.zeros(1))


# ---- raise and assert --------------------------------------------------------

class MyError(Exception):
    pass


def test_user_exception_names_function_file_line_thread_and_block():
    # numba's test_userexc.py, on the cpu device
    @cuda.jit("void(int32)", debug=True)
    def test_exc(x):
        if x == 1:
            raise MyError
        elif x == 2:
            raise MyError("foo")

    test_exc[1, 1](0)
    with pytest.raises(MyError) as cm:
        test_exc[1, 1](1)
    assert re.search(r"In function 'test_exc', file .*test_kernel_pylang\.py, line \d+",
                     str(cm.value))
    assert "tid=[0, 0, 0] ctaid=[0, 0, 0]" in str(cm.value)
    with pytest.raises(MyError) as cm:
        test_exc[1, 1](2)
    assert "tid=[0, 0, 0] ctaid=[0, 0, 0]: foo" in str(cm.value)


def test_raise_names_the_raising_thread_and_the_others_finish():
    @cuda.jit
    def k(a):
        i = cuda.grid(1)
        if a[i] < 0:
            raise ValueError("negative")
        a[i] = 2 * a[i]

    a = np.arange(8.0)
    a[5] = -1.0
    with pytest.raises(ValueError, match=r"tid=\[1, 0, 0\] ctaid=\[1, 0, 0\]: negative"):
        k[2, 4](a)
    want = np.arange(8.0) * 2
    want[5] = -1.0
    np.testing.assert_array_equal(a, want)   # the raising thread stopped there
    b = np.arange(8.0)
    k[2, 4](b)                               # usable after the error
    np.testing.assert_array_equal(b, np.arange(8.0) * 2)


def test_assert_in_a_kernel():
    @cuda.jit
    def k(a):
        i = cuda.grid(1)
        assert a[i] != 3.0, "three"
        assert a[i] < 100.0
        a[i] += 1.0

    a = np.arange(4.0)
    with pytest.raises(AssertionError, match=r"line \d+, tid=\[3, 0, 0\] ctaid=\[0, 0, 0\]: "
                                             r"three"):
        k[1, 4](a)
    with pytest.raises(AssertionError, match=r"tid=\[0, 0, 0\]"):
        k[1, 1](np.array([500.0]))
    b = np.array([0.0, 1.0])
    k[1, 2](b)
    assert b.tolist() == [1.0, 2.0]


def test_raise_in_a_device_function():
    @cuda.jit(device=True)
    def check(x):
        if x > 10:
            raise OverflowError("too big")
        return x * 2

    @cuda.jit
    def k(a, out):
        i = cuda.grid(1)
        out[i] = check(a[i])

    out = np.zeros(3)
    k[1, 3](np.array([1.0, 2.0, 3.0]), out)
    assert out.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(OverflowError, match="too big"):
        k[1, 3](np.array([1.0, 20.0, 3.0]), out)


def test_raise_and_assert_in_jit_functions_raise_as_python():
    def f(x):
        if x < 0:
            raise ValueError("x must be >= 0", -1)
        assert x != 7, "seven"
        return x * 2

    j = ember.jit(f)
    assert j(3) == 6
    # (pytest rewrites the assert of f run here, so the expected args are written out)
    for bad, cls, args in ((-1, ValueError, ("x must be >= 0", -1)),
                           (7, AssertionError, ("seven",))):
        with pytest.raises(cls) as got:
            j(bad)
        assert type(got.value) is cls and got.value.args == args
    assert j(4) == 8   # the fast path, after the errors


def test_raise_errors_name_the_line():
    @cuda.jit
    def k(a):
        raise ValueError(a[0])

    with pytest.raises(Exception, match=r"test_kernel_pylang\.py:\d+:\d+: an exception "
                                        r"argument must be a constant"):
        k[1, 1](np.zeros(1))

    @cuda.jit
    def k2(a):
        raise 3

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+:\d+: raise needs an "
                                          r"exception class"):
        k2[1, 1](np.zeros(1))


# ---- tuples -----------------------------------------------------------------

def tuple_things(t, i):
    u = (t[0], t[1] * 2, 7)
    e = ()
    s = 0
    for v in u:
        s += v
    return len(u), len(e), len(t), s, u[i], u[-1 - i], t[i]


@pytest.mark.parametrize("i", [0, 1, 2, -1, -3])
def test_tuple_len_empty_iteration_and_variable_index_in_jit(i):
    t = (4, 5, 6)
    assert ember.jit(tuple_things)(t, i) == tuple_things(t, i)


def test_variable_index_into_a_homogeneous_tuple_in_kernels():
    @cuda.jit(device=True)
    def pick(t, i):
        return t[i]

    @cuda.jit
    def k(shape_t, out):
        i = cuda.grid(1)
        if i < out.size:
            w = (1.5, 2.5, 4.0, 8.0)
            out[i] = w[i % 4] + pick(shape_t, i % 2) + w[-1 - i % 4]

    t = (10.0, 20.0)
    out = np.zeros(9)
    k[1, 16](t, out)
    w = (1.5, 2.5, 4.0, 8.0)
    np.testing.assert_array_equal(out, [w[i % 4] + t[i % 2] + w[-1 - i % 4] for i in range(9)])


def test_variable_tuple_index_out_of_range_with_bounds_checking():
    @ember.jit(boundscheck=True)
    def f(i):
        t = (1, 2, 3)
        return t[i]

    assert [f(i) for i in (0, 2, -3)] == [1, 3, 1]
    with pytest.raises(IndexError, match=r"test_kernel_pylang\.py:\d+"):
        f(3)


def test_variable_index_into_mixed_tuple_is_a_typing_error():
    @ember.jit
    def f(i):
        t = (1, 2.5)
        return t[i]

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+.*constant integers"):
        f(0)


def zip_enumerate_tuples(t, u, out):
    s = 0.0
    for i, v in enumerate(t):               # mixed item types: one branch per item
        s += (i + 1) * v
    for a, b in zip(t, u):                  # stops at the shorter tuple
        if b == 0:
            continue
        s += a * b
    for k, (a, b) in enumerate(zip(t, (3, 1.5, 2, 9))):
        if k == 2:
            break
        s -= k * a + b
    for i, v in enumerate((2, 0.5)):        # a tuple literal
        s += i * v
    out[0] = s


@pytest.mark.parametrize("t, u", [((1.0, 2, 3.5), (4, 0, 6, 7)), ((2, 0.25), (1.5, 3.0, 1))])
def test_zip_and_enumerate_over_tuples_in_kernels(t, u):
    expected = np.zeros(1)
    zip_enumerate_tuples(t, u, expected)
    got = np.zeros(1)
    cuda.jit(zip_enumerate_tuples)[1, 1](t, u, got)
    assert got[0] == expected[0]
    got = np.zeros(1)
    ember.jit(zip_enumerate_tuples)(t, u, got)
    assert got[0] == expected[0]


def test_zip_of_a_tuple_and_an_array_names_the_line():
    @cuda.jit
    def k(t, a, out):
        for x, y in zip(t, a):
            out[0] += x * y

    with pytest.raises(UnsupportedError, match=r"test_kernel_pylang\.py:\d+.*zip\(\) of a "
                       r"tuple and an array"):
        k[1, 1]((1.0, 2.0), np.ones(2), np.zeros(1))


def test_enumerate_and_zip_over_arrays_still_loop_at_run_time():
    @cuda.jit
    def k(a, b, out):
        for i, v in enumerate(a):
            out[i] = i * v
        for x, y in zip(a, b):
            out[0] += x * y

    a, b = np.arange(1.0, 6.0), np.arange(3.0)
    out = np.zeros(5)
    k[1, 1](a, b, out)
    want = np.arange(5) * a
    want[0] += (a[:3] * b).sum()
    np.testing.assert_array_equal(out, want)


@cuda.jit(device=True)
def count_items(t):
    return len(t)   # a tuple parameter: its length comes with each call (core/infer.c)


@cuda.jit(device=True)
def bump_and_pair(a):
    cuda.atomic.add(a, 0, 1)
    return a[0], 2 * a[0]


def test_len_of_tuple_items_and_tuple_parameters():
    """len() of tuples the front end cannot count: items of a nested tuple
    argument, a device function's tuple parameter (numba: a compile-time
    constant of the UniTuple / Tuple type); the tuple is still evaluated."""
    @cuda.jit
    def k(x, counter, r):
        r[0] = len(x)
        r[1] = len(x[0])
        r[2] = len(x[1])
        r[3] = len(x[2])
        r[4] = len(x[2][1])
        r[5] = count_items(x[1])
        r[6] = count_items(x)
        r[7] = count_items((1, 2.5, x[1], 4))
        r[8] = len(bump_and_pair(counter))   # runs the atomic once

    x = ((), (1, 2, 3), (1.5, (2, 3j), 4), (np.arange(3), np.ones(2)))
    counter = np.zeros(1, np.int64)
    r = np.zeros(9, np.int64)
    k[1, 1](x, counter, r)
    assert r.tolist() == [len(x), len(x[0]), len(x[1]), len(x[2]), len(x[2][1]), len(x[1]),
                          len(x), 4, 2]
    assert counter[0] == 1

    def f(x):
        return len(x[0]), len(x[1]), len(x[2][1])

    assert ember.jit(f)(x[:3]) == f(x[:3])


WEIGHTS = (1.0, 2.5, 3.0)
OFFSETS = (4, 5, 6, 7)


def test_enumerate_and_zip_over_tuples():
    """numba's test_lang: enumerate() and zip() of tuples unroll (the items
    may differ in type; zip stops at the shortest; break works)."""
    @cuda.jit
    def k(t, a):
        for i, v in enumerate(WEIGHTS):
            a[i] = v
        c = 0.0
        for w, o in zip(WEIGHTS, OFFSETS):
            c += w * o
        a[3] = c
        for j, u in enumerate(t):       # (int, float, complex) argument
            a[4 + j] = abs(u) + j
            if j == 1:
                break
        for x, y, z in zip(t, WEIGHTS, OFFSETS):
            a[6] += abs(x) * y + z

    t = (3, -1.5, 2j)
    a = np.zeros(7)
    k[1, 1](t, a)
    want = list(WEIGHTS) + [sum(w * o for w, o in zip(WEIGHTS, OFFSETS)), 3, 2.5,
                            sum(abs(x) * y + z for x, y, z in zip(t, WEIGHTS, OFFSETS))]
    np.testing.assert_allclose(a, want, rtol=1e-15)

    def f(t):
        s = 0.0
        for i, (x) in enumerate(t):
            s += i * x
        for x, y in zip(t, OFFSETS):
            s += x - y
        return s

    assert ember.jit(f)((1.5, 2, 4.0)) == f((1.5, 2, 4.0))

    @cuda.jit
    def mixed(t, a):
        for x, y in zip(t, a):
            a[0] = x + y

    with pytest.raises(UnsupportedError, match=r"zip\(\) of a tuple and an array"):
        mixed[1, 1]((1.0, 2.0), np.zeros(2))


def test_stores_into_arrays_inside_a_tuple_argument():
    """x[0][i] = v stores into the array x[0] (numba's test_tuple_of_arrays):
    a host array written there is copied back; storing into the tuple
    itself is a TypingError."""
    @cuda.jit
    def k(x):
        i = cuda.grid(1)
        if i < len(x[0]):
            x[0][i] = x[1][i] + x[2][i]

    rng = np.random.default_rng(3)
    x0, x1, x2 = np.zeros(37), rng.random(37), rng.random(37)
    k[2, 32]((x0, x1, x2))
    np.testing.assert_array_equal(x0, x1 + x2)
    d0 = cuda.to_device(np.zeros(37))
    k[2, 32]((d0, x2, x2))
    np.testing.assert_array_equal(d0.copy_to_host(), 2 * x2)

    @cuda.jit
    def store_into_tuple(t, out):
        t[0] = 1
        out[0] = t[0]

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+:\d+: tuples cannot be "
                                          r"modified"):
        store_into_tuple[1, 1]((1, 2), np.zeros(1))


def test_complex_power():
    def f(z, w):
        return z ** w, z ** 2, z ** 0.5, z ** -1, (1 + 2j) ** 3

    for z, w in ((1.5 + 0.5j, 0.25 - 1j), (-2 + 0j, 0.5 + 0j), (0.5j, 2 + 0j)):
        got = ember.jit(f)(z, w)
        for g, e in zip(got, f(z, w)):
            assert abs(g - e) <= 1e-14 * max(1.0, abs(e)), (z, w, got, f(z, w))
    assert ember.jit(f)(1 + 2j, 1j)[1:5:3] == ((1 + 2j) ** 2, (1 + 2j) ** 3)  # exact, as CPython


# ---- namedtuple arguments ----------------------------------------------------

Point = namedtuple("Point", "x y")
Swapped = namedtuple("Swapped", "y x")        # the same item types, other field order
Grid = namedtuple("Grid", "data scale")


def test_namedtuple_arguments_in_kernels():
    @cuda.jit
    def k(p, g, out):
        i = cuda.grid(1)
        if i < g.data.size:
            out[i] = g.data[i] * g.scale + p.x - p.y + p[0]

    data = np.arange(5.0)
    out = np.zeros(5)
    for p in (Point(5.0, 2.0), Swapped(5.0, 2.0), Point(1.0, 9.0), Swapped(5.0, 2.0)):
        k[1, 8](p, Grid(data, 3.0), out)
        np.testing.assert_array_equal(out, data * 3.0 + p.x - p.y + p[0])


def test_namedtuple_arguments_in_jit():
    @ember.jit
    def f(p):
        return p.x * 10 + p.y

    for p in (Point(1, 2), Swapped(1, 2), Point(3.5, 0.5)):
        assert f(p) == p.x * 10 + p.y


def test_unknown_namedtuple_field_names_the_line():
    @ember.jit
    def f(p):
        return p.z

    with pytest.raises(TypingError, match=r"test_kernel_pylang\.py:\d+:\d+: unknown "
                                          r"attribute 'z' of a namedtuple with fields x, y"):
        f(Point(1, 2))


def test_raise_inside_a_prange_loop_is_refused_with_the_line():
    @ember.jit(parallel=True)
    def f(a):
        for i in ember.prange(a.size):
            if a[i] < 0:
                raise ValueError("negative")
        return a.sum()

    with pytest.raises(UnsupportedError, match=r"test_kernel_pylang\.py:\d+:\d+: 'raise' and "
                                               r"'assert' inside a prange loop"):
        f(np.ones(4))


def test_raise_compiles_for_cuda_with_a_fault_record(nvvm):
    # on a GPU the launch synchronises and reads the fault record (no GPU here:
    # the CUDA kernel is compiled, and says it may fault, naming the site)
    @cuda.jit
    def k(a):
        if a[0] < 0:
            raise ValueError("negative")

    kern = k.compile_cuda((("array", "float64", 1, "C", False),), (8, 0))
    assert kern.may_fault
    line = k.py_func.__code__.co_firstlineno + 3  # the decorator line, then def, if, raise
    assert re.search(rf"test_kernel_pylang\.py:{line}:\d+$", kern.fault_site(0))
    assert "ember_fault" in kern.ptx  # the fault record the host reads (core/lower.h)


def test_a_local_bound_once_to_a_constant_is_a_constant_shape(cpu_device):
    """numba: ``N = 100; cuda.shared.array(N, int32)`` (its test_sync)."""
    from ember import int32, float32

    @cuda.jit
    def smem(ary):
        N = 100
        sm = cuda.shared.array(N, int32)
        i = cuda.grid(1)
        if i == 0:
            for j in range(N):
                sm[j] = j * 3
        cuda.syncthreads()
        ary[i] = sm[i]

    a = np.zeros(100, np.int32)
    smem[1, 100](a)
    np.testing.assert_array_equal(a, np.arange(100) * 3)

    @cuda.jit
    def local2d(out):
        shape = (4, 2 * 3)
        loc = cuda.local.array(shape, float32)
        for i in range(4):
            for j in range(6):
                loc[i, j] = i * 10 + j
        out[0] = loc[3, 5] + loc.size

    o = np.zeros(1)
    local2d[1, 1](o)
    assert o[0] == 35 + 24


@pytest.mark.parametrize("body", [
    "N = 4\n    if flag[0]:\n        N = 5\n",   # bound twice, the values meet
    "N = 4\n    N += 1\n",                      # changed after
    "if flag[0]:\n        N = 4\n    else:\n        N = 5\n",   # in a branch
])
def test_a_local_that_is_not_one_constant_is_not_a_shape(cpu_device, tmp_path, body):
    src = ("from ember import cuda, float32\n"
           "def k(flag):\n"
           f"    {body}"
           "    loc = cuda.local.array(N, float32)\n"
           "    flag[0] = loc.size\n")
    path = tmp_path / "k.py"
    path.write_text(src)
    ns = {}
    exec(compile(src, str(path), "exec"), ns)
    k = cuda.jit(ns["k"])
    with pytest.raises(TypingError, match="shape must be a constant"):
        k[1, 1](np.zeros(1, np.int64))


@pytest.mark.parametrize("body", ["N = 4\n    N = 5\n", "N = 4\n    N = N * 2 + 1\n"])
def test_a_name_rebound_at_top_level_is_a_new_constant(cpu_device, tmp_path, body):
    """A name bound again at top level is a new variable (numba's SSA,
    _compiler/_webs.py), bound once: its value is a shape."""
    src = ("from ember import cuda, float32\n"
           "def k(flag):\n"
           f"    {body}"
           "    loc = cuda.local.array(N, float32)\n"
           "    flag[0] = loc.size\n")
    path = tmp_path / "k.py"
    path.write_text(src)
    ns = {}
    exec(compile(src, str(path), "exec"), ns)
    want = {}
    exec(body.replace("\n    ", "\n"), {}, want)      # N as Python computes it
    flag = np.zeros(1, np.int64)
    cuda.jit(ns["k"])[1, 1](flag)
    assert flag[0] == want["N"]
# ---- *args of tuples in calls ---------------------------------------------------

def star_calls(z, t, out):
    i = cuda.grid(1)
    if i < z.size:
        out[i, 0] = complex(*cmath.polar(z[i]))       # numba's polar_as_complex_usecase
        out[i, 1] = max(*t, z[i].real)                # a tuple argument spread
        out[i, 2] = complex(*(t[1], -t[0]))           # a tuple literal


def test_star_args_of_tuples_in_calls():
    z = np.array([1 + 2j, -3 - 0.5j, 0j, 4.5 - 1j])
    t = (1.5, 2.0, -7.0)
    out = np.zeros((4, 3), dtype=np.complex128)
    cuda.jit(star_calls)[1, 8](z, t, out)
    for i, v in enumerate(z.tolist()):
        r, phi = cmath.polar(v)
        assert out[i, 0] == pytest.approx(complex(r, phi), rel=1e-15)
        assert out[i, 1] == max(*t, v.real)
        assert out[i, 2] == complex(t[1], -t[0])


def test_star_args_of_a_device_call_or_an_array_names_the_line():
    @cuda.jit(device=True)
    def pair(x):
        return x, 2 * x

    @cuda.jit
    def k1(out):
        out[0] = max(*pair(out[1]))

    @cuda.jit
    def k2(out):
        out[0] = max(*out)

    with pytest.raises(UnsupportedError, match=r"test_kernel_pylang\.py:\d+.*side effects"):
        k1[1, 1](np.zeros(2))
    with pytest.raises(UnsupportedError, match=r"test_kernel_pylang\.py:\d+.*tuple of known "
                       r"length"):
        k2[1, 1](np.zeros(2))


def nested_iterators(x, y, out):
    for i, (a, b) in enumerate(zip(x, y)):         # numba's test_iterators
        out[i, 0] = i * 100 + a * b
    for (i, a), b in zip(enumerate(x), y):
        out[i, 1] = i * 100 + a - b
    for i, (j, row) in enumerate(enumerate(x)):
        out[i, 2] = i + j + row


def test_nested_enumerate_and_zip_over_arrays():
    x = np.array([10.0, 9, 8, 7, 6])
    y = np.array([1.0, 2, 3, 4])                  # zip stops at the shorter one
    want = np.zeros((5, 3))
    nested_iterators(x, y, want)
    got = np.zeros((5, 3))
    cuda.jit(nested_iterators)[1, 1](x, y, got)
    np.testing.assert_array_equal(got, want)
    got = np.zeros((5, 3))
    ember.jit(nested_iterators)(x, y, got)
    np.testing.assert_array_equal(got, want)


# ---- Enum members returned to Python ----------------------------------------------

def pick_color(pred):
    return Color.red if pred else Color['green']


def pick_early(n):
    if n > 2:
        return Color.blue
    c = Color.red
    return c                   # a variable: not seen as a member return (stays a number)


def test_jit_function_returning_enum_members_gives_the_members():
    f = ember.jit(pick_color)
    for p in (True, False, True, 0, 1):       # the first calls compile, later ones hit C
        got = f(p)
        assert got is pick_color(p), (p, got)

    @ember.jit
    def uses(pred):                           # numba's test_return_from_device_func
        return pick(pred) == Color.red, pick(not pred) == Color.green

    pick = ember.jit(pick_color)
    assert uses(True) == (True, True) and uses(False) == (False, False)


def test_enum_returns_that_are_not_all_members_stay_numbers():
    from ember._compiler import _enums
    f = ember.jit(pick_early)
    got = f(1)
    assert isinstance(got, int) and got == _enums.member_code(Color.red)
    assert _enums.member_of_code(Color, got) is Color.red
    assert f(3) == _enums.member_code(Color.blue)
    with pytest.raises(ValueError, match="not the code of a member of Shake"):
        _enums.member_of_code(Shake, got)


def test_a_tuple_index_out_of_range_says_so_under_debug(cpu_device):
    """numba's test_exception: ary.shape[-x] past the tuple under
    debug=True is an IndexError with Python's words; without it the read
    is not checked (and here not used)."""
    def foo(ary):
        x = cuda.threadIdx.x
        if x == 2:
            ary.shape[-x]

    with pytest.raises(IndexError, match=r"\(tuple index out of range\): index out of bounds "
                       r"in thread \(2, 0, 0\)"):
        cuda.jit(debug=True, opt=False)(foo)[1, 3](np.array([0, 1]))
    cuda.jit(foo)[1, 3](np.array([0, 1]))

    @cuda.jit(debug=True)
    def pick(out, i):
        t = (10, 20, 30)
        out[0] = t[i]

    out = np.zeros(1, np.int64)
    pick[1, 1](out, -1)
    assert out[0] == 30
    with pytest.raises(IndexError, match="tuple index out of range"):
        pick[1, 1](out, 3)
