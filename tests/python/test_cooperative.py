"""Cooperative groups: cuda.cg.this_grid(), grid.sync(), g.size and g.rank.

On the cpu device a kernel that calls grid.sync() runs each block as a
fiber, in phases that end at grid.sync() (devices/cpu/grid_sync.c), so the
barrier holds across every block of grids of any size. numba's own examples
(its grid-sync doc example and test_cooperative_groups' sequential_rows,
the Laplace heat-equation example) and a multi-block reduction run here
with many blocks and are compared with NumPy. On a GPU the kernel calls a
grid barrier written in NVVM IR (devices/cuda/lower_nvvm.c) and is launched
with cuLaunchCooperativeKernel after the co-residency limit is checked: the
PTX goes through ptxas, and the launch through the fake driver
(tests/fake_cuda), which records that it was cooperative and refuses grids
past the limit as the driver does.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import PTX_TARGETS, ROOT, check_ptx
from ember import cuda, int32
from ember.errors import TypingError, UnsupportedError

THIS_FILE = __file__

pytestmark = pytest.mark.usefixtures("kernel_device")


def line_of(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn.py_func if hasattr(fn, "py_func") else fn)
    for i, line in enumerate(lines):
        if text in line:
            return first + i
    raise AssertionError(f"{text!r} not in the source")


def only_overload(dispatcher):
    (overload,) = dispatcher.overloads.values()  # the compiled kernel (numba's _Kernel)
    return overload


# numba's test_cooperative_groups.py / doc example (ex_grid_sync)
def sequential_rows(M):
    col = cuda.grid(1)
    g = cuda.cg.this_grid()
    rows = M.shape[0]
    cols = M.shape[1]
    for row in range(1, rows):
        opposite = cols - col - 1
        M[row, col] = M[row - 1, opposite] + 1
        g.sync()


@pytest.mark.parametrize("shape, blockdim", [((64, 1024), 32), ((40, 4096), 16)])
def test_sequential_rows_over_many_blocks(shape, blockdim):
    sig = (int32[:, ::1],)
    k = cuda.jit(sig)(sequential_rows)
    assert only_overload(k).cooperative
    assert sig in k.overloads and k.overloads[sig] is only_overload(k)  # numba's lookup
    griddim = shape[1] // blockdim  # 32 and 256 blocks
    A = np.zeros(shape, dtype=np.int32)
    k[griddim, blockdim](A)
    np.testing.assert_equal(A, np.tile(np.arange(shape[0]), (shape[1], 1)).T)


def test_without_the_sync_blocks_run_ahead():
    """The same kernel without g.sync(): the blocks run one after another on
    the cpu device, so a block reads the previous row before the block that
    owns its opposite column has written it. The test above can fail."""
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("the order blocks run in is the cpu device's")

    @cuda.jit
    def unsynced(M):
        col = cuda.grid(1)
        rows = M.shape[0]
        cols = M.shape[1]
        for row in range(1, rows):
            M[row, col] = M[row - 1, cols - col - 1] + 1

    A = np.zeros((16, 256), dtype=np.int32)
    unsynced[8, 32](A)
    assert not (A == np.tile(np.arange(16), (256, 1)).T).all()


# numba's Laplace example (docs, ex_laplace): every thread past the end
# returns before this_grid(); the others meet at grid.sync() each step
@cuda.jit
def solve_heat_equation(buf_0, buf_1, timesteps, k):
    i = cuda.grid(1)
    if i >= len(buf_0):
        return
    grid = cuda.cg.this_grid()
    for step in range(timesteps):
        if (step % 2) == 0:
            data = buf_0
            next_data = buf_1
        else:
            data = buf_1
            next_data = buf_0
        curr_temp = data[i]
        if i == 0:
            next_temp = curr_temp + k * (data[i + 1] - (2 * curr_temp))
        elif i == len(data) - 1:
            next_temp = curr_temp + k * (data[i - 1] - (2 * curr_temp))
        else:
            next_temp = curr_temp + k * (data[i - 1] - (2 * curr_temp) + data[i + 1])
        next_data[i] = next_temp
        grid.sync()


def heat_reference(data, steps, k):
    bufs = [data.copy(), np.zeros_like(data)]
    for step in range(steps):
        src, dst = bufs[step % 2], bufs[(step + 1) % 2]
        nxt = np.empty_like(src)
        nxt[1:-1] = src[1:-1] + k * (src[:-2] - 2 * src[1:-1] + src[2:])
        nxt[0] = src[0] + k * (src[1] - 2 * src[0])
        nxt[-1] = src[-1] + k * (src[-2] - 2 * src[-1])
        dst[:] = nxt
    return bufs


def test_laplace_example():
    size, niter = 1001, 2000
    data = np.zeros(size)
    data[500] = 10000
    buf_0 = cuda.to_device(data)
    buf_1 = cuda.device_array_like(buf_0)
    solve_heat_equation.forall(len(data))(buf_0, buf_1, niter, 0.25)  # 8 blocks of 128
    ref0, ref1 = heat_reference(data, niter, 0.25)
    np.testing.assert_allclose(buf_1.copy_to_host(), ref1, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(buf_0.copy_to_host(), ref0, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(buf_1.copy_to_host().sum(), 10000)
    # more, smaller blocks: 126 of them (the last one half empty)
    buf_0, buf_1 = cuda.to_device(data), cuda.device_array_like(data)
    solve_heat_equation[126, 8](buf_0, buf_1, 100, 0.25)
    np.testing.assert_allclose(buf_1.copy_to_host(), heat_reference(data, 100, 0.25)[1],
                               rtol=1e-12, atol=1e-9)


# a reduction over the whole grid in one launch: each block sums its part in
# shared memory, then after grid.sync() block 0 sums the blocks' partial sums
@cuda.jit
def grid_sum(x, partial, out):
    g = cuda.cg.this_grid()
    sh = cuda.shared.array(64, np.float64)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    sh[t] = x[i] if i < x.size else 0.0
    cuda.syncthreads()
    stride = 32
    while stride > 0:
        if t < stride:
            sh[t] += sh[t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        partial[cuda.blockIdx.x] = sh[0]
    g.sync()
    # the blocks' sums in a tree: each round halves the live partial sums
    n = cuda.gridDim.x
    while n > 1:
        half = (n + 1) // 2
        j = cuda.grid(1)
        if j < n - half:
            partial[j] += partial[j + half]
        n = half
        g.sync()
    if i == 0:
        out[0] = partial[0]


@pytest.mark.parametrize("nblocks", [1, 7, 300])
def test_multi_block_reduction(nblocks):
    rng = np.random.default_rng(nblocks)
    x = rng.random(64 * nblocks - 5)
    partial = np.zeros(nblocks)
    out = np.zeros(1)
    grid_sum[nblocks, 64](x, partial, out)
    assert out[0] == pytest.approx(x.sum(), rel=1e-12)


def test_a_grid_of_more_blocks_than_have_guard_pages():
    """Past 8192 blocks the fibers' stacks have no guard pages (a process
    may have about 65530 mappings); the grid still syncs."""
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("the cpu device's fibers")

    @cuda.jit
    def mirror(a, b):
        g = cuda.cg.this_grid()
        i = cuda.grid(1)
        a[i] = i * 3
        g.sync()
        b[i] = a[a.size - 1 - i]

    n = 9000
    a, b = np.zeros(n, np.int64), np.zeros(n, np.int64)
    mirror[n, 1](a, b)
    np.testing.assert_equal(b, (np.arange(n) * 3)[::-1])


@cuda.jit
def size_and_rank(rank, size):
    g = cuda.cg.this_grid()
    r = g.rank
    rank[r] = r
    size[r] = g.size


def test_size_and_rank():
    grid, block = (3, 2, 2), (5, 4, 2)
    n = 12 * 40
    rank, size = np.full(n, -1, np.int64), np.zeros(n, np.int64)
    size_and_rank[grid, block](rank, size)
    np.testing.assert_equal(rank, np.arange(n))  # every rank once, each thread its own
    np.testing.assert_equal(size, n)
    # the rank is CUDA's grid_group::thread_rank(): linear block, then thread (x fastest)

    @cuda.jit
    def where(out):
        g = cuda.cg.this_grid()
        out[g.rank, 0] = cuda.threadIdx.x
        out[g.rank, 1] = cuda.threadIdx.y
        out[g.rank, 2] = cuda.blockIdx.x
        out[g.rank, 3] = cuda.blockIdx.y

    out = np.zeros((2 * 3 * 4 * 2, 4), np.int32)
    where[(2, 3), (4, 2)](out)
    expect = [(tx, ty, bx, by) for by in range(3) for bx in range(2)
              for ty in range(2) for tx in range(4)]
    np.testing.assert_equal(out, np.array(expect, np.int32))


@cuda.jit
def blocks_leave_early(flags, out):
    g = cuda.cg.this_grid()
    b = cuda.blockIdx.x
    if b % 3 == 1:          # these blocks never reach the grid.sync below
        return
    flags[b] = 1
    g.sync()
    # every block still running sees every other running block's flag
    total = 0
    for k in range(flags.size):
        total += flags[k]
    out[b] = total


def test_blocks_that_return_count_as_arrived():
    """A block that returns before a grid.sync() the others wait at counts as
    arrived: the launch finishes (no deadlock; on a GPU this hangs)."""
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("undefined behaviour on a GPU (it hangs)")
    n = 30
    flags, out = np.zeros(n, np.int32), np.full(n, -1, np.int32)
    blocks_leave_early[n, 4](flags, out)
    running = np.array([b % 3 != 1 for b in range(n)])
    np.testing.assert_equal(out[running], running.sum())
    np.testing.assert_equal(out[~running], -1)


def test_this_grid_alone_and_sync_group():
    """numba's test_this_grid / test_sync_group: the kernel runs past them."""
    @cuda.jit
    def this_grid(A):
        cuda.cg.this_grid()
        A[0] = 1.0

    @cuda.jit
    def sync_group(A):
        g = cuda.cg.this_grid()
        g.sync()
        A[0] = 1.0

    for k in (this_grid, sync_group):
        A = np.full(1, np.nan)
        k[1, 1](A)
        assert A[0] == 1.0
    assert not only_overload(this_grid).cooperative  # no grid.sync()
    assert only_overload(sync_group).cooperative


def test_max_cooperative_grid_blocks_on_the_cpu_device():
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("the cpu device's answer")
    sig = (int32[:, ::1],)
    overload = only_overload(cuda.jit(sig)(sequential_rows))
    assert overload.max_cooperative_grid_blocks(256) == 2**31 - 1
    assert overload.max_cooperative_grid_blocks((16, 4, 4)) == 2**31 - 1
    with pytest.raises(ValueError, match="1 to 3 dimensions"):
        overload.max_cooperative_grid_blocks((1, 1, 1, 1))


# ---- errors -------------------------------------------------------------

def sync_with_argument(out):
    g = cuda.cg.this_grid()
    g.sync(1)


def sync_result_used(out):
    g = cuda.cg.this_grid()
    out[0] = g.sync()


def unknown_cg_function(out):
    t = cuda.cg.this_thread_block()


def group_reassigned(out):
    g = cuda.cg.this_grid()
    if out[0] > 0:
        g = 3              # meets the group below: one variable
    g.sync()


def group_as_value(out):
    g = cuda.cg.this_grid()
    out[0] = g


def unknown_group_attribute(out):
    g = cuda.cg.this_grid()
    out[0] = g.num_blocks


@pytest.mark.parametrize("kernel, marker, error, text", [
    (sync_with_argument, "g.sync(1)", TypingError, "grid.sync() takes no arguments"),
    (sync_result_used, "g.sync()", TypingError, "returns nothing"),
    (unknown_cg_function, "this_thread_block", TypingError,
     "cuda.cg has no attribute 'this_thread_block'"),
    (group_reassigned, "g = 3", UnsupportedError, "holds cuda.cg.this_grid()"),
    (group_as_value, "out[0] = g", UnsupportedError, "cannot be used as a value"),
    (unknown_group_attribute, "g.num_blocks", TypingError, "has no attribute 'num_blocks'"),
])
def test_errors_name_the_line(kernel, marker, error, text):
    with pytest.raises(error) as ei:
        cuda.jit(kernel)[1, 1](np.zeros(1, np.int32))
    msg = str(ei.value)
    assert text in msg, msg
    assert f"{THIS_FILE}:{line_of(kernel, marker)}" in msg, msg


def sync_under_thread_condition(out):
    g = cuda.cg.this_grid()
    if cuda.threadIdx.x < 16:
        g.sync()
    out[0] = 1


def test_grid_sync_under_a_thread_condition_is_refused_as_syncthreads_is():
    """Inside a block grid.sync() is a barrier like syncthreads: the same
    compile-time refusal of a condition that provably differs between the
    threads of a block."""
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("a GPU compiles it (and hangs at run time)")
    with pytest.raises(TypingError) as ei:
        cuda.jit(sync_under_thread_condition)[1, 32](np.zeros(1, np.int32))
    msg = str(ei.value)
    assert f"{THIS_FILE}:{line_of(sync_under_thread_condition, 'if cuda.threadIdx.x')}" in msg
    assert "depends on the thread index" in msg, msg


@cuda.jit(device=True)
def publish_then_read(src, dst, i):
    src[i] = i * 2
    cuda.cg.this_grid().sync()
    dst[i] = src[src.size - 1 - i]  # written by another block before the sync


def test_grid_sync_in_a_device_function():
    """A device function holding grid.sync() (fission inlines it on the cpu
    device, as it does syncthreads)."""
    @cuda.jit
    def k(src, dst):
        publish_then_read(src, dst, cuda.grid(1))

    n = 40 * 16
    src, dst = np.zeros(n, np.int64), np.zeros(n, np.int64)
    k[40, 16](src, dst)
    np.testing.assert_equal(dst, (np.arange(n) * 2)[::-1])
    assert only_overload(k).cooperative


# ---- the GPU path without a GPU ---------------------------------------------

@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_grid_sync_ptx_passes_ptxas(nvvm, ptxas, cc):
    ptx, _ = cuda.compile_ptx(sequential_rows, (int32[:, ::1],), cc=cc)
    assert ".visible .global .align 4 .u32 ember_grid_barrier;" in ptx
    assert "atom.global.add.u32" in ptx and "ld.volatile.global.u32" in ptx
    assert ptx.count("membar.gl;") >= 2 and "bar.sync" in ptx
    check_ptx(ptx, cc)
    plain, _ = cuda.compile_ptx(sync_group_free, (int32[::1],), cc=cc)
    assert "ember_grid_barrier" not in plain  # launched as usual


def sync_group_free(A):
    cuda.cg.this_grid()
    A[0] = cuda.grid(1)


FAKE_SCRIPT = r'''
import ctypes, os
import numpy as np
from ember import cuda, int32, _ember
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_last_launch.restype = ctypes.c_long
cuda.select_device(0)

def launches():
    return fake.fake_cuda_last_launch(None, None, None, ctypes.c_size_t(0), None, None,
                                      ctypes.c_size_t(0))

def sequential_rows(M):
    col = cuda.grid(1)
    g = cuda.cg.this_grid()
    for row in range(1, M.shape[0]):
        M[row, col] = M[row - 1, M.shape[1] - col - 1] + 1
        g.sync()

sig = (int32[:, ::1],)
k = cuda.jit(sequential_rows)
A = cuda.to_device(np.zeros((8, 256 * 32), np.int32))
n = launches()
k[256, 32](A)
assert launches() == n + 1 and fake.fake_cuda_last_launch_cooperative() == 1
(overload,) = k.overloads.values()
assert overload.cooperative and overload.target[0] == "cuda"
# the fake: 2048 threads per SM, at most 32 blocks per SM, 132 SMs
assert overload.max_cooperative_grid_blocks(32) == 32 * 132
assert overload.max_cooperative_grid_blocks(256) == 8 * 132
assert overload.max_cooperative_grid_blocks((16, 4, 4)) == 8 * 132
assert overload.max_cooperative_grid_blocks((16, 16)) == 8 * 132

# past the limit: refused before the driver is called, naming it
try:
    k[8 * 132 + 1, 256](cuda.to_device(np.zeros((2, 256 * (8 * 132 + 1)), np.int32)))
except ValueError as e:
    msg = str(e)
    assert "a grid of 1057 blocks" in msg and "at most 1056 blocks of 256 threads" in msg, msg
    assert "8 per multiprocessor x 132 multiprocessors" in msg, msg
    assert "grid.sync()" in msg, msg
else:
    raise AssertionError("the launch past the co-residency limit went through")
assert launches() == n + 1
# again within the limit: the C fast path launches cooperatively too
plain_rows = cuda.to_device(np.zeros((8, 64 * 32), np.int32))
for _ in range(2):
    k[64, 32](plain_rows)
    assert fake.fake_cuda_last_launch_cooperative() == 1
assert launches() == n + 3

# a compilation for the cpu device cannot say what fits on the GPU
cpu_only = cuda.jit(sig)(sequential_rows)  # with a signature: compiled for the cpu now
try:
    next(iter(cpu_only.overloads.values())).max_cooperative_grid_blocks(32)
except ValueError as e:
    assert "the cpu device's compilation" in str(e), e
else:
    raise AssertionError("no error")

# dynamic shared memory lowers the limit (228 KiB per SM in the fake)
assert overload.max_cooperative_grid_blocks(32, 100 * 1024) == 2 * 132

@cuda.jit
def plain(A):
    A[cuda.grid(1)] = 1

plain[4, 32](cuda.device_array(128, np.int32))
assert fake.fake_cuda_last_launch_cooperative() == 0
assert not next(iter(plain.overloads.values())).cooperative

# a device function holding the grid.sync(): the kernel is cooperative too
@cuda.jit(device=True)
def step(M, col, row):
    M[row, col] = M[row - 1, M.shape[1] - col - 1] + 1
    cuda.cg.this_grid().sync()

@cuda.jit
def rows_by_device_function(M):
    for row in range(1, M.shape[0]):
        step(M, cuda.grid(1), row)

rows_by_device_function[4, 32](cuda.to_device(np.zeros((4, 128), np.int32)))
assert fake.fake_cuda_last_launch_cooperative() == 1
assert next(iter(rows_by_device_function.overloads.values())).cooperative

# the lower-level Module API
module = _ember.Module("cuda", 0, overload.ptx)
mk = module.get_kernel(overload.symbol)
assert mk.cooperative and mk.max_cooperative_grid_blocks((32, 1, 1)) == 32 * 132
print("ok")
'''


def test_cooperative_launch_through_the_fake_driver(fake_cuda_lib, nvvm, tmp_path):
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("runs the fake driver in a subprocess once")
    script = tmp_path / "cooperative.py"  # a file: the kernels have source
    script.write_text(FAKE_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_CUDA_DRIVER=fake_cuda_lib,
               FAKE_CUDA_DEVICES="1")
    env.pop("EMBER_DEVICE", None)
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


CACHED_SCRIPT = r'''
import numpy as np
from ember import cuda

@cuda.jit(cache=True)
def seq(M):
    col = cuda.grid(1)
    g = cuda.cg.this_grid()
    for row in range(1, M.shape[0]):
        M[row, col] = M[row - 1, M.shape[1] - col - 1] + 1
        g.sync()

A = np.zeros((32, 256), np.int32)
seq[16, 16](A)
assert (A == np.tile(np.arange(32), (256, 1)).T).all()
print(sum(seq.stats.cache_hits.values()), sum(seq.stats.cache_misses.values()))
'''


def test_a_kernel_from_the_disk_cache_still_syncs_the_grid(tmp_path):
    """The cpu device finds grid.sync() in a kernel loaded from the disk
    cache too (without it the blocks would run ahead: wrong rows)."""
    if cuda.get_current_device().kind != "cpu":
        pytest.skip("the cpu device's cache")
    script = tmp_path / "cached.py"
    script.write_text(CACHED_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    env.pop("EMBER_DEVICE", None)
    runs = [subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stdout + r.stderr
    assert [r.stdout.split() for r in runs] == [["0", "1"], ["1", "0"]]
