"""math, cmath and NumPy scalar functions in kernels, on the cpu device.

Each kernel runs on float32 and float64 (complex64 and complex128 for
cmath) arrays holding ordinary and edge values (0, -0.0, negatives, inf,
nan, branch cuts), and every result is compared with Python's math/cmath or
NumPy applied element by element here, never with ember. The result types
are checked twice: the output arrays have the expected dtype, and the
inferred types (inspect_types / the IR dump) say so.
"""

import cmath
import io
import math
import re

import numpy as np
import pytest

from ember import cuda
from ember.errors import TypingError, UnsupportedError

pytestmark = pytest.mark.usefixtures("kernel_device")  # cpu, and a CUDA GPU where there is one


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)

NAN, INF = math.nan, math.inf
REALS = [-7.75, -2.5, -1.0, -0.5, -0.0, 0.0, 1e-30, 0.3, 0.5, 1.0, 2.5, 3.0, 100.25,
         1e30, INF, -INF, NAN]


def key(*arrays):
    return tuple(("array", a.dtype.name, a.ndim, "C", False) for a in arrays)


def ir_of(kernel, *arrays):
    return kernel.overloads[key(*arrays)].ir


def types_text(kernel):
    buf = io.StringIO()
    kernel.inspect_types(file=buf)
    return buf.getvalue()


def py_or_nan(f, *args):
    """f(*args) from Python, nan where Python raises (a kernel cannot)."""
    try:
        return f(*args)
    except ValueError:
        return NAN
    except OverflowError:
        return math.copysign(INF, args[0])


def same(actual, expected, rtol, what):
    """Values equal within rtol, nan where nan, and the same infinities."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0, equal_nan=True,
                               err_msg=what)


# ---------------------------------------------------------------------------
# math: frexp, ldexp, modf, radians, degrees, remainder, cbrt, log(x, base)
# ---------------------------------------------------------------------------

@cuda.jit
def math_new(x, out, mant, expo):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        m, e = math.frexp(v)
        mant[i] = m
        expo[i] = e
        frac, whole = math.modf(v)
        out[i, 0] = frac
        out[i, 1] = whole
        out[i, 2] = math.ldexp(v, 3)
        out[i, 3] = math.ldexp(v, -2)
        out[i, 4] = math.radians(v)
        out[i, 5] = math.degrees(v)
        out[i, 6] = math.remainder(v, 0.75)
        out[i, 7] = math.cbrt(v)
        out[i, 8] = math.log(v, 2.0)
        out[i, 9] = math.log(v, 10)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-15), (np.float32, 1e-6)])
def test_math_frexp_ldexp_modf_and_friends(dtype, rtol):
    x = np.array(REALS, dtype=dtype)
    out = np.zeros((x.size, 10), dtype=dtype)
    mant = np.zeros(x.size, dtype=dtype)
    expo = np.zeros(x.size, dtype=np.int32)
    math_new[1, 32](x, out, mant, expo)
    xs = [float(v) for v in x]      # the float32 values, exactly, as Python floats
    # frexp: exact (mantissa and exponent), Python's (inf, 0) and (nan, 0)
    fr = [math.frexp(v) for v in xs]
    same(mant, [m for m, _ in fr], 0, "frexp mantissa")
    np.testing.assert_array_equal(expo, [e for _, e in fr])
    md = [math.modf(v) for v in xs]
    same(out[:, 0], [f for f, _ in md], 0, "modf fractional part")
    same(out[:, 1], [w for _, w in md], 0, "modf integral part")
    # signs of zero: modf(-0.0) == (-0.0, -0.0), modf(-inf) == (-0.0, -inf)
    np.testing.assert_array_equal(np.signbit(out[:, 0]), [math.copysign(1, f) < 0 for f, _ in md])
    np.testing.assert_array_equal(np.signbit(out[:, 1]), [math.copysign(1, w) < 0 for _, w in md])
    fx = dtype(0).dtype.type           # the kernel computes in x's type
    same(out[:, 2], [fx(py_or_nan(math.ldexp, v, 3)) for v in xs], 0, "ldexp 3")
    same(out[:, 3], [fx(math.ldexp(v, -2)) for v in xs], 0, "ldexp -2")
    same(out[:, 4], [math.radians(v) for v in xs], rtol, "radians")
    same(out[:, 5], [py_or_nan(math.degrees, v) for v in xs], rtol, "degrees")
    same(out[:, 6], [py_or_nan(math.remainder, v, float(fx(0.75))) for v in xs], rtol, "remainder")
    same(out[:, 7], [math.copysign(abs(v) ** (1 / 3), v) if math.isfinite(v) else v for v in xs],
         rtol * 4, "cbrt")
    with np.errstate(divide="ignore", invalid="ignore"):
        log2 = np.log(np.asarray(xs)) / math.log(2.0)
        log10 = np.log(np.asarray(xs)) / math.log(10)
    same(out[:, 8], log2, rtol * 4, "log(x, 2.0)")
    same(out[:, 9], log10, rtol * 4, "log(x, 10)")
    name = np.dtype(dtype).name
    ir = ir_of(math_new, x, out, mant, expo)
    assert f"math frexp :: ({name}, int32)" in ir
    assert f"math modf :: ({name}, {name})" in ir
    assert f"math ldexp :: {name}" in ir
    assert f"math log :: {name}" in ir
    text = types_text(math_new)
    assert f"#   math.radians(v)  :: {name}" in text
    assert f"#   math.cbrt(v)  :: {name}" in text


def test_math_remainder_is_ieee_not_python_modulo():
    x = np.array([5.0, -5.0, 7.5, 2.5, 3.5, -3.5])
    out = np.zeros((x.size, 10))
    math_new[1, 8](x, out, np.zeros(x.size), np.zeros(x.size, np.int32))
    # remainder(x, 0.75): x - n*0.75 with n the nearest integer, ties to even
    np.testing.assert_array_equal(out[:, 6], [math.remainder(v, 0.75) for v in x])
    assert out[0, 6] == -0.25 and 5.0 % 0.75 == 0.5


@cuda.jit
def math_on_ints(n, out, expo):
    i = cuda.grid(1)
    if i < n.size:
        m, e = math.frexp(n[i])
        out[i, 0] = m
        expo[i] = e
        out[i, 1] = math.ldexp(n[i], n[i])
        out[i, 2] = math.radians(n[i])


def test_math_new_functions_of_integers_are_float64():
    n = np.array([-3, 0, 1, 8, 1000], dtype=np.int64)
    out = np.zeros((n.size, 3))
    expo = np.zeros(n.size, np.int32)
    math_on_ints[1, 8](n, out, expo)
    np.testing.assert_array_equal(out[:, 0], [math.frexp(v)[0] for v in n.tolist()])
    np.testing.assert_array_equal(expo, [math.frexp(v)[1] for v in n.tolist()])
    np.testing.assert_array_equal(out[:, 1], [math.ldexp(v, v) for v in n.tolist()])
    np.testing.assert_allclose(out[:, 2], [math.radians(v) for v in n.tolist()], rtol=1e-15)
    ir = ir_of(math_on_ints, n, out, expo)
    assert "math frexp :: (float64, int32)" in ir
    assert "math radians :: float64" in ir


@cuda.jit(device=True)
def split_float(v):
    return math.frexp(v)


@cuda.jit
def frexp_through_device_function(x, mant, expo):
    i = cuda.grid(1)
    if i < x.size:
        m, e = split_float(x[i])
        t = math.modf(x[i])
        mant[i] = m + t[0] * 0
        expo[i] = e


def test_frexp_tuple_from_a_device_function():
    x = np.array([0.1, 3.0, -1024.0, 6e-310], dtype=np.float64)
    mant = np.zeros(4)
    expo = np.zeros(4, np.int32)
    frexp_through_device_function[1, 4](x, mant, expo)
    np.testing.assert_array_equal(mant, [math.frexp(v)[0] for v in x.tolist()])
    np.testing.assert_array_equal(expo, [math.frexp(v)[1] for v in x.tolist()])


# ---------------------------------------------------------------------------
# NumPy scalar ufuncs: the float type is kept (np.floor(float32) -> float32)
# ---------------------------------------------------------------------------

@cuda.jit
def numpy_unary(x, out, fl):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        out[i, 0] = np.floor(v)
        out[i, 1] = np.ceil(v)
        out[i, 2] = np.trunc(v)
        out[i, 3] = np.rint(v)
        out[i, 4] = np.round(v)
        out[i, 5] = np.sign(v)
        out[i, 6] = np.square(v)
        out[i, 7] = np.reciprocal(v)
        out[i, 8] = np.exp2(v)
        out[i, 9] = np.log2(v)
        out[i, 10] = np.cbrt(v)
        out[i, 11] = np.deg2rad(v)
        out[i, 12] = np.rad2deg(v)
        out[i, 13] = np.radians(v)
        out[i, 14] = np.degrees(v)
        out[i, 15] = np.sqrt(v)
        out[i, 16] = np.abs(v)
        out[i, 17] = np.isnan(v) + 2 * np.isinf(v) + 4 * np.isfinite(v)
        fl[i] = math.floor(v) if np.isfinite(v) else 0


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-15), (np.float32, 2e-7)])
def test_numpy_unary_ufuncs_keep_the_float_type(dtype, rtol):
    x = np.array(REALS + [0.5, 1.5, 2.5, -1.5, -2.5], dtype=dtype)
    out = np.zeros((x.size, 18), dtype=dtype)
    fl = np.zeros(x.size, dtype=np.int64)
    with np.errstate(all="ignore"):
        numpy_unary[1, 32](x, out, fl)
        expect = [np.floor(x), np.ceil(x), np.trunc(x), np.rint(x), np.round(x), np.sign(x),
                  np.square(x), np.reciprocal(x), np.exp2(x), np.log2(x), np.cbrt(x),
                  np.deg2rad(x), np.rad2deg(x), np.radians(x), np.degrees(x), np.sqrt(x),
                  np.abs(x), np.isnan(x) + 2 * np.isinf(x) + 4 * np.isfinite(x)]
    for c, e in enumerate(expect):
        assert e.dtype == dtype or c == 17
        exact = c in (0, 1, 2, 3, 4, 5, 16, 17)
        same(out[:, c], e, 0 if exact else rtol * 4, f"column {c}")
    # sign of zero and rounding of halves, exactly as NumPy
    np.testing.assert_array_equal(np.signbit(out[:, :6]), np.signbit(np.stack(expect[:6], 1)))
    small = np.abs(x) < 2.0 ** 62       # math.floor into int64
    np.testing.assert_array_equal(fl[small], [math.floor(v) for v in x[small].tolist()])
    name = np.dtype(dtype).name
    ir = ir_of(numpy_unary, x, out, fl)
    for f in ("floor", "ceil", "trunc", "rint", "round", "sign", "square", "reciprocal",
              "exp2", "cbrt", "radians", "degrees"):
        assert f"math np.{f} :: {name}" in ir, f
    assert "math floor :: int64" in ir          # math.floor still gives an int
    text = types_text(numpy_unary)
    assert f"#   np.floor(v)  :: {name}" in text
    assert "#   math.floor(v)  :: int64" in text


@cuda.jit
def numpy_binary(x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i, 0] = np.fmin(x[i], y[i])
        out[i, 1] = np.fmax(x[i], y[i])
        out[i, 2] = np.minimum(x[i], y[i])
        out[i, 3] = np.maximum(x[i], y[i])
        out[i, 4] = min(x[i], y[i])
        out[i, 5] = np.power(x[i], y[i])
        out[i, 6] = np.mod(x[i], y[i])
        out[i, 7] = np.remainder(x[i], y[i])
        out[i, 8] = np.copysign(x[i], y[i])
        out[i, 9] = np.ldexp(x[i], 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_fmin_fmax_minimum_maximum_nan_rules(dtype):
    x = np.array([1.0, NAN, NAN, 2.0, -0.0, 0.0, 3.0, -INF, 2.5], dtype=dtype)
    y = np.array([NAN, 1.0, NAN, -1.0, 0.0, -0.0, 3.0, 4.0, -1.5], dtype=dtype)
    out = np.zeros((x.size, 10), dtype=dtype)
    with np.errstate(all="ignore"):
        numpy_binary[1, 16](x, y, out)
        expect = [np.fmin(x, y), np.fmax(x, y), np.minimum(x, y), np.maximum(x, y),
                  [min(a, b) for a, b in zip(x.tolist(), y.tolist())], np.power(x, y),
                  np.mod(x, y), np.remainder(x, y), np.copysign(x, y), np.ldexp(x, 2)]
    for c, e in enumerate(expect):
        same(out[:, c], e, 1e-6 if c == 5 else 0, f"column {c}")
    # fmin/fmax: which zero, as NumPy's loops
    np.testing.assert_array_equal(np.signbit(out[4:6, 0]), np.signbit(expect[0][4:6]))
    name = np.dtype(dtype).name
    ir = ir_of(numpy_binary, x, y, out)
    assert f"math np.fmin :: {name}" in ir and f"math np.min :: {name}" in ir
    assert f"binary ** :: {name}" in ir and f"binary % :: {name}" in ir


@cuda.jit
def numpy_on_ints(n, out, iout):
    i = cuda.grid(1)
    if i < n.size:
        out[i, 0] = np.sqrt(n[i])
        out[i, 1] = np.floor(n[i])
        out[i, 2] = np.rint(n[i])
        iout[i, 0] = np.sign(n[i])
        iout[i, 1] = np.square(n[i])
        iout[i, 2] = np.power(n[i], 2)
        iout[i, 3] = np.fmax(n[i], 2)
        iout[i, 4] = np.reciprocal(n[i])
        iout[i, 5] = np.abs(n[i])


def test_numpy_ufuncs_on_integers_follow_numpy_types():
    n = np.array([-7, -1, 1, 2, 3, 12], dtype=np.int32)
    out = np.zeros((n.size, 3))
    iout = np.zeros((n.size, 6), dtype=np.int32)
    numpy_on_ints[1, 8](n, out, iout)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out[:, 0], np.sqrt(n.astype(np.float64)))
    np.testing.assert_array_equal(out[:, 1], np.floor(n))
    np.testing.assert_array_equal(out[:, 2], np.rint(n))
    expect = [np.sign(n), np.square(n), np.power(n, 2), np.fmax(n, 2), np.reciprocal(n),
              np.abs(n)]
    for c, e in enumerate(expect):
        np.testing.assert_array_equal(iout[:, c], e, err_msg=f"column {c}")
    ir = ir_of(numpy_on_ints, n, out, iout)
    assert "math np.sqrt :: float64" in ir      # integers into a float ufunc: float64
    assert "math np.rint :: float64" in ir
    for f in ("floor", "sign", "square", "fmax", "reciprocal", "abs"):   # floor: NumPy 2's rule
        assert f"math np.{f} :: int32" in ir, f
    assert "binary ** :: int32" in ir           # np.power of integers stays integer


@cuda.jit
def numpy_round_digits(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i, 0] = np.round(x[i], 1)
        out[i, 1] = np.around(x[i], -1)
        out[i, 2] = round(x[i], 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_round_with_decimals_keeps_the_type(dtype):
    x = np.array([0.25, 1.35, -2.45, 15.0, 25.0, -35.5, 123.456], dtype=dtype)
    out = np.zeros((x.size, 3), dtype=dtype)
    numpy_round_digits[1, 8](x, out)
    np.testing.assert_allclose(out[:, 0], np.round(x, 1), rtol=1e-6 if dtype == np.float32 else 0)
    np.testing.assert_allclose(out[:, 1], np.around(x, -1), rtol=0)
    name = np.dtype(dtype).name
    ir = ir_of(numpy_round_digits, x, out)
    assert f"math np.round :: {name}" in ir and f"math round :: {name}" in ir


# ---------------------------------------------------------------------------
# cmath
# ---------------------------------------------------------------------------

CMATH_UNARY = ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "asin", "acos", "atan",
               "sinh", "cosh", "tanh", "asinh", "acosh", "atanh")


@cuda.jit
def cmath_unary(z, out):
    i = cuda.grid(1)
    if i < z.size:
        v = z[i]
        out[i, 0] = cmath.sqrt(v)
        out[i, 1] = cmath.exp(v)
        out[i, 2] = cmath.log(v)
        out[i, 3] = cmath.log10(v)
        out[i, 4] = cmath.sin(v)
        out[i, 5] = cmath.cos(v)
        out[i, 6] = cmath.tan(v)
        out[i, 7] = cmath.asin(v)
        out[i, 8] = cmath.acos(v)
        out[i, 9] = cmath.atan(v)
        out[i, 10] = cmath.sinh(v)
        out[i, 11] = cmath.cosh(v)
        out[i, 12] = cmath.tanh(v)
        out[i, 13] = cmath.asinh(v)
        out[i, 14] = cmath.acosh(v)
        out[i, 15] = cmath.atanh(v)


def complex_points(rng, big):
    """Random points, the axes with signed zeros, the branch cuts (real
    axis beyond ±1, imaginary axis beyond ±i) on both sides, and large
    values."""
    pts = list(rng.standard_normal(40) * 2 + 1j * rng.standard_normal(40) * 2)
    for re in (-3.0, -1.5, -0.5, 0.5, 1.5, 3.0):
        for im in (0.0, -0.0):
            pts.append(complex(re, im))
            pts.append(complex(im, re))
    pts += [0j, complex(-0.0, 0.0), complex(0.0, -0.0), complex(-0.0, -0.0), 1 + 0j, -1 + 0j,
            1j, -1j, 0.5 + 0.5j, -0.7 + 0.7j, complex(big, big / 3), complex(-big, 2.0),
            complex(3.0, -big), complex(big / 7, -big)]
    return pts


def cmath_expected(f, z):
    try:
        return f(z)
    except (ValueError, OverflowError):
        return None


def close_complex(got, want, rtol, atol, what):
    ok = (math.isclose(got.real, want.real, rel_tol=rtol, abs_tol=atol) and
          math.isclose(got.imag, want.imag, rel_tol=rtol, abs_tol=atol))
    assert ok, f"{what}: got {got!r}, cmath gives {want!r}"


@pytest.mark.parametrize("dtype, rtol, big", [(np.complex128, 1e-12, 1.5e308),
                                              (np.complex64, 2e-5, 3e38)])
def test_cmath_functions_match_cmath(rng, dtype, rtol, big):
    z = np.array(complex_points(rng, big), dtype=dtype)
    out = np.zeros((z.size, len(CMATH_UNARY)), dtype=dtype)
    cmath_unary[1, 128](z, out)
    atol = 1e-14 if dtype == np.complex128 else 1e-6
    for c, name in enumerate(CMATH_UNARY):
        f = getattr(cmath, name)
        for k, v in enumerate(z.tolist()):
            want = cmath_expected(f, v)
            got = complex(out[k, c])
            if want is None:        # cmath raises: 0 for log, ±1 for atanh, overflow
                continue
            if dtype == np.complex64 and not (abs(want.real) < 3e38 and abs(want.imag) < 3e38):
                continue            # beyond float32: cmath's double result is not comparable
            close_complex(got, want, rtol, atol * max(1.0, abs(want)), f"cmath.{name}({v!r})")
            # the sign of a zero part on the axes and branch cuts, as cmath
            for part in ("real", "imag"):
                w, g = getattr(want, part), getattr(got, part)
                if w == 0 and (v.real == 0 or v.imag == 0):
                    assert math.copysign(1, g) == math.copysign(1, w), \
                        f"sign of {part} of cmath.{name}({v!r}): {got!r} vs {want!r}"
    name = np.dtype(dtype).name
    ir = ir_of(cmath_unary, z, out)
    for f in CMATH_UNARY:
        assert f"math cmath.{f} :: {name}" in ir, f


@cuda.jit
def cmath_special(z, out):
    i = cuda.grid(1)
    if i < z.size:
        out[i, 0] = cmath.sqrt(z[i])
        out[i, 1] = cmath.exp(z[i])
        out[i, 2] = cmath.log(z[i])
        out[i, 3] = cmath.sinh(z[i])
        out[i, 4] = cmath.cosh(z[i])
        out[i, 5] = cmath.tanh(z[i])


def test_cmath_infinities_where_they_are_handled():
    z = np.array([complex(-INF, 0.0), complex(INF, 0.0), complex(INF, -0.0),
                  complex(1.0, INF), complex(-INF, 2.0), complex(INF, NAN)])
    out = np.zeros((z.size, 6), dtype=np.complex128)
    cmath_special[1, 8](z, out)
    fns = [cmath.sqrt, cmath.exp, cmath.log, cmath.sinh, cmath.cosh, cmath.tanh]
    checked = {0: range(6), 1: range(3), 2: (0, 1, 2, 4), 3: (1, 2), 4: (1, 2), 5: (0, 1, 2)}
    for c, rows in checked.items():
        for k in rows:
            v = complex(z[k])
            want, got = fns[c](v), complex(out[k, c])
            for part in ("real", "imag"):
                w, g = getattr(want, part), getattr(got, part)
                assert (math.isnan(w) and math.isnan(g)) or w == g, \
                    f"{fns[c].__name__}({v!r}): got {got!r}, cmath gives {want!r}"


@cuda.jit
def cmath_misc(z, x, out, pol, flags):
    i = cuda.grid(1)
    if i < z.size:
        r, phi = cmath.polar(z[i])
        pol[i, 0] = r
        pol[i, 1] = phi
        pol[i, 2] = cmath.phase(z[i])
        out[i, 0] = cmath.rect(r, phi)
        out[i, 1] = cmath.log(z[i], 2.0)
        out[i, 2] = cmath.log(z[i], z[i] + 3.5)
        out[i, 3] = cmath.sqrt(x[i])           # a real argument: complex result
        out[i, 4] = cmath.exp(x[i]) + cmath.acos(x[i])
        flags[i] = cmath.isnan(z[i]) + 2 * cmath.isinf(z[i]) + 4 * cmath.isfinite(z[i])


@pytest.mark.parametrize("cdtype, fdtype, rtol", [(np.complex128, np.float64, 1e-13),
                                                  (np.complex64, np.float32, 2e-5)])
def test_cmath_polar_rect_phase_log_base_and_real_arguments(rng, cdtype, fdtype, rtol):
    z = np.array([1 + 1j, -2 + 0j, complex(-2, -0.0), 3j, -0.5 - 4j, 0j,
                  complex(NAN, 1), complex(INF, 1), complex(1, -INF)], dtype=cdtype)
    x = np.array([-4.0, -1.0, -0.0, 0.0, 0.25, 1.0, 2.0, 9.0, 0.5], dtype=fdtype)
    out = np.zeros((z.size, 5), dtype=cdtype)
    pol = np.zeros((z.size, 3), dtype=fdtype)
    flags = np.zeros(z.size, dtype=np.int64)
    cmath_misc[1, 16](z, x, out, pol, flags)
    atol = 1e-14 if cdtype == np.complex128 else 1e-6
    for k, v in enumerate(z.tolist()):
        flag = cmath.isnan(v) + 2 * cmath.isinf(v) + 4 * cmath.isfinite(v)
        assert flags[k] == flag
        r, phi = cmath.polar(v)
        same(pol[k, :2], [r, phi], rtol, f"polar({v!r})")
        same(pol[k, 2], cmath.phase(v), rtol, f"phase({v!r})")
        if not cmath.isfinite(v):
            continue
        close_complex(complex(out[k, 0]), cmath.rect(r, phi), rtol, atol * 4, f"rect{r, phi}")
        if v != 0:
            close_complex(complex(out[k, 1]), cmath.log(v, 2.0), rtol, atol, f"log({v!r}, 2)")
            close_complex(complex(out[k, 2]), cmath.log(v, v + 3.5), rtol * 10, atol,
                          f"log({v!r}, {v + 3.5!r})")
    for k, v in enumerate(x.tolist()):
        close_complex(complex(out[k, 3]), cmath.sqrt(v), rtol, atol, f"sqrt({v!r})")
        close_complex(complex(out[k, 4]), cmath.exp(v) + cmath.acos(v), rtol, atol,
                      f"exp+acos({v!r})")
    # cmath.sqrt(-0.0) keeps the zero's sign in the imaginary part
    assert math.copysign(1, out[2, 3].imag) == math.copysign(1, cmath.sqrt(-0.0).imag)
    c, f = np.dtype(cdtype).name, np.dtype(fdtype).name
    ir = ir_of(cmath_misc, z, x, out, pol, flags)
    assert f"math cmath.polar :: ({f}, {f})" in ir
    assert f"math cmath.phase :: {f}" in ir
    assert f"math cmath.rect :: {c}" in ir
    # numba's rule: float32 -> complex64, float64 -> complex128
    assert f"math cmath.sqrt :: {c}" in ir
    assert "math cmath.isnan :: bool" in ir


@cuda.jit(device=True)
def to_polar(z):
    return cmath.polar(z)


@cuda.jit
def polar_through_device_function(z, out):
    i = cuda.grid(1)
    if i < z.size:
        r, phi = to_polar(z[i])
        out[i] = cmath.rect(r, phi)


def test_polar_pair_from_a_device_function():
    z = np.array([1 + 2j, -3 - 0.5j, 4j, -1 + 0j], dtype=np.complex64)
    out = np.zeros(4, dtype=np.complex64)
    polar_through_device_function[1, 4](z, out)
    np.testing.assert_allclose(out, z, rtol=1e-6, atol=1e-6)
    assert "math cmath.rect :: complex64" in ir_of(polar_through_device_function, z, out)


@cuda.jit
def cmath_of_literals(out):
    out[0] = cmath.sqrt(-1.0)
    out[1] = cmath.log(-1)
    out[2] = cmath.exp(1j * math.pi)


def test_cmath_of_literals_is_complex128():
    out = np.zeros(3, dtype=np.complex128)
    cmath_of_literals[1, 1](out)
    assert out[0] == cmath.sqrt(-1.0)
    close_complex(complex(out[1]), cmath.log(-1), 1e-15, 0, "log(-1)")
    close_complex(complex(out[2]), cmath.exp(1j * math.pi), 1e-15, 1e-15, "exp(i pi)")
    assert "math cmath.sqrt :: complex128" in ir_of(cmath_of_literals, out)


@cuda.jit
def numpy_on_complex(z, out):
    i = cuda.grid(1)
    if i < z.size:
        v = z[i]
        out[i, 0] = np.sqrt(v)
        out[i, 1] = np.exp(v)
        out[i, 2] = np.log(v)
        out[i, 3] = np.log10(v)
        out[i, 4] = np.sin(v)
        out[i, 5] = np.arccos(v)
        out[i, 6] = np.arctanh(v)
        out[i, 7] = np.tanh(v)
        out[i, 8] = np.square(v)
        out[i, 9] = np.reciprocal(v)


@pytest.mark.parametrize("dtype, rtol", [(np.complex128, 1e-12), (np.complex64, 2e-5)])
def test_numpy_ufuncs_on_complex_numbers(rng, dtype, rtol):
    z = (rng.standard_normal(50) * 2 + 1j * rng.standard_normal(50) * 2).astype(dtype)
    z = np.concatenate([z, np.array([-2 + 0j, complex(-2, -0.0), 3j, complex(-0.0, -3)],
                                    dtype=dtype)])
    out = np.zeros((z.size, 10), dtype=dtype)
    numpy_on_complex[1, 64](z, out)
    expect = [np.sqrt(z), np.exp(z), np.log(z), np.log10(z), np.sin(z), np.arccos(z),
              np.arctanh(z), np.tanh(z), np.square(z), np.reciprocal(z)]
    atol = 1e-13 if dtype == np.complex128 else 1e-5
    for c, e in enumerate(expect):
        assert e.dtype == dtype
        np.testing.assert_allclose(out[:, c], e, rtol=rtol, atol=atol, err_msg=f"column {c}")
    name = np.dtype(dtype).name
    ir = ir_of(numpy_on_complex, z, out)
    assert f"math np.sqrt :: {name}" in ir and f"math np.square :: {name}" in ir


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

@cuda.jit
def frexp_of_complex(out, z):
    out[0] = math.frexp(z)[0]


@cuda.jit
def ldexp_float_exponent(out, x):
    out[0] = math.ldexp(x, 1.5)


@cuda.jit
def sin_two_args(out, x):
    out[0] = math.sin(x, x)


@cuda.jit
def np_log_base(out, x):
    out[0] = np.log(x, 2.0)


@cuda.jit
def math_sqrt_complex(out, z):
    out[0] = math.sqrt(z).real


@cuda.jit
def rect_of_complex(out, z):
    out[0] = cmath.rect(z, 1.0)


@cuda.jit
def np_sign_complex(out, z):
    out[0] = np.sign(z)


@cuda.jit
def np_exp2_complex(out, z):
    out[0] = np.exp2(z)


@cuda.jit
def np_minimum_three(out, x):
    out[0] = np.minimum(x, x, x)


@pytest.mark.parametrize("kernel, arg, text", [
    (frexp_of_complex, 1j, "frexp() needs a real number, not complex128"),
    (ldexp_float_exponent, 2.0, "ldexp() exponent must be an integer, not float literal"),
    (sin_two_args, 2.0, "sin() takes 1 argument, 2 given"),
    (np_log_base, 2.0, "np.log() takes 1 argument, 2 given"),
    (math_sqrt_complex, 1j, "sqrt() of a complex number (complex128) is not supported; "
                            "use cmath"),
    (rect_of_complex, 1j, "cmath.rect() needs real numbers, not complex128 and float literal"),
    (np_sign_complex, 1j, "np.sign() of a complex number (complex128) is not supported"),
    (np_exp2_complex, 1j, "np.exp2() of a complex number (complex128) is not supported"),
    (np_minimum_three, 1.0, "np.min() takes 2 arguments, 3 given"),
])
def test_math_typing_errors_name_the_function_and_types(kernel, arg, text):
    with pytest.raises(TypingError) as ei:
        kernel[1, 1](np.zeros(2, dtype=np.complex128), arg)
    assert text in str(ei.value)
    assert __file__ in str(ei.value)


@cuda.jit
def uses_factorial(out):
    out[0] = math.factorial(3)


@cuda.jit
def uses_cmath_isclose(out):
    out[0] = cmath.isclose(1j, 1j)


@cuda.jit
def uses_np_convolve(out):
    out[0] = np.convolve(out, out)[0]


@pytest.mark.parametrize("kernel, text, hint", [
    (uses_factorial, "math.factorial() is not supported in kernels", "math.frexp"),
    (uses_cmath_isclose, "cmath.isclose() is not supported in kernels", "cmath.polar"),
    (uses_np_convolve, "np.convolve() is not supported in kernels", "np.fmin"),
])
def test_unsupported_functions_name_what_is_supported(kernel, text, hint):
    with pytest.raises(UnsupportedError) as ei:
        kernel[1, 1](np.zeros(2))
    msg = str(ei.value)
    assert text in msg
    assert "hint: " in msg and hint in msg


def math_tree(name, nargs=1):
    args = [("param", 1, 0, 0)] * nargs
    return ("function", "f", "f.py", True, ["a"], [],
            ("block", 1, 0, [("expr", 1, 0, ("math", 1, 0, name, args))]))


@pytest.mark.parametrize("name", ["np.nosuch", "np.", "cmath.", "numpy.sin", "cmath.np.sin",
                                  "Sin", 3, None])
def test_malformed_math_trees_are_value_errors(name):
    from ember import _ember
    with pytest.raises(ValueError, match="unknown math function"):
        _ember.compile_kernel(math_tree(name), ["float64"], 0)


@pytest.mark.parametrize("name, nargs, text", [
    ("cmath.floor", 1, "cmath.floor() is not supported"),
    ("cmath.square", 1, "cmath.square() is not supported"),
    ("polar", 1, "polar() is not supported"),
    ("np.rect", 2, "np.rect() is not supported"),
    ("cmath.rect", 1, "cmath.rect() takes 2 arguments, 1 given"),
    ("frexp", 2, "frexp() takes 1 argument, 2 given"),
])
def test_math_trees_the_front_end_never_makes_are_typing_errors(name, nargs, text):
    """The C side checks every name/flavour pair itself (C callers build
    IR without the front end)."""
    from ember import _ember
    with pytest.raises(TypingError) as ei:
        _ember.compile_kernel(math_tree(name, nargs), ["float64"], 0)
    assert text in str(ei.value)


@pytest.mark.parametrize("dtype, tiny, rtol", [(np.complex128, 5e-324, 1e-12),
                                               (np.complex64, 1.4e-45, 2e-5)])
def test_cmath_subnormal_and_infinite_parts(dtype, tiny, rtol):
    pts = [complex(tiny, tiny), complex(-tiny, 3 * tiny), complex(tiny * 1e3, -tiny),
           complex(-tiny * 7, 0.0), complex(0.0, tiny * 5)]
    pts += [complex(a, b) for a in (INF, -INF) for b in (INF, -INF)]
    pts += [complex(INF, 2.0), complex(-INF, 2.0), complex(INF, -0.5), complex(-INF, -0.0)]
    z = np.array(pts, dtype=dtype)
    out = np.zeros((z.size, len(CMATH_UNARY)), dtype=dtype)
    cmath_unary[1, 32](z, out)
    failures = []
    for c, name in enumerate(CMATH_UNARY):
        for k, v in enumerate(z.tolist()):
            want = cmath_expected(getattr(cmath, name), v)
            if want is None:
                continue
            got = complex(out[k, c])
            for part in ("real", "imag"):
                # cmath's double result rounded to the part type, within a few
                # units in the last place of the smallest subnormal
                w, g = float(np.dtype(dtype).type(getattr(want, part)).real), getattr(got, part)
                if not ((math.isnan(w) and math.isnan(g)) or
                        math.isclose(g, w, rel_tol=rtol, abs_tol=8 * tiny)):
                    failures.append(f"cmath.{name}({v!r}) = {got!r}, cmath gives {want!r}")
    assert not failures, "\n".join(failures)


def test_cmath_signed_zeros_and_infinities_as_cpython():
    """Every pair of parts from 0, -0.0, ±1.5, ±inf: the same values and the
    same signs of zero as CPython's special-value tables (nan parts are not
    covered: there a result may be nan in both parts where CPython keeps
    one, README)."""
    vals = [0.0, -0.0, 1.5, -1.5, INF, -INF]
    z = np.array([complex(a, b) for a in vals for b in vals])
    out = np.zeros((z.size, len(CMATH_UNARY)), dtype=np.complex128)
    cmath_unary[1, 64](z, out)
    failures = []
    for c, name in enumerate(CMATH_UNARY):
        for k, v in enumerate(z.tolist()):
            want = cmath_expected(getattr(cmath, name), v)
            if want is None:
                continue
            got = complex(out[k, c])
            for w, g in ((want.real, got.real), (want.imag, got.imag)):
                if not ((math.isnan(w) and math.isnan(g)) or
                        (math.isclose(g, w, rel_tol=1e-14) and
                         math.copysign(1, g) == math.copysign(1, w))):
                    failures.append(f"cmath.{name}({v!r}) = {got!r}, cmath gives {want!r}")
    assert not failures, "\n".join(failures)


# Every cmath function at every pair of part classes (C99 Annex G's special
# values, as CPython's cmath gives them), complex128 and complex64. Issue 13.
CLASS_POINTS = (-INF, -2.5, -0.0, 0.0, 0.75, INF, NAN)


def same_special(got, want, rtol):
    """NaN matches NaN, infinities and zeros exactly (zero signs too),
    finite parts within rtol."""
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        if math.isnan(w) or math.isnan(g):
            if not (math.isnan(w) and math.isnan(g)):
                return False
        elif w == 0 or g == 0 or math.isinf(w) or math.isinf(g):
            if g != w or math.copysign(1, g) != math.copysign(1, w):
                return False
        elif not math.isclose(g, w, rel_tol=rtol):
            return False
    return True


@pytest.mark.parametrize("dtype, rtol", [(np.complex128, 1e-14), (np.complex64, 1e-6)])
def test_cmath_special_values_match_cmath_at_every_class_pair(dtype, rtol):
    z = np.array([complex(x, y) for x in CLASS_POINTS for y in CLASS_POINTS], dtype=dtype)
    out = np.zeros((z.size, len(CMATH_UNARY)), dtype=dtype)
    cmath_unary[1, 64](z, out)
    checked, bad = 0, []
    for c, name in enumerate(CMATH_UNARY):
        f = getattr(cmath, name)
        for k, v in enumerate(z.tolist()):
            if math.isfinite(v.real) and math.isfinite(v.imag):
                continue
            try:
                want = f(v)
            except ValueError:      # CPython's domain errors: exp(1+infj) ...
                continue
            checked += 1
            got = complex(out[k, c])
            if not same_special(got, want, rtol):
                bad.append(f"cmath.{name}({v!r}): got {got!r}, cmath gives {want!r}")
    assert checked > 400          # of 16 * 33 non-finite arguments
    assert not bad, "\n".join(bad[:20])


@cuda.jit
def cmath_classify(z, out):
    i = cuda.grid(1)
    if i < z.size:
        out[i, 0] = cmath.isnan(z[i])
        out[i, 1] = cmath.isinf(z[i])
        out[i, 2] = cmath.isfinite(z[i])
        out[i, 3] = cmath.phase(z[i])


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_cmath_phase_and_predicates_at_every_class_pair(dtype):
    z = np.array([complex(x, y) for x in CLASS_POINTS for y in CLASS_POINTS], dtype=dtype)
    out = np.zeros((z.size, 4))
    cmath_classify[1, 64](z, out)
    for k, v in enumerate(z.tolist()):
        assert out[k, 0] == cmath.isnan(v) and out[k, 1] == cmath.isinf(v), v
        assert out[k, 2] == cmath.isfinite(v), v
        want = cmath.phase(v)
        got = out[k, 3]
        assert (math.isnan(want) and math.isnan(got)) or (
            math.isclose(got, want, rel_tol=1e-6) and math.copysign(1, got) == math.copysign(1, want)), \
            (v, got, want)


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_cmath_special_value_tables_are_constant_data_in_ptx(nvvm, ptxas, cc):
    from conftest import check_ptx
    sig = "void(complex64[::1], complex64[:, ::1])"
    ptx, _ = cuda.compile_ptx(cmath_unary.py_func, sig, cc=cc)
    for name in ("sqrt", "exp", "log", "acos", "asinh", "atanh", "cosh", "sinh", "tanh"):
        assert re.search(rf"\.const \.align \d+ \.b8 ember_cmath_{name}_f32\[392\]", ptx), name
    check_ptx(ptx, cc)


@cuda.jit
def cmath_rect(r, phi, out):
    i = cuda.grid(1)
    if i < r.size:
        out[i] = cmath.rect(r[i], phi[i])


@pytest.mark.parametrize("ftype, rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_cmath_rect_at_every_class_pair(ftype, rtol):
    pairs = [(x, y) for x in CLASS_POINTS + (-1.25, 3.0) for y in CLASS_POINTS + (2.0, -0.5)]
    r = np.array([p[0] for p in pairs], dtype=ftype)
    phi = np.array([p[1] for p in pairs], dtype=ftype)
    out = np.zeros(len(pairs), dtype=np.complex64 if ftype == np.float32 else np.complex128)
    cmath_rect[1, 128](r, phi, out)
    checked = 0
    for k, (x, y) in enumerate(zip(r.tolist(), phi.tolist())):
        try:
            want = cmath.rect(x, y)
        except ValueError:          # rect(inf, inf), rect(1, inf): CPython's domain errors
            continue
        checked += 1
        assert same_special(complex(out[k]), want, rtol), (x, y, out[k], want)
    assert checked > 60


def test_round_with_ndigits_of_float32_rounds_in_float64_as_numba():
    """numba computes round(x, n) in float64 for a float32 x (its test_intrinsics
    round_to_f4_halfway): float32(0.3425) is 0.34250000119..., so 0.343."""
    @cuda.jit("void(float32[:], float32, int32)")
    def k(ary, c, nd):
        ary[0] = round(c, nd)

    ary = np.zeros(1, np.float32)
    for val, nd in [(0.3425, 3), (2.675, 2), (-1.5, 0), (12345.678, -2), (1e30, 5)]:
        k[1, 1](ary, val, nd)
        want = np.float32(round(float(np.float32(val)), nd))
        assert ary[0] == want, (val, nd, ary[0], want)
