"""Launch configurations the CPU device cannot run are refused with a clear
error before anything runs (issue 14): a grid of more than 2**63 - 1
threads in all (the kernel numbers its threads in int64; such a launch used
to run nothing and report success), and dynamic shared memory above the
device's limit per block (up to 2 GiB used to be accepted). Each case goes
through the Python launch path (first call) and the C fast path (later
calls)."""

import numpy as np
import pytest

from ember import cuda


@pytest.fixture(autouse=True)
def cpu_device():
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set(("cpu", 0))
    yield
    _devices._state.set(saved)


@cuda.jit
def count_first(out):
    x, y, z = cuda.grid(3)
    if x == 0 and y == 0 and z == 0:
        out[0] += 1


BIG_GRID = (2**31 - 1, 65535, 65535)  # each axis within CUDA's limits


@pytest.mark.parametrize("block", [1024, 2, (2, 2, 1)])
def test_more_than_2_63_threads_is_an_error(block):
    out = cuda.to_device(np.zeros(1))
    count_first[1, 1](out)  # compiled; later calls may take the fast path
    for _ in range(2):
        with pytest.raises(ValueError, match=r"count_first.*grid \(2147483647, 65535, 65535\) "
                           r"times block .* more than 2\*\*63 - 1 threads"):
            count_first[BIG_GRID, block](out)
    assert out.copy_to_host()[0] == 1
    count_first[2, 32](out)  # still usable
    assert out.copy_to_host()[0] == 2


def test_large_grid_below_the_limit_still_runs():
    out = np.zeros(1)
    count_first[(2**20, 2, 1), 64](out)
    assert out[0] == 1


def test_low_level_launch_checks_threads_per_block_without_overflow():
    k = count_first.overloads[next(iter(count_first.overloads))]
    out = cuda.to_device(np.zeros(1))
    big = 2**31 - 1
    # block extents whose product overflows int64: still "more than 1024"
    with pytest.raises(ValueError, match="more than 1024 threads per block"):
        k.launch((1, 1, 1), (big, big, big), (out,))


@cuda.jit
def fill_dynamic(out):
    s = cuda.shared.array(0, np.float32)
    t = cuda.threadIdx.x
    n = s.size
    for j in range(t, n, cuda.blockDim.x):
        s[j] = j
    cuda.syncthreads()
    if t == 0:
        out[0] = s.size
        out[1] = s[n - 1]


def test_dynamic_shared_memory_up_to_the_opt_in_limit():
    """Above the default 48 KiB, up to compute capability 9.0's opt-in
    227 KiB (a GPU kernel is opted in at launch: test_cuda_launch_fake)."""
    assert cuda.get_current_device().MAX_SHARED_MEMORY_PER_BLOCK == 48 * 1024
    assert cuda.get_current_device().MAX_SHARED_MEMORY_PER_BLOCK_OPTIN == 227 * 1024
    out = np.zeros(2, np.float32)
    for limit in (48 * 1024, 64 * 1024, 227 * 1024):
        fill_dynamic[1, 32, 0, limit](out)
        np.testing.assert_array_equal(out, [limit // 4, limit // 4 - 1])


@pytest.mark.parametrize("nbytes", [227 * 1024 + 4, 2**31])
def test_dynamic_shared_memory_above_the_limit_is_an_error(nbytes):
    out = np.zeros(2, np.float32)
    fill_dynamic[1, 32, 0, 64](out)
    for _ in range(2):
        with pytest.raises(ValueError, match=rf"fill_dynamic: {nbytes} bytes of dynamic shared "
                           r"memory per block .*above the cpu device's limit of 232448 bytes"):
            fill_dynamic[1, 32, 0, nbytes](out)
    np.testing.assert_array_equal(out, [16, 15])


@cuda.jit
def static_and_dynamic(out):
    s = cuda.shared.array(8192, np.float32)  # 32 KiB static
    d = cuda.shared.array(0, np.float32)
    t = cuda.threadIdx.x
    for j in range(t, d.size, cuda.blockDim.x):
        d[j] = j
    for j in range(t, s.size, cuda.blockDim.x):
        s[j] = 2 * j
    cuda.syncthreads()
    if t == 0:
        out[0] = d.size
        out[1] = d[d.size - 1] + s[s.size - 1]


def test_static_and_dynamic_shared_memory_count_together():
    """A block's static and dynamic shared memory together stay within
    compute capability 9.0's opt-in 227 KiB, as on a GPU."""
    out = np.zeros(2, np.float32)
    dyn = 227 * 1024 - 32 * 1024
    static_and_dynamic[1, 64, 0, dyn](out)
    np.testing.assert_array_equal(out, [dyn // 4, dyn // 4 - 1 + 2 * 8191])
    for _ in range(2):  # the Python path, then the C fast path
        with pytest.raises(ValueError, match=r"static_and_dynamic: 199684 bytes of dynamic "
                           r"shared memory per block .* plus the kernel's 32768 bytes of static "
                           r"shared memory are above the cpu device's limit of 232448 bytes"):
            static_and_dynamic[1, 64, 0, dyn + 4](out)


def test_static_shared_memory_above_48_kib_is_a_compile_error():
    """CUDA kernels may declare at most 48 KiB of static shared memory
    (ptxas refuses more); the error says to use dynamic shared memory."""
    from ember.errors import TypingError

    @cuda.jit
    def too_big(out):
        s = cuda.shared.array(12289, np.float32)  # 48 KiB + 4 bytes
        s[0] = 1.0
        out[0] = s[0]

    with pytest.raises(TypingError, match=r"cuda.shared.array: float32\[::1\] of more than "
                       r"48 KiB, the most static shared memory a CUDA kernel may declare; for "
                       r"more use dynamic shared memory"):
        too_big[1, 1](np.zeros(1, np.float32))

    @cuda.jit
    def two_halves(out):  # each is allowed, together they are not
        a = cuda.shared.array(6144, np.float32)  # 24 KiB
        b = cuda.shared.array(6145, np.float32)  # 24 KiB + 4 bytes
        a[0] = 1.0
        b[0] = 2.0
        out[0] = a[0] + b[0]

    with pytest.raises(TypingError, match=r"49156 bytes of static shared memory in all, more "
                       r"than 48 KiB"):
        two_halves[1, 1](np.zeros(1, np.float32))

    @cuda.jit
    def just_fits(out):
        s = cuda.shared.array(12288, np.float32)  # exactly 48 KiB
        t = cuda.threadIdx.x
        s[t] = t
        cuda.syncthreads()
        out[0] = s[31]

    o = np.zeros(1, np.float32)
    just_fits[1, 32](o)
    assert o[0] == 31
# numba's launch-configuration checks and wording
# (numba.cuda.errors.normalize_kernel_dimensions), issue 13.

@cuda.jit
def fill_index(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = i


@pytest.mark.parametrize("config, msg", [
    (((1, 2, 3, 4), (5, 6)), "griddim must be a sequence of 1, 2 or 3 integers, got [1, 2, 3, 4]"),
    (((1, 2), [3, 4, 5, 6]), "blockdim must be a sequence of 1, 2 or 3 integers, got [3, 4, 5, 6]"),
])
def test_too_many_dims_is_numbas_value_error(config, msg):
    with pytest.raises(ValueError) as ei:
        fill_index[config]
    assert msg in str(ei.value)


@pytest.mark.parametrize("config, msg", [
    ((2.0, 3), "griddim must be a sequence of integers, got [2.0]"),
    ((2, 3.0), "blockdim must be a sequence of integers, got [3.0]"),
    (((2, "4"), 3), "griddim must be a sequence of integers, got [2, '4']"),
    ((2, (True, 1)), "blockdim must be a sequence of integers, got [True, 1]"),
])
def test_non_integral_dims_is_numbas_type_error(config, msg):
    with pytest.raises(TypeError) as ei:
        fill_index[config]
    assert msg in str(ei.value)


def test_list_and_numpy_integer_dims_launch():
    out = np.full(24, -1.0)
    fill_index[[np.int32(3)], (np.uint8(8),)](out)
    np.testing.assert_array_equal(out, np.arange(24.0))


def test_forall_zero_launches_nothing_and_negative_is_an_error():
    out = np.full(5, -1.0)
    assert fill_index.forall(0)(out) is None
    np.testing.assert_array_equal(out, np.full(5, -1.0))
    with pytest.raises(ValueError, match="Can't create ForAll with negative task count: -3"):
        fill_index.forall(-3)
    fill_index.forall(5)(out)                 # a positive count still runs every task
    np.testing.assert_array_equal(out, np.arange(5.0))
