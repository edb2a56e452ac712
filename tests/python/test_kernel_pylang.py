"""Python features numba's kernels accept (issue 13, "Python in kernels"):
Enum and IntEnum members as constants and arguments, the operator
module's functions, `is` / `is not`.

The kernels follow numba's own tests (numba/cuda/tests/cudapy/test_enums.py,
test_operator.py); every result is compared with the same function run by
CPython, or with NumPy. Kernels run on the cpu device (and a GPU where there
is one) and are compiled to PTX and assembled by ptxas (conftest.py).
"""

import enum
import operator

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError

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


# ---- enums -----------------------------------------------------------------

def compare(a, b, out):
    out[0] = a == b
    out[1] = a != b
    out[2] = a is b
    out[3] = a is not b


@pytest.mark.parametrize("a, b", [(Color.red, Color.red), (Color.red, Color.green),
                                  (Planet.EARTH, Planet.EARTH), (Planet.VENUS, Planet.MARS),
                                  (Color.blue, Shake.mint), (Shape.circle, Shape.circle),
                                  (Shape.circle, RequestError.not_found)])
def test_enum_members_as_arguments_compare_as_in_python(a, b):
    got = np.zeros(4, dtype=np.bool_)
    want = got.copy()
    cuda.jit(compare)[1, 1](a, b, got)
    compare(a, b, want)
    np.testing.assert_array_equal(got, want)


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
    with pytest.warns(Warning) if cuda.get_current_device().kind == "cpu" else _nothing():
        got = uf(arr)
    np.testing.assert_array_equal(got, [f(v) for v in arr])


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


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
