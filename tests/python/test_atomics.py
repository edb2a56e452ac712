"""cuda.atomic.* on the cpu device (real atomics: blocks run in parallel on
the worker pool), compared with NumPy."""

import numpy as np
import pytest

from ember import cuda

N = 65536


# Every kernel runs on the cpu device and, where there is one, on a CUDA GPU
# (conftest.kernel_device); both are compared with NumPy.
pytestmark = pytest.mark.usefixtures("kernel_device")


@pytest.fixture
def rng():
    return np.random.default_rng(99)


@cuda.jit
def histogram(x, h):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.add(h, x[i], 1)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32, np.uint64, np.float32,
                                   np.float64])
def test_histogram_add(rng, dtype):
    x = rng.integers(0, 100, N)
    h = np.zeros(100, dtype)
    histogram[N // 256, 256](x, h)
    np.testing.assert_array_equal(h, np.bincount(x, minlength=100).astype(dtype))


@cuda.jit
def ticket(counter, old):
    i = cuda.grid(1)
    if i < old.size:
        old[i] = cuda.atomic.add(counter, 0, 1)


def test_add_returns_old_value():
    counter = np.zeros(1, np.int64)
    old = np.full(N, -1, np.int64)
    ticket[N // 256, 256](counter, old)
    assert counter[0] == N
    np.testing.assert_array_equal(np.sort(old), np.arange(N))   # each ticket once


@cuda.jit
def reductions(x, out):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.max(out, 0, x[i])
        cuda.atomic.min(out, (1,), x[i])
        cuda.atomic.sub(out, 2, x[i])
        cuda.atomic.nanmax(out, 3, x[i])
        cuda.atomic.nanmin(out, 4, x[i])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32, np.uint64, np.float32,
                                   np.float64])
def test_max_min_sub(rng, dtype):
    x = rng.integers(0, 1000, N).astype(dtype)
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    big = 10 ** 9 if np.dtype(dtype).kind == "u" else 0
    out = np.array([info.min, info.max, big, info.min, info.max], dtype)
    reductions[N // 256, 256](x, out)
    assert out[0] == x.max() and out[1] == x.min()
    assert out[2] == dtype(big - x.astype(np.int64).sum()) if np.dtype(dtype).kind != "f" \
        else np.isclose(out[2], -x.astype(np.float64).sum())
    assert out[3] == x.max() and out[4] == x.min()


@cuda.jit
def nan_reductions(x, out):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.nanmax(out, 0, x[i])
        cuda.atomic.nanmin(out, 1, x[i])


def test_nanmax_nanmin_ignore_nan(rng):
    x = rng.standard_normal(4096)
    x[::7] = np.nan
    out = np.array([np.nan, np.nan])
    nan_reductions[16, 256](x, out)
    assert out[0] == np.nanmax(x) and out[1] == np.nanmin(x)


@cuda.jit
def bits(x, out):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.or_(out, 0, x[i])
        cuda.atomic.and_(out, 1, x[i])
        cuda.atomic.xor(out, 2, x[i])


def test_bitwise(rng):
    x = rng.integers(0, 1 << 30, 4096).astype(np.int64)
    out = np.array([0, (1 << 62) - 1, 0], np.int64)
    bits[16, 256](x, out)
    assert out[0] == np.bitwise_or.reduce(x)
    assert out[1] == np.bitwise_and.reduce(x) & ((1 << 62) - 1)
    assert out[2] == np.bitwise_xor.reduce(x)


@cuda.jit
def inc_dec_seq(a, limit, n, olds):
    # one thread: the CUDA wrap rules step by step
    if cuda.grid(1) == 0:
        for k in range(n):
            olds[k, 0] = cuda.atomic.inc(a, 0, limit)
            olds[k, 1] = cuda.atomic.dec(a, 1, limit)


@pytest.mark.parametrize("dtype", [np.uint32, np.int32, np.uint64, np.int64])
def test_inc_dec_wrap(dtype):
    a = np.array([0, 0], dtype)
    olds = np.zeros((10, 2), dtype)
    inc_dec_seq[1, 1](a, dtype(3), 10, olds)
    inc_ref, dec_ref = [], []
    v, w = 0, 0
    for _ in range(10):
        inc_ref.append(v)
        v = 0 if v >= 3 else v + 1
        dec_ref.append(w)
        w = 3 if (w == 0 or w > 3) else w - 1
    np.testing.assert_array_equal(olds[:, 0], inc_ref)
    np.testing.assert_array_equal(olds[:, 1], dec_ref)
    assert a[0] == v and a[1] == w


@cuda.jit
def inc_many(a, limit):
    i = cuda.grid(1)
    if i < N:
        cuda.atomic.inc(a, 0, limit)


def test_inc_concurrent_wraps():
    a = np.zeros(1, np.uint32)
    inc_many[N // 256, 256](a, np.uint32(999))
    assert a[0] == N % 1000


@cuda.jit
def cas_kernel(m, out, flags):
    i = cuda.grid(1)
    if i < flags.size:
        # exactly one thread wins each slot
        old = cuda.atomic.cas(m, (i % 4, 1), 0, i + 1)
        if old == 0:
            flags[i] = 1
        out[i] = old


@cuda.jit
def cas_counter(c):
    # a lock-free increment with compare_and_swap (numba: on c[0])
    i = cuda.grid(1)
    if i < 4096:
        old = c[0]
        while True:
            seen = cuda.atomic.compare_and_swap(c, old, old + 2)
            if seen == old:
                break
            old = seen


@cuda.jit
def exch_kernel(a, olds):
    i = cuda.grid(1)
    if i < olds.size:
        olds[i] = cuda.atomic.exch(a, 0, i + 1.0)


def test_cas_and_exch():
    m = np.zeros((4, 2), np.int64)
    out = np.zeros(1024, np.int64)
    flags = np.zeros(1024, np.int64)
    cas_kernel[4, 256](m, out, flags)
    assert flags.sum() == 4
    winners = np.nonzero(flags)[0]
    assert sorted(m[:, 1] - 1) == sorted(winners)
    np.testing.assert_array_equal(m[:, 0], 0)

    c = np.zeros(1, np.int64)
    cas_counter[16, 256](c)
    assert c[0] == 2 * 4096

    a = np.zeros(1)
    olds = np.zeros(1024)
    exch_kernel[4, 256](a, olds)
    # the values seen form one chain: every value 0..1024 appears once in olds + a
    seen = np.sort(np.concatenate([olds, a]))
    np.testing.assert_array_equal(seen, np.arange(1025, dtype=np.float64))


@cuda.jit(device=True)
def bump(h, k):
    cuda.atomic.add(h, k, 1)


@cuda.jit
def hist_via_device(x, h):
    i = cuda.grid(1)
    if i < x.size:
        bump(h, x[i])


def test_atomic_in_device_function_marks_written(rng):
    x = rng.integers(0, 10, 5000)
    h = np.zeros(10, np.int32)
    hist_via_device[20, 256](x, h)
    np.testing.assert_array_equal(h, np.bincount(x, minlength=10))


@cuda.jit
def atomic_on_bool(a):
    cuda.atomic.add(a, 0, 1)


def test_atomic_type_errors():
    from ember.errors import TypingError
    with pytest.raises(TypingError, match="not supported on arrays of int8"):
        atomic_on_bool[1, 1](np.zeros(1, np.int8))
