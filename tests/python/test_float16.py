"""float16 in kernels: float16 arrays and scalars as arguments, arithmetic,
conversions, math functions, comparisons, numba's ``cuda.fp16`` intrinsics
and atomic add. On the CPU device every result is compared bit for bit with
NumPy's float16 (binary operations and sqrt are correctly rounded: computed
in float32 and rounded once to half); conftest compiles each kernel to PTX
for ptxas too (half arithmetic in PTX, atom.add.noftz.f16)."""

import math

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError

N = 4096


def _halves(seed, lo, hi, n=N):
    return np.random.default_rng(seed).uniform(lo, hi, n).astype(np.float16)


def _same_bits(got, want):
    got, want = np.asarray(got, np.float16), np.asarray(want, np.float16)
    bad = (got.view(np.uint16) != want.view(np.uint16)) & ~(np.isnan(got) & np.isnan(want))
    assert not bad.any(), f"{bad.sum()} differ, first at {np.argmax(bad)}: " \
                          f"{got[bad][:5]} vs {want[bad][:5]}"


def test_float16_type_objects():
    assert ember.float16 is ember.types.f2 and cuda.float16 is ember.float16
    assert ember.from_dtype(np.float16) is ember.float16
    assert str(ember.float16[:, ::1]) == "float16[:, ::1]"
    assert ember.typeof(np.zeros(3, np.float16)) == ember.float16[::1]


def test_arithmetic_and_comparisons_match_numpy(cpu_device):
    @cuda.jit
    def k(a, b, s, out, cmp):
        i = cuda.grid(1)
        if i < a.size:
            x, y = a[i], b[i]
            out[0, i] = x + y
            out[1, i] = x - y
            out[2, i] = x * y
            out[3, i] = x / y
            out[4, i] = x * s - y      # rounded to half after each operation
            out[5, i] = -x
            out[6, i] = x * 2.5        # a Python float stays float16 (NEP 50)
            out[7, i] = x ** 2
            cmp[0, i] = x < y
            cmp[1, i] = x == y
            cmp[2, i] = x >= s

    a, b = _halves(1, -300, 300), _halves(2, -300, 300)
    b[::7] = a[::7]
    s = np.float16(1.7)
    out = np.zeros((8, N), np.float16)
    cmp = np.zeros((3, N), np.bool_)
    k[N // 128, 128](a, b, s, out, cmp)
    with np.errstate(all="ignore"):
        want = [a + b, a - b, a * b, a / b, a * s - b, -a, a * np.float16(2.5), a * a]
    for row, w in zip(out, want):
        _same_bits(row, w)
    np.testing.assert_array_equal(cmp, [a < b, a == b, a >= s])


def test_mixed_types_promote_as_numpy(cpu_device):
    @cuda.jit
    def k(h, f, i8, i16, o32, o16, o32b):
        i = cuda.grid(1)
        if i < h.size:
            o32[i] = h[i] + f[i]       # float16 + float32 -> float32
            o16[i] = h[i] + i8[i]      # float16 + int8 -> float16
            o32b[i] = h[i] + i16[i]    # float16 + int16 -> float32

    h = _halves(3, -50, 50, 256)
    f = np.random.default_rng(4).uniform(-1, 1, 256).astype(np.float32)
    i8 = np.arange(-128, 128, dtype=np.int8)
    i16 = (np.arange(256, dtype=np.int16) * 97)
    o32, o16, o32b = np.zeros(256, np.float32), np.zeros(256, np.float16), np.zeros(256, np.float32)
    k[2, 128](h, f, i8, i16, o32, o16, o32b)
    assert (h + f).dtype == np.float32 and (h + i8).dtype == np.float16
    np.testing.assert_array_equal(o32, h + f)
    _same_bits(o16, h + i8)
    np.testing.assert_array_equal(o32b, h + i16)


def test_conversions_are_correctly_rounded(cpu_device):
    @cuda.jit
    def k(d, f, n, from_d, from_f, from_n, back_d, back_i):
        i = cuda.grid(1)
        if i < d.size:
            from_d[i] = d[i]                 # float64 -> float16: one rounding
            from_f[i] = np.float16(f[i])
            from_n[i] = n[i]
            back_d[i] = from_d[i]            # float16 -> float64: exact
            back_i[i] = int(from_f[i])

    rng = np.random.default_rng(5)
    mags = 2.0 ** rng.uniform(-27, 17, N)          # subnormals to overflow
    d = mags * rng.choice([-1, 1], N)
    # halfway cases a float32 intermediate would round twice
    d[:8] = [1 + 2**-11 + 2**-40, 1 + 2**-11, 1 + 3 * 2**-11, 65519.99, 65520.0,
             2.0**-25, 2.0**-25 * (1 + 2**-30), -0.0]
    d[8:11] = [np.nan, np.inf, -np.inf]
    f = (rng.uniform(-70000, 70000, N)).astype(np.float32)
    n = rng.integers(-70000, 70000, N)
    outs = [np.zeros(N, np.float16) for _ in range(3)] + [np.zeros(N), np.zeros(N, np.int64)]
    k[N // 128, 128](d, f, n, *outs)
    with np.errstate(all="ignore"):
        _same_bits(outs[0], d.astype(np.float16))
        _same_bits(outs[1], f.astype(np.float16))
        _same_bits(outs[2], n.astype(np.float16))
        np.testing.assert_array_equal(outs[3], outs[0].astype(np.float64))
        fin = np.isfinite(outs[1])
        np.testing.assert_array_equal(outs[4][fin], outs[1][fin].astype(np.int64))


def test_every_half_widens_exactly(cpu_device):
    @cuda.jit
    def k(h, f):
        i = cuda.grid(1)
        if i < h.size:
            f[i] = h[i]

    h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    f = np.zeros(65536, np.float32)
    k[256, 256](h, f)
    nan = np.isnan(h)  # signalling NaNs may come back quieted (x86's vcvtph2ps)
    assert np.isnan(f[nan]).all()
    np.testing.assert_array_equal(f[~nan].view(np.uint32),
                                  h[~nan].astype(np.float32).view(np.uint32))


def test_math_functions(cpu_device):
    @cuda.jit
    def k(a, out, ints):
        i = cuda.grid(1)
        if i < a.size:
            x = a[i]
            out[0, i] = math.sqrt(abs(x))
            out[1, i] = math.sin(x)
            out[2, i] = math.exp(x / 4)
            out[3, i] = np.floor(x)
            out[4, i] = abs(x)
            out[5, i] = math.atan2(x, 3.0)
            out[6, i] = max(x, 1.0)
            m, e = math.frexp(x)
            out[7, i] = math.ldexp(m, e)
            ints[0, i] = math.floor(x)
            ints[1, i] = math.isnan(x)

    a = _halves(6, -40, 40)
    out = np.zeros((8, N), np.float16)
    ints = np.zeros((2, N), np.int64)
    k[N // 128, 128](a, out, ints)
    _same_bits(out[0], np.sqrt(abs(a)))                 # correctly rounded
    _same_bits(out[3], np.floor(a))
    _same_bits(out[4], abs(a))
    _same_bits(out[6], np.maximum(a, np.float16(1)))
    _same_bits(out[7], a)
    # the rest: float32's function rounded to half, as NumPy's float16 loops
    for row, f in ((1, np.sin), (2, lambda v: np.exp(v / np.float16(4)))):
        np.testing.assert_allclose(out[row].astype(np.float32), f(a).astype(np.float32),
                                   rtol=2**-10, atol=2**-24)
    np.testing.assert_allclose(out[5].astype(np.float32),
                               np.arctan2(a.astype(np.float32), 3), rtol=2**-10)
    np.testing.assert_array_equal(ints[0], np.floor(a).astype(np.int64))
    np.testing.assert_array_equal(ints[1], 0)


def test_fp16_intrinsics(cpu_device):
    from ember.cuda import fp16

    @cuda.jit
    def k(a, b, c, out, cmp):
        i = cuda.grid(1)
        if i < a.size:
            x, y = a[i], b[i]
            out[0, i] = cuda.fp16.hadd(x, y)
            out[1, i] = cuda.fp16.hsub(x, y)
            out[2, i] = cuda.fp16.hmul(x, y)
            out[3, i] = cuda.fp16.hdiv(x, y)
            out[4, i] = cuda.fp16.hfma(x, y, c[i])
            out[5, i] = fp16.hneg(x)
            out[6, i] = fp16.habs(x)
            out[7, i] = fp16.hsqrt(fp16.habs(x))
            out[8, i] = fp16.hmax(x, y)
            out[9, i] = fp16.hmin(x, y)
            out[10, i] = fp16.hrcp(y)
            out[11, i] = fp16.hfloor(x)
            out[12, i] = fp16.hexp(x)
            out[13, i] = fp16.hlog(fp16.habs(x))
            out[14, i] = fp16.hsin(x)
            out[15, i] = fp16.hmul(x, 2)     # a Python number becomes float16
            cmp[0, i] = fp16.heq(x, y)
            cmp[1, i] = fp16.hne(x, y)
            cmp[2, i] = fp16.hlt(x, y)
            cmp[3, i] = fp16.hle(x, y)
            cmp[4, i] = fp16.hgt(x, y)
            cmp[5, i] = fp16.hge(x, y)

    a, b, c = _halves(7, -9, 9), _halves(8, -9, 9), _halves(9, -9, 9)
    b[::5] = a[::5]
    out = np.zeros((16, N), np.float16)
    cmp = np.zeros((6, N), np.bool_)
    k[N // 128, 128](a, b, c, out, cmp)
    with np.errstate(all="ignore"):
        exact = [a + b, a - b, a * b, a / b,
                 (a.astype(np.float64) * b + c).astype(np.float16),  # one rounding
                 -a, abs(a), np.sqrt(abs(a)), np.fmax(a, b), np.fmin(a, b),
                 np.float16(1) / b, np.floor(a), np.exp(a), np.log(abs(a)), np.sin(a),
                 a * np.float16(2)]
    for row, w in zip(out, exact):
        _same_bits(row, w)
    np.testing.assert_array_equal(cmp, [a == b, a != b, a < b, a <= b, a > b, a >= b])


def test_fp16_errors(cpu_device):
    @cuda.jit
    def wrong_count(a):
        a[0] = cuda.fp16.hadd(a[0])

    @cuda.jit
    def unknown(a):
        a[0] = cuda.fp16.hfrobnicate(a[0])

    with pytest.raises(TypingError, match=r"test_float16.py:\d+.*takes 2 arguments"):
        wrong_count[1, 1](np.zeros(1, np.float16))
    with pytest.raises(TypingError, match="cuda.fp16 has no function 'hfrobnicate'"):
        unknown[1, 1](np.zeros(1, np.float16))
    with pytest.raises(TypeError, match="only be used inside a kernel"):
        cuda.fp16.hadd(1, 2)


def test_atomic_add_float16(cpu_device):
    @cuda.jit
    def k(v, acc, old):
        i = cuda.grid(1)
        if i < v.size:
            old[i] = cuda.atomic.add(acc, i % 4, v[i])
            cuda.atomic.sub(acc, 4, v[i])

    v = np.full(512, 0.25, np.float16)
    acc = np.zeros(5, np.float16)
    old = np.zeros(512, np.float16)
    k[4, 128](v, acc, old)
    np.testing.assert_array_equal(acc, [32, 32, 32, 32, -128])
    for j in range(4):  # the old values: each partial sum of its slot once
        np.testing.assert_array_equal(np.sort(old[j::4]), np.arange(128) * np.float16(0.25))

    @cuda.jit
    def block_sums(v, out):  # into shared memory: another address space on GPUs
        s = cuda.shared.array(3, np.float16)
        t = cuda.threadIdx.x
        if t < 3:
            s[t] = 0
        cuda.syncthreads()
        cuda.atomic.add(s, t % 3, v[cuda.grid(1)])
        cuda.syncthreads()
        if t < 3:
            out[cuda.blockIdx.x, t] = s[t]

    v = np.ones(256, np.float16)
    out = np.zeros((2, 3), np.float16)
    block_sums[2, 128](v, out)
    np.testing.assert_array_equal(out, [[43, 43, 42]] * 2)

    @cuda.jit
    def bad(acc):
        cuda.atomic.max(acc, 0, 1.0)

    with pytest.raises(TypingError, match="not supported on arrays of float16"):
        bad[1, 1](np.zeros(1, np.float16))


def test_shared_local_and_device_functions(cpu_device):
    @cuda.jit(device=True)
    def axpy(a, x, y):
        return a * x + y

    @cuda.jit
    def k(x, out):
        tile = cuda.shared.array(128, np.float16)
        scratch = cuda.local.array(2, ember.float16)
        t = cuda.threadIdx.x
        tile[t] = x[cuda.grid(1)]
        cuda.syncthreads()
        scratch[0] = tile[127 - t]
        out[cuda.grid(1)] = axpy(np.float16(0.5), scratch[0], tile[t])

    x = _halves(10, -100, 100, 256)
    out = np.zeros(256, np.float16)
    k[2, 128](x, out)
    rev = x.reshape(2, 128)[:, ::-1].ravel()
    _same_bits(out, np.float16(0.5) * rev + x)


def test_device_arrays_and_scalar_arguments(cpu_device):
    @cuda.jit
    def k(x, s, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = x[i] * s

    x = _halves(11, -10, 10, 300)
    d_x, d_out = cuda.to_device(x), cuda.device_array(300, np.float16)
    for s in (3.3, -0.7, 1e-3):  # the second and third launch: the C fast path
        k[3, 128](d_x, np.float16(s), d_out)
        _same_bits(d_out.copy_to_host(), x * np.float16(s))
    host = np.zeros(300, np.float16)
    for s in (2.0, 0.5):  # host arrays in place, also through the fast path
        k[3, 128](x, np.float16(s), host)
        _same_bits(host, x * np.float16(s))
    assert k._fastpath_hits >= 2


def test_jit_and_vectorize_take_float16():
    @ember.njit
    def scaled(n, x):
        a = np.zeros(n, np.float16)
        for i in range(n):
            a[i] = x * i
        return a

    @ember.vectorize(["float16(float16, float16)"])
    def muladd(a, b):
        return a * b + 1

    x = np.float16(0.3)
    got = scaled(7, x)
    assert got.dtype == np.float16
    _same_bits(got, x * np.arange(7, dtype=np.float16))
    a = _halves(12, -20, 20, 100)
    r = muladd(a, a)
    assert r.dtype == np.float16
    _same_bits(r, a * a + np.float16(1))


def _to_half(x):
    return np.float16(x) * np.float16(0.5)


def test_compile_ptx_of_a_float16_device_function(ptxas):
    from conftest import check_ptx
    from ember.types import float16, int8
    ptx, ret = cuda.compile_ptx(_to_half, [int8], device=True, cc=(8, 0))
    assert ret == float16
    assert "mul.f16" in ptx and "st.param" in ptx  # the result is returned (as its bits)
    check_ptx(ptx, 80)
    ptx2, _ = cuda.compile_ptx(_to_half, [float16], device=True, cc=(9, 0))
    check_ptx(ptx2, 90)
