"""ember.jit functions that create arrays (np.empty, zeros, ones, full, the
*_like forms, arange) and return them, or views of them, or their arguments.

Every result is compared with NumPy computing the same thing in Python.
Ownership is checked from the outside: the base object of a returned array,
its survival after the dispatcher is gone, the process's resident memory
(/proc/self/statm: the arena uses malloc, which tracemalloc does not see)
over many calls and over a loop that allocates in every iteration.
"""

import gc
import os
import threading
import time

import numpy as np
import pytest

from ember import cuda, njit
from ember.errors import TypingError, UnsupportedError

SHAPES = [5, (3, 4), (2, 3, 4), 0, (4, 0), (1,)]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def as_shape(s):
    return (s,) if isinstance(s, int) else s


# ---------------------------------------------------------------------------
# creation, against NumPy
# ---------------------------------------------------------------------------

def makers(dt):
    """One jitted function per maker, with dtype `dt` fixed at compile time
    (a closure variable, as numba resolves it)."""
    @njit
    def zeros(shape):
        return np.zeros(shape, dt)

    @njit
    def ones(shape):
        return np.ones(shape, dtype=dt)

    @njit
    def full(shape):
        return np.full(shape, 7, dt)

    @njit
    def empty(shape):
        return np.empty(shape, dt)

    return zeros, ones, full, empty


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int32, np.int8, np.uint16,
                                np.int64, np.complex64, np.complex128, np.bool_])
@pytest.mark.parametrize("shape", SHAPES)
def test_zeros_ones_full_empty_match_numpy(dt, shape):
    zeros, ones, full, empty = makers(dt)
    for f, want in ((zeros, np.zeros(shape, dt)), (ones, np.ones(shape, dt)),
                    (full, np.full(shape, 7, dt))):
        got = f(shape)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert got.flags.c_contiguous and got.flags.writeable
    e = empty(shape)
    assert e.dtype == np.dtype(dt) and e.shape == as_shape(shape) and e.flags.c_contiguous
    e[...] = 1  # its memory is usable
    np.testing.assert_array_equal(e, np.ones(shape, dt))


def test_default_dtype_is_float64_and_dtype_spellings():
    @njit
    def spellings(n):
        return (np.zeros(n), np.zeros(n, np.float32), np.zeros(n, "int16"),
                np.zeros(n, dtype=np.dtype("uint8")), np.zeros(n, float), np.zeros(n, int),
                np.ones(n, bool), np.empty(n, dtype="complex64"), np.zeros(n, dtype=None),
                np.full(n, 1, dtype=None))

    got = spellings(3)
    want = [np.float64, np.float32, np.int16, np.uint8, np.float64, np.int64, np.bool_,
            np.complex64, np.float64, np.int64]
    assert [a.dtype for a in got] == [np.dtype(w) for w in want]
    np.testing.assert_array_equal(got[6], np.ones(3, bool))


GLOBAL_DTYPE = np.dtype("int32")


def test_dtype_from_a_global_dtype_object():
    @njit
    def f(n):
        return np.full((n, 2), -3, GLOBAL_DTYPE)

    np.testing.assert_array_equal(f(4), np.full((4, 2), -3, GLOBAL_DTYPE))
    assert f(4).dtype == GLOBAL_DTYPE


@pytest.mark.parametrize("fill", [2, 2.5, True, 1 + 2j])
def test_full_takes_the_fill_values_type(fill):
    @njit
    def f(n):
        return np.full(n, fill)

    want = np.full(4, fill)
    got = f(4)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_full_converts_the_fill_value_to_the_dtype():
    @njit
    def f(shape, v):
        return np.full(shape, v, np.int16), np.full(shape, v, np.float32)

    for v in (3.75, -2.0, 7):
        a, b = f((2, 3), v)
        np.testing.assert_array_equal(a, np.full((2, 3), v, np.int16))
        np.testing.assert_array_equal(b, np.full((2, 3), v, np.float32))


@pytest.mark.parametrize("order", ["C", "F"])
def test_like_forms(order):
    @njit
    def likes(a, v):
        return (np.zeros_like(a), np.ones_like(a), np.full_like(a, v), np.empty_like(a),
                np.zeros_like(a, np.float32), np.full_like(a, v, dtype=np.int8))

    a = np.asarray(np.arange(12, dtype=np.int32).reshape(3, 4), order=order)
    z, o, f, e, z32, f8 = likes(a, 5)
    np.testing.assert_array_equal(z, np.zeros_like(a))
    np.testing.assert_array_equal(o, np.ones_like(a))
    np.testing.assert_array_equal(f, np.full_like(a, 5))
    np.testing.assert_array_equal(z32, np.zeros_like(a, np.float32))
    np.testing.assert_array_equal(f8, np.full_like(a, 5, dtype=np.int8))
    for r, dt in ((z, a.dtype), (o, a.dtype), (f, a.dtype), (e, a.dtype),
                  (z32, np.float32), (f8, np.int8)):
        assert r.dtype == dt and r.shape == a.shape
        assert r.flags.c_contiguous  # like numba: C order even for an F-ordered prototype


ARANGE_CASES = [(5,), (0,), (-3,), (2, 9), (9, 2), (0, 10, 3), (10, 0, -3), (1, 2, 0.1),
                (0.5, 5), (0, 1, 0.1), (-1.5, 1.5, 0.25), (3.0,), (0, 5, 7), (5, 0, -1)]


@njit
def arange1(a):
    return np.arange(a)


@njit
def arange2(a, b):
    return np.arange(a, b)


@njit
def arange3(a, b, c):
    return np.arange(a, b, c)


@pytest.mark.parametrize("args", ARANGE_CASES)
def test_arange_matches_numpy(args):
    f = {1: arange1, 2: arange2, 3: arange3}[len(args)]
    got, want = f(*args), np.arange(*args)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dt", [np.float32, np.int16, np.uint8, np.float64, np.int64])
def test_arange_with_a_dtype(dt):
    @njit
    def f(a, b, c):
        return np.arange(a, b, c, dtype=dt), np.arange(b, dtype=dt)

    for args in ((0, 10, 1), (0, 1, 0.1), (0.5, 7, 1.5), (2, 30, 4)):
        if dt in (np.int16, np.uint8, np.int64) and any(isinstance(x, float) for x in args):
            want = np.arange(*args, dtype=dt)  # NumPy's own rule for float bounds
        else:
            want = np.arange(*args, dtype=dt)
        got = f(*args)
        assert got[0].dtype == np.dtype(dt)
        np.testing.assert_array_equal(got[0], want)
        np.testing.assert_array_equal(got[1], np.arange(args[1], dtype=dt))


def test_arange_keywords():
    @njit
    def f(n):
        return np.arange(start=1, stop=n, step=2), np.arange(n, step=3), np.arange(0, stop=n)

    a, b, c = f(9)
    np.testing.assert_array_equal(a, np.arange(1, 9, 2))
    np.testing.assert_array_equal(b, np.arange(9, step=3))
    np.testing.assert_array_equal(c, np.arange(9))


def test_attributes_of_created_arrays():
    @njit
    def f(n, m):
        a = np.zeros((n, m))
        t = a.T
        return len(a), a.shape, a.size, a.ndim, t.shape, a.strides, t.strides

    a = np.zeros((3, 5))
    assert f(3, 5) == (3, (3, 5), 15, 2, (5, 3), a.strides, a.T.strides)


def test_data_is_64_byte_aligned():
    @njit
    def f(n):
        return np.empty(n, np.int8), np.zeros((n, 3), np.float32)

    for n in (1, 3, 100, 1000):
        for a in f(n):
            assert a.ctypes.data % 64 == 0


# ---------------------------------------------------------------------------
# returning arrays: fresh ones, tuples, views, arguments
# ---------------------------------------------------------------------------

@njit
def squares(n):
    a = np.empty(n, np.int64)
    for i in range(n):
        a[i] = i * i
    return a


def test_fresh_array_is_owned_by_numpy():
    a = squares(6)
    np.testing.assert_array_equal(a, np.arange(6) ** 2)
    assert not a.flags.owndata and a.base is not None  # the base frees the memory
    assert type(a.base).__name__ == "PyCapsule"
    a[0] = 99  # writeable
    assert a[0] == 99


def test_returned_array_survives_the_dispatcher():
    @njit
    def make(n):
        a = np.full((n, 2), 1.5)
        return a[1:]

    r = make(4)
    del make
    gc.collect()
    np.testing.assert_array_equal(r, np.full((3, 2), 1.5))
    base = r.base
    del r
    gc.collect()
    assert base is not None


def test_tuple_of_array_and_scalar():
    @njit
    def stats(n):
        a = np.arange(n)
        s = 0
        for i in range(n):
            s += a[i]
        return a, s

    a, s = stats(10)
    np.testing.assert_array_equal(a, np.arange(10))
    assert s == 45 and isinstance(s, int)


def test_views_of_a_created_array_share_its_memory():
    @njit
    def views(n):
        a = np.zeros((n, n + 1))
        for i in range(n):
            for j in range(n + 1):
                a[i, j] = i * 10 + j
        return a, a[1:], a.T, a[::2, 1], a[-1]

    a, tail, t, col, last = views(4)
    want = np.arange(4)[:, None] * 10 + np.arange(5)[None, :]
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(tail, want[1:])
    np.testing.assert_array_equal(t, want.T)
    np.testing.assert_array_equal(col, want[::2, 1])
    np.testing.assert_array_equal(last, want[-1])
    assert a.base is tail.base is t.base is col.base is last.base  # one owner
    a[2, 1] = -1  # the views see the same memory
    assert tail[1, 1] == -1 and t[1, 2] == -1 and col[1] == -1


def test_views_alone_keep_the_memory_alive():
    @njit
    def only_view(n):
        a = np.arange(n)
        return a[n // 2:]

    v = only_view(1000)
    gc.collect()
    np.testing.assert_array_equal(v, np.arange(500, 1000))


def test_argument_returned_as_is():
    @njit
    def ident(a):
        return a

    x = np.arange(6.0).reshape(2, 3)
    assert ident(x) is x  # as numba
    f = np.asfortranarray(x)
    assert ident(f) is f


def test_views_of_arguments_have_the_argument_as_base():
    @njit
    def views(a):
        a[0, 0] = 42.0
        return a[1:], a.T, a[:, 1]

    x = np.arange(12.0).reshape(3, 4).copy()  # owns its data
    tail, t, col = views(x)
    want = np.arange(12.0).reshape(3, 4)
    want[0, 0] = 42.0
    np.testing.assert_array_equal(tail, want[1:])
    np.testing.assert_array_equal(t, want.T)
    np.testing.assert_array_equal(col, want[:, 1])
    assert tail.base is x and t.base is x and col.base is x
    x[2, 1] = -5.0  # shared memory
    assert tail[1, 1] == -5.0 and col[2] == -5.0
    del x
    gc.collect()
    assert tail[1, 1] == -5.0  # the base keeps it alive


def test_view_of_a_read_only_argument_is_read_only():
    @njit
    def tail(a):
        return a[1:]

    x = np.arange(5.0)
    x.setflags(write=False)
    r = tail(x)
    np.testing.assert_array_equal(r, np.arange(1.0, 5.0))
    assert not r.flags.writeable and r.base is x


def test_arrays_inside_a_tuple_argument():
    @njit
    def pick(t):
        return t[1][::-1], t[0]

    a, b = np.arange(3.0), np.arange(4)
    r, s = pick((a, b))
    np.testing.assert_array_equal(r, b[::-1])
    assert r.base is b and s is a


CONSTANTS = np.arange(4.0)


def test_local_and_constant_arrays_come_back_alive():
    @njit
    def local(k):
        a = cuda.local.array((2, 3), np.float64)  # in the call's arena, not its stack
        for i in range(2):
            for j in range(3):
                a[i, j] = i * k + j
        return a

    got = local(10)
    gc.collect()
    np.testing.assert_array_equal(got, [[0, 1, 2], [10, 11, 12]])

    @njit
    def constant():
        return cuda.const.array_like(CONSTANTS)  # the module's data: a copy

    c = constant()
    np.testing.assert_array_equal(c, CONSTANTS)
    assert c.flags.owndata and not np.shares_memory(c, CONSTANTS)


def test_zero_size_arrays():
    @njit
    def empties(n):
        return np.zeros(0), np.empty((n, 0), np.int32), np.arange(n, 0), np.ones((0, n))

    got = empties(3)
    want = (np.zeros(0), np.empty((3, 0), np.int32), np.arange(3, 0), np.ones((0, 3)))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype and g.size == 0


def test_explicit_signature_returning_an_array():
    @njit("float64[:](int64)")
    def f(n):
        a = np.zeros(n)
        for i in range(n):
            a[i] = i / 2
        return a

    np.testing.assert_array_equal(f(5), np.arange(5) / 2)


def test_fast_and_slow_paths_give_the_same_arrays():
    @njit
    def f(n, v):
        return np.full((n, 2), v)

    first = f(3, 2.5)   # slow path: compiles and registers the call shape
    assert f._fastpath_size == 1
    second = f(3, 2.5)  # fast path (jitcall.c)
    np.testing.assert_array_equal(first, second)
    assert first.base is not second.base
    np.testing.assert_array_equal(f(n=2, v=1.0), np.full((2, 2), 1.0))  # keywords: slow


# ---------------------------------------------------------------------------
# calls between jitted functions
# ---------------------------------------------------------------------------

@njit
def make_grid(n, m):
    g = np.empty((n, m), np.float64)
    for i in range(n):
        for j in range(m):
            g[i, j] = i - j
    return g


@njit
def grid_total(n, m):
    g = make_grid(n, m)
    t = 0.0
    for i in range(n):
        for j in range(m):
            t += g[i, j]
    return t, g.T


def test_array_created_in_a_called_function():
    t, gt = grid_total(4, 6)
    want = np.arange(4)[:, None] - np.arange(6)[None, :]
    assert t == want.sum()
    np.testing.assert_array_equal(gt, want.T)


# ---------------------------------------------------------------------------
# memory: nothing leaks, loops do not pile up arrays
# ---------------------------------------------------------------------------

def test_allocating_in_a_loop_keeps_memory_bounded():
    @njit
    def churn(n):
        s = 0.0
        keep = np.zeros(1)
        for i in range(n):
            a = np.full(1000, float(i))  # 8 kB per iteration: 800 MB without collection
            s += a[i % 1000]
            if i % 1000 == 0:
                keep = a  # held by a variable: must survive the collections
        return s, keep

    churn(10)
    before = rss_bytes()
    s, keep = churn(100_000)
    grown = rss_bytes() - before
    assert s == float(sum(range(100_000)))
    np.testing.assert_array_equal(keep, np.full(1000, 99_000.0))
    assert grown < 100 << 20, f"resident memory grew by {grown >> 20} MiB"


def test_while_loop_swapping_buffers():
    @njit
    def relax(n, steps):
        cur = np.zeros(n)
        cur[0] = 1.0
        k = 0
        while k < steps:
            nxt = np.empty(n)
            nxt[0] = 1.0
            for i in range(1, n):
                nxt[i] = 0.5 * (cur[i] + cur[i - 1])
            cur = nxt
            k += 1
        return cur

    def reference(n, steps):
        cur = np.zeros(n)
        cur[0] = 1.0
        for _ in range(steps):
            nxt = np.empty(n)
            nxt[0] = 1.0
            nxt[1:] = 0.5 * (cur[1:] + cur[:-1])
            cur = nxt
        return cur

    before = rss_bytes()
    np.testing.assert_allclose(relax(2000, 20_000), reference(2000, 20_000), rtol=1e-12)
    assert rss_bytes() - before < 100 << 20


def test_returned_arrays_are_freed_by_numpy():
    @njit
    def big(n):
        return np.ones(n)

    big(10)
    before = rss_bytes()
    for _ in range(300):
        a = big(1 << 17)  # 1 MiB each
        assert a[-1] == 1.0
        del a
    assert rss_bytes() - before < 64 << 20


def test_arrays_not_returned_are_freed_at_the_end_of_the_call():
    @njit
    def scratch(n):
        a = np.ones(n)
        b = np.zeros(n)
        return a.sum() + b.sum()

    scratch(10)
    before = rss_bytes()
    for _ in range(300):
        assert scratch(1 << 17) == float(1 << 17)
    assert rss_bytes() - before < 64 << 20


def test_threads_create_arrays_concurrently():
    @njit
    def work(n, k):
        a = np.empty(n, np.int64)
        for i in range(n):
            a[i] = i * k
        return a

    work(3, 1)
    results, errors = {}, []

    def run(k):
        try:
            for _ in range(50):
                results[k] = work(10_000, k)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(1, 5):
        np.testing.assert_array_equal(results[k], np.arange(10_000) * k)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_negative_dimensions_raise_value_error_with_the_line():
    @njit
    def f(n):
        return np.zeros((2, n))

    with pytest.raises(ValueError, match=r"test_jit_arrays.py:\d+:\d+: negative dimensions "
                                         "are not allowed"):
        f(-1)
    np.testing.assert_array_equal(f(2), np.zeros((2, 2)))  # still usable


def test_huge_sizes_raise_memory_error_or_value_error():
    @njit
    def f(n):
        return np.empty((n, n))

    with pytest.raises(MemoryError, match="unable to allocate"):
        f(1 << 22)  # 128 TiB
    with pytest.raises(ValueError, match="array is too big"):
        f(1 << 40)  # the size overflows
    assert f(2).shape == (2, 2)


def test_allocation_failure_in_a_loop_frees_what_was_made():
    @njit
    def f(n, big):
        keep = np.zeros(1)
        for i in range(n):
            keep = np.ones(1000)
        return np.empty(big), keep

    with pytest.raises(MemoryError):
        f(100, 1 << 50)


def test_arange_zero_step():
    @njit
    def f(a, b, c):
        return np.arange(a, b, c)

    with pytest.raises(ZeroDivisionError, match="step is zero"):
        f(0, 5, 0)
    with pytest.raises(ZeroDivisionError):
        f(0.0, 5.0, 0.0)


def test_unsupported_dtype():
    @njit
    def f(n):
        return np.zeros(n, "longdouble")

    with pytest.raises(TypingError, match=r"test_jit_arrays.py:\d+.*unsupported dtype"):
        f(3)

    @njit
    def g(n):
        return np.zeros(n, np.str_)

    with pytest.raises(TypingError, match="unsupported dtype"):
        g(3)


def test_dtype_must_be_known_at_compile_time():
    @njit
    def f(n, dt):
        return np.zeros(n, dt)

    with pytest.raises(TypingError, match=r"test_jit_arrays.py:\d+.*dtype must be known "
                                          "when the function compiles"):
        f(3, 1)


def test_bad_shapes_and_arguments():
    @njit
    def zero_d():
        return np.zeros(())

    with pytest.raises(TypingError, match="0-d arrays"):
        zero_d()

    @njit
    def float_shape(x):
        return np.zeros(x)

    with pytest.raises(TypingError, match="shape of a new array must be an int or a tuple"):
        float_shape(2.5)

    @njit
    def no_fill(n):
        return np.full(n)

    with pytest.raises(TypingError, match="fill_value"):
        no_fill(3)

    @njit
    def bad_kw(n):
        return np.zeros(n, order="F")

    with pytest.raises(TypingError, match="unexpected or repeated argument 'order'"):
        bad_kw(3)

    @njit
    def complex_arange(n):
        return np.arange(n, dtype=np.complex128)

    with pytest.raises(TypingError, match="np.arange.. cannot make a complex128 array"):
        complex_arange(3)


def test_other_array_makers_are_not_supported_yet():
    @njit
    def f(n):
        return np.identity(n)

    with pytest.raises(UnsupportedError, match=r"np.identity\(\) is not supported in "
                                               "ember.jit functions yet"):
        f(3)


def test_kernels_refuse_creating_arrays():
    @cuda.jit
    def k(out):
        t = np.zeros(3)
        out[0] = t[0]

    with pytest.raises(UnsupportedError, match=r"creating arrays \(np.zeros\) is not "
                                               "supported in kernels"):
        k[1, 1](np.zeros(1))

    @njit
    def helper(n):
        return np.ones(n)

    @cuda.jit
    def k2(out):
        out[0] = helper(3)[0]  # an ember.jit function inlined into a kernel refuses too

    with pytest.raises(UnsupportedError, match="not supported in kernels"):
        k2[1, 1](np.zeros(1))


# ---------------------------------------------------------------------------
# realistic programs
# ---------------------------------------------------------------------------

@njit
def pairwise_distances(X):
    n, d = X.shape
    D = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            D[i, j] = np.sqrt(s)
    return D


def test_pairwise_distances():
    X = np.random.default_rng(3).normal(size=(60, 7))
    want = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1))
    np.testing.assert_allclose(pairwise_distances(X), want, rtol=1e-12, atol=1e-12)


@njit
def cumulative_sum(n, step):
    xs = np.arange(0, n, step)
    out = np.zeros_like(xs)
    total = 0
    for i in range(len(xs)):
        total += xs[i]
        out[i] = total
    return out


def test_arange_cumulative_sum():
    for n, step in ((10, 1), (1000, 7), (0, 1)):
        np.testing.assert_array_equal(cumulative_sum(n, step), np.cumsum(np.arange(0, n, step)))


def test_the_gil_is_released_while_a_loop_runs():
    @njit
    def spin(n):
        x = 0.5
        for i in range(n):
            x = x * 0.999999 + 1e-9 * (i % 7)  # a dependent chain: no shortcut
        return np.full(1, x)

    spin(10)
    t0 = time.perf_counter()
    spin(50_000_000)
    alone = time.perf_counter() - t0
    started, done = threading.Event(), threading.Event()

    def run():
        started.set()
        spin(50_000_000)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    t0 = time.perf_counter()
    while not done.is_set():  # Python runs here only while the loop lets go of the GIL
        pass
    overlapped = time.perf_counter() - t0
    t.join()
    assert overlapped > 0.5 * alone  # holding the GIL, it is a few switch intervals


def test_inspect_ir_and_types_show_the_new_arrays():
    import io

    @njit
    def f(n):
        a = np.zeros((n, 2))
        b = np.arange(n)
        return a, b

    f(3)
    ir = f.inspect_ir(("int64",))
    assert "new_array zeros :: float64[:, ::1]" in ir and "new_array arange :: int64[::1]" in ir
    out = io.StringIO()
    f.inspect_types(file=out)
    assert "(float64[:, ::1], int64[::1])" in out.getvalue()
