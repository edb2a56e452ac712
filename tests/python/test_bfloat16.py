"""bfloat16 in kernels (numba-cuda's ``cuda.bf16``): conversions from floats
and integers, arithmetic, comparisons, the bf16 functions, and the error
paths. NumPy has no bfloat16 dtype, so kernels read and write int16 /
uint16 arrays through the bit functions.

Every result is compared bit for bit with a reference written here: exact
rational arithmetic (fractions.Fraction) rounded to bfloat16's 8 significant
bits, nearest with ties to even, with bfloat16's subnormals and overflow to
inf; conftest also compiles each kernel to PTX for ptxas (sm_80, sm_90)."""

import math
from fractions import Fraction

import numpy as np
import pytest

import ember
from ember import cuda, float32, float64, int32, int64
from ember.cuda import bf16
from ember.cuda.bf16 import bfloat16
from ember.errors import TypingError

# bit patterns of signalling NaNs widened by NumPy warn; they are expected here
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast")

MAX_BF16 = Fraction(2 - Fraction(1, 128)) * 2 ** 127  # 0x7f7f


def _ref(x):
    """The bfloat16 nearest x (a Fraction, int or float; ties to even) as a
    float: 8 significant bits, quantum 2^-133 below the normal range,
    inf past the largest finite value's rounding boundary."""
    if isinstance(x, float) and (not math.isfinite(x) or x == 0):
        return x  # inf, NaN and signed zeros as they are
    x = Fraction(x)
    if x == 0:
        return 0.0
    mag = abs(x)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()  # floor(log2) or one less
    if Fraction(2) ** e > mag:
        e -= 1
    q = Fraction(2) ** max(e - 7, -133)
    r = round(mag / q) * q  # round() of a Fraction: half to even
    if r > MAX_BF16:
        return math.copysign(math.inf, x)
    return math.copysign(float(r), x)


def _bits_of(values):
    """bfloat16 bit patterns (uint16) of exact bfloat16 values (floats)."""
    f = np.asarray(values, np.float32)  # exact: a bfloat16 value is a float32
    assert not (f.view(np.uint32) & 0xffff).any()
    return (f.view(np.uint32) >> 16).astype(np.uint16)


def _value_of(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def _check(got_bits, want, what=""):
    """got_bits (uint16 / int16 array) against reference values (NaN: any NaN;
    zeros keep their sign)."""
    got = _value_of(np.asarray(got_bits).view(np.uint16))
    want = np.asarray(want, np.float64)
    nan = np.isnan(want)
    assert np.isnan(got[nan]).all(), f"{what}: NaN expected"
    ok = nan.copy()
    ok[~nan] = (got[~nan].astype(np.float64) == want[~nan]) & \
        (np.signbit(got[~nan]) == np.signbit(want[~nan]))
    assert ok.all(), f"{what}: {(~ok).sum()} differ; first inputs at {np.flatnonzero(~ok)[:5]}: " \
                     f"got {got[~ok][:5]}, want {want[~ok][:5]}"


def _float32_cases(seed, n=3000):
    """Random float32 bit patterns over the whole range, with the cases that
    matter: ties (low half exactly 0x8000, kept bit even and odd), one past
    a tie, subnormals, zeros, infinities, NaN, the overflow boundary."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32)
    hi = rng.integers(0, 2 ** 16, 200, dtype=np.uint64).astype(np.uint32) << 16
    special = [hi | 0x8000, hi | 0x8001, hi | 0x7fff, hi,
               rng.integers(1, 2 ** 23, 100, dtype=np.uint64).astype(np.uint32)]  # subnormals
    f = np.concatenate([u] + special).view(np.float32)
    edge = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0,
                     float(MAX_BF16), np.finfo(np.float32).max, -np.finfo(np.float32).max,
                     # the overflow boundary (2 - 2^-8) * 2^127: a tie, rounds to inf
                     float((2 - Fraction(1, 256)) * 2 ** 127),
                     np.nextafter(np.float32((2 - 2 ** -8) * 2.0 ** 127), np.float32(0)),
                     2.0 ** -133, 2.0 ** -134, 3 * 2.0 ** -135, 2.0 ** -149,
                     np.finfo(np.float32).tiny], np.float32)
    return np.concatenate([edge, f[np.isfinite(f) | np.isnan(f) | np.isinf(f)]])


def _ref_all(xs):
    return [math.nan if isinstance(x, float) and math.isnan(x) else _ref(x) for x in xs]


def test_type_objects_and_host_use():
    assert bf16.bfloat16 is bfloat16 is ember.types.bfloat16 is cuda.bf16.bfloat16
    assert str(bfloat16) == "bfloat16" and bfloat16.bitwidth == 16
    assert str(bfloat16(bfloat16, bfloat16)) == "bfloat16(bfloat16, bfloat16)"
    assert ember.types.parse_signature("bfloat16(bfloat16)").return_type is bfloat16
    with pytest.raises(TypeError, match="no arrays of bfloat16"):
        bfloat16[::1]
    with pytest.raises(TypeError, match="only in kernels"):
        bfloat16(1.5)
    with pytest.raises(TypeError, match="only be used inside a kernel"):
        bf16.hadd(1, 2)


def test_from_float32_rounds_to_nearest_even(cpu_device):
    @cuda.jit
    def k(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = bf16.bfloat16_as_uint16(bfloat16(x[i]))

    x = _float32_cases(1)
    out = np.zeros(x.size, np.uint16)
    k[(x.size + 127) // 128, 128](x, out)
    _check(out, _ref_all([float(v) for v in x]), "bfloat16(float32)")
    # NaN stays a quiet NaN, sign kept
    nan_out = out[np.isnan(x)]
    assert ((nan_out & 0x7f80) == 0x7f80).all() and ((nan_out & 0x0040) != 0).all()


def test_from_float64_has_no_double_rounding(cpu_device):
    @cuda.jit
    def k(x, out, out2):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = bf16.bfloat16_as_int16(bfloat16(x[i]))
            out2[i] = bf16.bfloat16_as_int16(bf16.float64_to_bfloat16(x[i]))

    rng = np.random.default_rng(2)
    mid = 1 + 2.0 ** -8  # halfway between 1 and the next bfloat16
    x = np.concatenate([
        [mid, mid + 2.0 ** -40, mid - 2.0 ** -40, -(mid + 2.0 ** -40),
         3 * mid + 2.0 ** -38, 1e39, -1e39, 1e-50, -1e-50, 3.4e38, 2.0 ** -133 * 1.5,
         float((2 - Fraction(1, 256)) * 2 ** 127) * (1 - 2.0 ** -30), np.inf, np.nan],
        rng.uniform(-1e6, 1e6, 500), np.exp(rng.uniform(-310, 310, 500)) * rng.choice([-1, 1], 500),
        # float32 ties plus a little: rounding to float32 first would make a tie
        (_float32_cases(3, 300)[20:].astype(np.float64) * (1 + 2.0 ** -35))])
    out = np.zeros(x.size, np.int16)
    out2 = np.zeros(x.size, np.int16)
    k[(x.size + 127) // 128, 128](x, out, out2)
    want = _ref_all([float(v) for v in x])
    _check(out, want, "bfloat16(float64)")
    _check(out2, want, "bf16.float64_to_bfloat16")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64])
def test_from_integers(cpu_device, dtype):
    @cuda.jit
    def k(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = bf16.bfloat16_as_uint16(bfloat16(x[i]))

    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    vals = [int(v) for v in rng.integers(info.min, info.max, 600, dtype=dtype, endpoint=True)]
    vals += [info.min, info.max, 0, 1, 255, 256, 257, 384, 385, 0x8080]
    bits = info.bits - (1 if info.min < 0 else 0)
    for s in range(9, bits):  # ties and ties plus a sticky bit: 2^s + 2^(s-8) (+ 1)
        vals += [2 ** s + 2 ** (s - 8), 2 ** s + 2 ** (s - 8) + 1, 2 ** s + 3 * 2 ** (s - 8)]
    vals = [v for v in vals if info.min <= v <= info.max]
    vals += [-v for v in vals if info.min <= -v <= info.max]
    x = np.array(vals, dtype)
    out = np.zeros(x.size, np.uint16)
    k[(x.size + 127) // 128, 128](x, out)
    _check(out, [_ref(v) for v in vals], f"bfloat16({np.dtype(dtype).name})")


def test_every_bit_pattern_converts_back_exactly(cpu_device):
    @cuda.jit
    def k(bits, f32, f64, back, i32):
        i = cuda.grid(1)
        if i < bits.size:
            b = bf16.uint16_as_bfloat16(bits[i])
            f32[i] = float32(b)
            f64[i] = float64(bf16.bfloat16_to_float32(b))
            back[i] = bf16.bfloat16_as_uint16(b)
            if not bf16.hisnan(b) and bf16.hisinf(b) == 0 and abs(float32(b)) < 1e9:
                i32[i] = int32(b)

    bits = np.arange(2 ** 16, dtype=np.uint64).astype(np.uint16)
    f32, f64 = np.zeros(bits.size, np.float32), np.zeros(bits.size, np.float64)
    back, i32 = np.zeros(bits.size, np.uint16), np.zeros(bits.size, np.int32)
    k[bits.size // 256, 256](bits, f32, f64, back, i32)
    want = (bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(back, bits)
    np.testing.assert_array_equal(f32.view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(f64, want.astype(np.float64))
    small = np.isfinite(want) & (np.abs(want) < 1e9)
    np.testing.assert_array_equal(i32[small], np.trunc(want[small]).astype(np.int32))


def _operands(seed, n=1500):
    """bfloat16 bit patterns (int16) for a and b: random, close pairs (so
    sums cancel and ties occur), and specials."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-2 ** 15, 2 ** 15, n, dtype=np.int64).astype(np.int16)
    b = rng.integers(-2 ** 15, 2 ** 15, n, dtype=np.int64).astype(np.int16)
    near = rng.integers(-20, 20, n // 3)
    b[: n // 3] = (a[: n // 3].astype(np.int64) + near).astype(np.int16)  # same scale
    specials = _bits_of([0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, float(MAX_BF16),
                         2.0 ** -133, 2.0 ** -126, 3.0]).view(np.int16)
    sa, sb = np.meshgrid(specials, specials)
    nan = np.array([0x7fc0], np.uint16).view(np.int16)
    a = np.concatenate([a, sa.ravel(), nan, np.ones(1, np.int16)])
    b = np.concatenate([b, sb.ravel(), np.ones(1, np.int16), nan])
    return a, b


def _exact(op, x, y):
    """The reference of x op y (bfloat16 values as floats)."""
    with np.errstate(all="ignore"):
        approx = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[op](
            np.float64(x), np.float64(y))
    if not (np.isfinite(approx) and np.isfinite(x) and np.isfinite(y)) or (op == "/" and y == 0):
        return float(approx)  # IEEE's exact answers for inf, NaN and division by 0
    fx, fy = Fraction(x), Fraction(y)
    r = {"+": fx + fy, "-": fx - fy, "*": fx * fy, "/": fx / fy if y else None}[op]
    if r == 0:  # the sign of a zero result: float64's (exact for these)
        return float(approx)
    return _ref(r)


def test_arithmetic_is_correctly_rounded(cpu_device):
    @cuda.jit
    def k(a, b, out, cmp):
        i = cuda.grid(1)
        if i < a.size:
            x = bf16.int16_as_bfloat16(a[i])
            y = bf16.int16_as_bfloat16(b[i])
            out[0, i] = bf16.bfloat16_as_int16(x + y)
            out[1, i] = bf16.bfloat16_as_int16(x - y)
            out[2, i] = bf16.bfloat16_as_int16(x * y)
            out[3, i] = bf16.bfloat16_as_int16(x / y)
            out[4, i] = bf16.bfloat16_as_int16(-x)
            out[5, i] = bf16.bfloat16_as_int16(x * 2.5 - 1)  # literals become bfloat16
            cmp[0, i] = x < y
            cmp[1, i] = x <= y
            cmp[2, i] = x == y
            cmp[3, i] = x != y
            cmp[4, i] = x > y
            cmp[5, i] = x >= 0.5

    a, b = _operands(5)
    out = np.zeros((6, a.size), np.int16)
    cmp = np.zeros((6, a.size), np.bool_)
    k[(a.size + 127) // 128, 128](a, b, out, cmp)
    xs = _value_of(a.view(np.uint16)).astype(np.float64)
    ys = _value_of(b.view(np.uint16)).astype(np.float64)
    for row, op in zip(out, "+-*/"):
        _check(row, [_exact(op, x, y) for x, y in zip(xs, ys)], f"bfloat16 {op}")
    _check(out[4], -xs, "unary -")
    _check(out[5], [_exact("-", _exact("*", x, 2.5), 1.0) for x in xs], "x * 2.5 - 1")
    with np.errstate(invalid="ignore"):
        want = [xs < ys, xs <= ys, xs == ys, xs != ys, xs > ys, xs >= 0.5]
    np.testing.assert_array_equal(cmp, want)


def test_bf16_functions(cpu_device):
    @cuda.jit
    def k(a, b, out, cmp):
        i = cuda.grid(1)
        if i < a.size:
            x = bf16.int16_as_bfloat16(a[i])
            y = bf16.int16_as_bfloat16(b[i])
            out[0, i] = bf16.bfloat16_as_int16(bf16.hadd(x, y))
            out[1, i] = bf16.bfloat16_as_int16(bf16.hsub(x, y))
            out[2, i] = bf16.bfloat16_as_int16(bf16.hmul(x, y))
            out[3, i] = bf16.bfloat16_as_int16(bf16.hdiv(x, y))
            out[4, i] = bf16.bfloat16_as_int16(bf16.hneg(x))
            out[5, i] = bf16.bfloat16_as_int16(bf16.habs(x))
            out[6, i] = bf16.bfloat16_as_int16(bf16.hmax(x, y))
            out[7, i] = bf16.bfloat16_as_int16(bf16.hmin(x, y))
            out[8, i] = bf16.bfloat16_as_int16(bf16.hmax_nan(x, y))
            out[9, i] = bf16.bfloat16_as_int16(bf16.hadd_sat(x, y))
            cmp[0, i] = bf16.heq(x, y)
            cmp[1, i] = bf16.hne(x, y)
            cmp[2, i] = bf16.hlt(x, y)
            cmp[3, i] = bf16.hle(x, y)
            cmp[4, i] = bf16.hgt(x, y)
            cmp[5, i] = bf16.hge(x, y)
            cmp[6, i] = bf16.hneu(x, y)
            cmp[7, i] = bf16.hequ(x, y)
            cmp[8, i] = bf16.hltu(x, y)
            cmp[9, i] = bf16.hisnan(x)

    a, b = _operands(6)
    out = np.zeros((10, a.size), np.int16)
    cmp = np.zeros((10, a.size), np.bool_)
    k[(a.size + 127) // 128, 128](a, b, out, cmp)
    xs = _value_of(a.view(np.uint16)).astype(np.float64)
    ys = _value_of(b.view(np.uint16)).astype(np.float64)
    for row, op in zip(out, "+-*/"):
        _check(row, [_exact(op, x, y) for x, y in zip(xs, ys)], f"h{op}")
    _check(out[4], -xs, "hneg")
    _check(out[5], np.abs(xs), "habs")
    # hmax / hmin: the other operand when one is NaN (np.fmax); hmax_nan: NaN wins
    maxes, mins = np.fmax(xs, ys), np.fmin(xs, ys)
    nz = (xs != 0) | (ys != 0)  # the sign of max(0.0, -0.0) is not compared
    _check(out[6][nz], maxes[nz], "hmax")
    _check(out[7][nz], mins[nz], "hmin")
    _check(out[8][nz], np.maximum(xs, ys)[nz], "hmax_nan")
    sums = np.array([_exact("+", x, y) for x, y in zip(xs, ys)])
    sat = np.where(np.isnan(sums), 0.0, np.clip(sums, 0.0, 1.0))
    _check(out[9][sat != 0], sat[sat != 0], "hadd_sat")
    assert (_value_of(out[9][sat == 0].view(np.uint16)) == 0).all()
    with np.errstate(invalid="ignore"):
        unordered = np.isnan(xs) | np.isnan(ys)
        want = [xs == ys, (xs != ys) & ~unordered, xs < ys, xs <= ys, xs > ys, xs >= ys,
                xs != ys, (xs == ys) | unordered, (xs < ys) | unordered, np.isnan(xs)]
    np.testing.assert_array_equal(cmp, want)


def test_hfma_rounds_once(cpu_device):
    @cuda.jit
    def k(a, b, c, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = bf16.bfloat16_as_int16(bf16.hfma(bf16.int16_as_bfloat16(a[i]),
                                                      bf16.int16_as_bfloat16(b[i]),
                                                      bf16.int16_as_bfloat16(c[i])))

    a, b = _operands(7)
    rng = np.random.default_rng(8)
    c = rng.integers(-2 ** 15, 2 ** 15, a.size, dtype=np.int64).astype(np.int16)
    # a*b exactly halfway between two bfloat16 (1 + 2^-3 + 2^-8) plus a tiny c:
    # one rounding goes toward c's sign; rounding a*b + c to float64 first ties
    t = _bits_of([1 + 2.0 ** -4, 2.0 ** -60, -(2.0 ** -60), 3.0]).view(np.int16)
    a = np.concatenate([a, t[[0, 0, 0]]])
    b = np.concatenate([b, t[[0, 0, 0]]])
    c = np.concatenate([c, t[[1, 2, 3]]])
    out = np.zeros(a.size, np.int16)
    k[(a.size + 127) // 128, 128](a, b, c, out)
    xs, ys, zs = (_value_of(v.view(np.uint16)).astype(np.float64) for v in (a, b, c))
    want = []
    for x, y, z in zip(xs, ys, zs):
        with np.errstate(all="ignore"):
            approx = x * y + z
        if not np.isfinite(approx) or not (np.isfinite(x) and np.isfinite(y)):
            want.append(float(approx))
        else:
            r = Fraction(x) * Fraction(y) + Fraction(z)
            want.append(float(approx) if r == 0 else _ref(r))
    _check(out, want, "hfma")
    assert _value_of(out[-3:].view(np.uint16)).tolist() == [1 + 2.0 ** -3 + 2.0 ** -7,
                                                            1 + 2.0 ** -3, 1 + 2.0 ** -3 + 3]


def test_math_functions(cpu_device):
    @cuda.jit
    def k(a, out):
        i = cuda.grid(1)
        if i < a.size:
            x = bf16.int16_as_bfloat16(a[i])
            out[0, i] = bf16.bfloat16_as_int16(bf16.hsqrt(x))
            out[1, i] = bf16.bfloat16_as_int16(math.sqrt(x))  # numba-cuda's overload
            out[2, i] = bf16.bfloat16_as_int16(bf16.hfloor(x))
            out[3, i] = bf16.bfloat16_as_int16(math.ceil(x))
            out[4, i] = bf16.bfloat16_as_int16(bf16.htrunc(x))
            out[5, i] = bf16.bfloat16_as_int16(bf16.hexp(x))
            out[6, i] = bf16.bfloat16_as_int16(bf16.hlog(x))
            out[7, i] = bf16.bfloat16_as_int16(bf16.hsin(x))
            out[8, i] = bf16.bfloat16_as_int16(bf16.hcos(x))
            out[9, i] = bf16.bfloat16_as_int16(abs(x))

    rng = np.random.default_rng(9)
    vals = np.concatenate([rng.uniform(0, 80, 400), rng.uniform(-80, 0, 200),
                           np.exp(rng.uniform(-80, 80, 300)), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    a = _bits_of(_ref_all([float(v) for v in vals])).view(np.int16)
    out = np.zeros((10, a.size), np.int16)
    k[(a.size + 127) // 128, 128](a, out)
    xs = _value_of(a.view(np.uint16)).astype(np.float64)
    with np.errstate(all="ignore"):
        # sqrt, floor, ceil, trunc, abs: correctly rounded (float64's sqrt rounded
        # again is: 53 > 2 * 8 + 2 bits)
        _check(out[0], _ref_all(list(np.sqrt(xs))), "hsqrt")
        _check(out[1], _ref_all(list(np.sqrt(xs))), "math.sqrt")
        _check(out[2], np.floor(xs), "hfloor")
        _check(out[3], np.ceil(xs), "math.ceil")
        _check(out[4], np.trunc(xs), "htrunc")
        _check(out[9], np.abs(xs), "abs")
        # the others: within one bfloat16 step of the true value rounded
        for row, fn, what in ((out[5], np.exp, "hexp"), (out[6], np.log, "hlog"),
                              (out[7], np.sin, "hsin"), (out[8], np.cos, "hcos")):
            want = np.array(_ref_all(list(fn(xs))))
            got = _value_of(row.view(np.uint16)).astype(np.float64)
            both_nan = np.isnan(got) & np.isnan(want)
            same = (got == want) | both_nan
            step = np.abs(want) * 2.0 ** -7 + 2.0 ** -133
            close = np.isfinite(want) & (np.abs(got - want) <= step)
            assert (same | close).all(), f"{what}: {xs[~(same | close)][:5]}"


def test_device_functions_and_to_integers(cpu_device):
    @cuda.jit(device=True)
    def axpy(alpha, x, y):
        return alpha * x + y

    @cuda.jit(bfloat16(bfloat16, bfloat16), device=True)
    def hypot2(x, y):
        return x * x + y * y

    @cuda.jit
    def k(a, b, out, ints):
        i = cuda.grid(1)
        if i < a.size:
            x = bf16.int16_as_bfloat16(a[i])
            y = bf16.int16_as_bfloat16(b[i])
            out[0, i] = bf16.bfloat16_as_int16(axpy(bfloat16(0.5), x, y))
            out[1, i] = bf16.bfloat16_as_int16(hypot2(x, y))
            s = bfloat16(0)
            for j in range(4):
                s = s + x
            out[2, i] = bf16.bfloat16_as_int16(s)
            ints[0, i] = bf16.bfloat16_to_int64_rn(x)
            ints[1, i] = bf16.bfloat16_to_int64_rd(x)
            ints[2, i] = bf16.bfloat16_to_int64_ru(x)
            ints[3, i] = int64(x)

    rng = np.random.default_rng(10)
    xs0 = np.array(_ref_all(list(rng.uniform(-1000, 1000, 500))))
    ys0 = np.array(_ref_all(list(rng.uniform(-1000, 1000, 500))))
    a, b = _bits_of(xs0).view(np.int16), _bits_of(ys0).view(np.int16)
    out = np.zeros((3, a.size), np.int16)
    ints = np.zeros((4, a.size), np.int64)
    k[4, 128](a, b, out, ints)
    _check(out[0], [_exact("+", _exact("*", 0.5, x), y) for x, y in zip(xs0, ys0)], "axpy")
    _check(out[1], [_exact("+", _exact("*", x, x), _exact("*", y, y))
                    for x, y in zip(xs0, ys0)], "hypot2")
    want = []
    for x in xs0:
        s = 0.0
        for _ in range(4):
            s = _exact("+", s, x)
        want.append(s)
    _check(out[2], want, "loop sum")
    np.testing.assert_array_equal(ints, [np.rint(xs0), np.floor(xs0), np.ceil(xs0),
                                         np.trunc(xs0)])


def test_errors_name_the_line(cpu_device):
    @cuda.jit
    def mixed(a, f):
        a[0] = bf16.bfloat16_as_int16(bf16.int16_as_bfloat16(a[0]) + f[0])

    @cuda.jit
    def modulo(a):
        x = bf16.int16_as_bfloat16(a[0])
        a[0] = bf16.bfloat16_as_int16(x % x)

    @cuda.jit
    def local_array(a):
        t = cuda.local.array(4, bfloat16)
        a[0] = 0

    @cuda.jit
    def wrong_count(a):
        a[0] = bf16.bfloat16_as_int16(bf16.hadd(bfloat16(1.0)))

    @cuda.jit
    def unknown(a):
        a[0] = cuda.bf16.hfrobnicate(1)

    @cuda.jit
    def no_atan(a):
        a[0] = bf16.bfloat16_as_int16(math.atan(bfloat16(1.0)))

    @cuda.jit
    def branch(a, f):
        x = bfloat16(1.0)
        if a[0] > 0:
            x = f[0]
        a[0] = bf16.bfloat16_as_int16(x)

    @cuda.jit
    def store(a):
        a[0] = bfloat16(1.5)

    @cuda.jit
    def condition(a):
        if bfloat16(1.5):
            a[0] = 1

    a, f = np.zeros(1, np.int16), np.ones(1, np.float32)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*bfloat16 and float32"):
        mixed[1, 1](a, f)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*operator % is not supported "
                                          "on bfloat16"):
        modulo[1, 1](a)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*no arrays of bfloat16"):
        local_array[1, 1](a)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*takes 2 arguments, 1 given"):
        wrong_count[1, 1](a)
    with pytest.raises(TypingError, match="cuda.bf16 has no function 'hfrobnicate'"):
        unknown[1, 1](a)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*atan\(\) is not supported on "
                                          "bfloat16"):
        no_atan[1, 1](a)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*'x' is assigned float32"):
        branch[1, 1](a, f)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*cannot store bfloat16 into an "
                                          r"array of int16 \(keep bfloat16 in an int16"):
        store[1, 1](a)
    with pytest.raises(TypingError, match=r"test_bfloat16.py:\d+.*must be a number or bool, not "
                                          "bfloat16"):
        condition[1, 1](a)


def test_more_functions(cpu_device):
    @cuda.jit
    def k(a, b, f, n, out, ints):
        i = cuda.grid(1)
        if i < a.size:
            x = bf16.int16_as_bfloat16(a[i])
            y = bf16.int16_as_bfloat16(b[i])
            out[0, i] = bf16.bfloat16_as_int16(bf16.hfma_relu(x, y, x))
            out[1, i] = bf16.bfloat16_as_int16(bf16.hfma_sat(x, y, y))
            out[2, i] = bf16.bfloat16_as_int16(bf16.hrcp(x))
            out[3, i] = bf16.bfloat16_as_int16(bf16.hmin_nan(x, y))
            out[4, i] = bf16.bfloat16_as_int16(bf16.hmul_rn(x, y))
            out[5, i] = bf16.bfloat16_as_int16(bf16.float32_to_bfloat16(f[i]))
            out[6, i] = bf16.bfloat16_as_int16(bf16.int32_to_bfloat16_rn(n[i]))
            ints[0, i] = bf16.hisinf(x)
            if abs(float32(x)) < 100:
                ints[1, i] = bf16.bfloat16_to_int8_rz(x)

    a, b = _operands(11)
    rng = np.random.default_rng(12)
    f = _float32_cases(13, a.size)[:a.size]
    n = rng.integers(-2 ** 31, 2 ** 31, a.size, dtype=np.int64).astype(np.int32)
    out = np.zeros((7, a.size), np.int16)
    ints = np.zeros((2, a.size), np.int32)
    k[(a.size + 127) // 128, 128](a, b, f, n, out, ints)
    xs = _value_of(a.view(np.uint16)).astype(np.float64)
    ys = _value_of(b.view(np.uint16)).astype(np.float64)

    def fma(x, y, z):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
            with np.errstate(all="ignore"):
                return float(x * y + z)
        r = Fraction(x) * Fraction(y) + Fraction(z)
        return 0.0 if r == 0 else _ref(r)

    relu = np.array([fma(x, y, x) for x, y in zip(xs, ys)])
    relu = np.where(relu < 0, 0.0, relu)
    pos = relu != 0  # the sign of a zero result is not compared
    _check(out[0][pos], relu[pos], "hfma_relu")
    sat = np.array([fma(x, y, y) for x, y in zip(xs, ys)])
    sat = np.where(np.isnan(sat), 0.0, np.clip(sat, 0.0, 1.0))
    _check(out[1][sat != 0], sat[sat != 0], "hfma_sat")
    _check(out[2], [_exact("/", 1.0, x) for x in xs], "hrcp")
    nz = (xs != 0) | (ys != 0)
    _check(out[3][nz], np.minimum(xs, ys)[nz], "hmin_nan")
    _check(out[4], [_exact("*", x, y) for x, y in zip(xs, ys)], "hmul_rn")
    _check(out[5], _ref_all([float(v) for v in f]), "float32_to_bfloat16")
    _check(out[6], [_ref(int(v)) for v in n], "int32_to_bfloat16_rn")
    np.testing.assert_array_equal(ints[0], np.where(np.isinf(xs), np.sign(xs), 0))
    small = np.abs(xs) < 100
    np.testing.assert_array_equal(ints[1][small], np.trunc(xs[small]))


def test_in_ember_jit_functions():
    @ember.jit
    def f(x, y):
        b = bfloat16(x) * bfloat16(y) + bfloat16(1)
        return float32(b), b

    wide, b = f(1.1, 3.3)
    want = _exact("+", _exact("*", _ref(1.1), _ref(3.3)), 1.0)
    assert wide == want and b == want
