"""Out-of-bounds stores on the CPU device, without boundscheck (issue 14).

A kernel without its `if i < n` guard, launched with more threads than
elements, must not write past its array (on the CPU device that memory is
the Python process's heap, or the caller's own NumPy array used in place):
every store and atomic checks its index, the launch raises IndexError naming
the kernel, file:line:col, thread and block, and nothing outside the array
changed. Each array here is a view into a larger buffer whose tail (the
canary) must stay as it was. Loads are not checked by default (README,
"Safety"); guarded kernels are unaffected.
"""

import re

import numpy as np
import pytest

from ember import cuda

pytestmark = pytest.mark.usefixtures("cpu_device")


@pytest.fixture
def cpu_device():
    cuda.select_device("cpu")
    yield


CANARY = 7777.0


def with_canary(n, dtype=np.float64, before=0):
    """An array of n zeros inside a buffer: `before` canary elements ahead
    of it and 64 after it."""
    buf = np.full(before + n + 64, CANARY, dtype)
    a = buf[before:before + n]
    a[:] = 0
    return buf, a


def canary_intact(buf, n, before=0):
    return (buf[:before] == CANARY).all() and (buf[before + n:] == CANARY).all()


def line_of(kernel, offset):
    return kernel.py_func.__code__.co_firstlineno + offset


@cuda.jit
def unguarded_fill(a, v):
    i = cuda.grid(1)
    a[i] = v + i


def check_index_error(ei, kernel, line):
    msg = str(ei.value)
    assert f"kernel {kernel.py_func.__name__}" in msg, msg
    assert re.search(rf"test_oob_cpu\.py:{line}:\d+: index out of bounds", msg), msg
    m = re.search(r"in thread \((\d+), (\d+), (\d+)\) of block \((\d+), (\d+), (\d+)\)", msg)
    assert m, msg
    return tuple(int(g) for g in m.groups())


@pytest.mark.parametrize("device", [False, True])
def test_unguarded_store_1d_raises_and_writes_nothing_outside(device):
    n = 100
    buf, a = with_canary(n)
    target = cuda.to_device(buf) if device else None
    arr = target[:n] if device else a
    with pytest.raises(IndexError) as ei:
        unguarded_fill[4, 32](arr, 1.0)               # 128 threads, 100 elements
    t = check_index_error(ei, unguarded_fill, line_of(unguarded_fill, 3))
    # the faulting thread is one of those past the end
    assert t[3] * 32 + t[0] >= n
    got = target.copy_to_host() if device else buf
    assert canary_intact(got, n)
    # the threads inside the array did run
    np.testing.assert_array_equal(got[:n], 1.0 + np.arange(n))


@cuda.jit
def unguarded_2d(a):
    i, j = cuda.grid(2)
    a[i, j] = i * 100 + j


def test_unguarded_store_2d_rows_do_not_spill():
    # a row index past the end, and a column past the end that would land
    # in the next row (or the canary) when only the linear offset is checked
    buf, flat = with_canary(5 * 6)
    a = flat.reshape(5, 6)
    with pytest.raises(IndexError) as ei:
        unguarded_2d[(2, 2), (4, 4)](a)               # 8 x 8 threads over 5 x 6
    check_index_error(ei, unguarded_2d, line_of(unguarded_2d, 3))
    assert canary_intact(buf, 30)
    want = np.arange(5)[:, None] * 100 + np.arange(6)[None, :]
    np.testing.assert_array_equal(a, want)


@cuda.jit
def store_at(a, k, v):
    a[k] = v


def test_negative_index_wraps_once_then_faults():
    buf, a = with_canary(10, before=16)
    store_at[1, 1](a, -1, 5.0)                        # wraps: a[9]
    assert a[9] == 5.0
    with pytest.raises(IndexError):
        store_at[1, 1](a, -11, 6.0)                   # below -len: no second wrap
    with pytest.raises(IndexError):
        store_at[1, 1](a, 10, 6.0)
    with pytest.raises(IndexError):
        store_at[1, 1](a, 1 << 40, 6.0)
    assert canary_intact(buf, 10, before=16)
    np.testing.assert_array_equal(a, np.where(np.arange(10) == 9, 5.0, 0.0))


@cuda.jit
def unguarded_atomic(a):
    i = cuda.grid(1)
    cuda.atomic.add(a, i, 1)


def test_unguarded_atomic_raises():
    buf, a = with_canary(20, dtype=np.int64)
    with pytest.raises(IndexError) as ei:
        unguarded_atomic[1, 32](a)
    check_index_error(ei, unguarded_atomic, line_of(unguarded_atomic, 3))
    assert canary_intact(buf, 20)
    np.testing.assert_array_equal(a, np.ones(20))


@cuda.jit
def row_view_store(a, r):
    row = a[r]
    row[0] = 1.0


def test_store_through_an_out_of_bounds_row_view():
    buf, flat = with_canary(3 * 4)
    a = flat.reshape(3, 4)
    with pytest.raises(IndexError) as ei:
        row_view_store[1, 1](a, 3)                    # row 3 of 3: past the end
    check_index_error(ei, row_view_store, line_of(row_view_store, 2))
    assert canary_intact(buf, 12)
    row_view_store[1, 1](a, -1)
    assert a[2, 0] == 1.0 and a.sum() == 1.0


@cuda.jit
def local_spill(out, k):
    tmp = cuda.local.array(4, np.float64)
    for j in range(4):
        tmp[j] = j
    tmp[k] = 99.0
    out[0] = tmp[0] + tmp[1] + tmp[2] + tmp[3]


@cuda.jit
def shared_spill(out, k):
    s = cuda.shared.array(8, np.float64)
    t = cuda.threadIdx.x
    s[t] = t
    cuda.syncthreads()
    if t == 0:
        s[k] = -1.0
    cuda.syncthreads()
    out[t] = s[t]


def test_local_and_shared_arrays_are_checked():
    out = np.zeros(8)
    local_spill[1, 1](out, 2)
    assert out[0] == 0 + 1 + 99 + 3
    with pytest.raises(IndexError) as ei:
        local_spill[1, 1](out, 4)
    check_index_error(ei, local_spill, line_of(local_spill, 5))
    shared_spill[1, 8](out, 3)
    np.testing.assert_array_equal(out, np.where(np.arange(8) == 3, -1.0, np.arange(8.0)))
    with pytest.raises(IndexError) as ei:
        shared_spill[1, 8](out, 8)
    check_index_error(ei, shared_spill, line_of(shared_spill, 7))
    assert shared_spill.py_func  # the device and the kernel stay usable:
    shared_spill[1, 8](out, 0)
    np.testing.assert_array_equal(out, np.where(np.arange(8) == 0, -1.0, np.arange(8.0)))


@cuda.jit
def guarded_fill(a, v):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = v + i


def test_guarded_kernel_unaffected():
    buf, a = with_canary(100)
    guarded_fill[4, 32](a, 2.0)
    np.testing.assert_array_equal(a, 2.0 + np.arange(100))
    assert canary_intact(buf, 100)


def test_host_array_in_place_after_fault_is_usable():
    # the launch that faulted leaves the kernel and the device usable
    a = np.zeros(50)
    with pytest.raises(IndexError):
        unguarded_fill[2, 32](a, 0.0)
    b = np.zeros(64)
    unguarded_fill[2, 32](b, 3.0)
    np.testing.assert_array_equal(b, 3.0 + np.arange(64))


def shifted_read(src, dst, k):
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] = src[i + k]


def test_loads_are_not_checked_by_default_but_are_with_boundscheck():
    # src is a view inside a larger buffer, so the unchecked read past its
    # end reads the buffer (what a GPU does too), not unmapped memory
    buf = np.arange(16.0)
    src, dst = buf[4:12], np.zeros(8)
    cuda.jit(shifted_read)[1, 8](src, dst, 2)
    np.testing.assert_array_equal(dst, buf[6:14])
    with pytest.raises(IndexError) as ei:
        cuda.jit(boundscheck=True)(shifted_read)[1, 8](src, dst, 2)
    assert re.search(r"test_oob_cpu\.py:\d+:\d+: index out of bounds in thread \([67], 0, 0\)",
                     str(ei.value))


@cuda.jit
def guarded_on_x(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = 2 * x[i]


@pytest.mark.parametrize("n_out", [40, 100, 130])
def test_guard_on_another_array(n_out):
    # the guard is on x, the store into out: the threads below out's extent
    # run a loop without checks, the others (if any) fault cleanly
    x = np.arange(100.0)
    buf, out = with_canary(n_out)
    if n_out < 100:
        with pytest.raises(IndexError) as ei:
            guarded_on_x[4, 32](x, out)
        t = check_index_error(ei, guarded_on_x, line_of(guarded_on_x, 4))
        assert n_out <= t[3] * 32 + t[0] < 100
        np.testing.assert_array_equal(out, 2 * x[:n_out])
    else:
        guarded_on_x[4, 32](x, out)
        np.testing.assert_array_equal(out[:100], 2 * x)
        assert (out[100:] == 0).all()
    assert canary_intact(buf, n_out)


def nan_index(arr, x):
    return arr[int(x) % 8]


@cuda.jit
def nan_index_kernel(arr, x, out):
    out[0] = arr[int(x[0]) % 8]


@pytest.mark.parametrize("x", [float("nan"), float("inf"), -float("inf"), 1e300])
def test_int_of_nan_then_modulo_is_an_index_in_bounds(x):
    # int(nan) is undefined (numba too), but `% 8` must still give an index
    # in [0, 8): LLVM's fptosi of nan is poison, which went through the
    # modulo and read far outside the array (fuzzer, seed 1, #4320: SIGSEGV)
    import ember
    arr = np.arange(8.0) + 1
    assert ember.jit(nan_index)(arr, x) in arr
    out = np.zeros(1)
    nan_index_kernel[1, 1](arr, np.array([x]), out)
    assert out[0] in arr
