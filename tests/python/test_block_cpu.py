"""Block semantics on the CPU device (barrier fission), compared with NumPy.

Kernels with barriers, shared memory (static and dynamic), warp collectives
and device functions holding them run on the cpu device and, under the
`gpu` marker, on a CUDA GPU (conftest.kernel_device); every expected value
is computed independently with NumPy or plain Python. The error tests show
what fission refuses: a barrier under a condition that provably differs
between threads (compile time, file:line), threads that disagree on a
barrier's condition at run time (boundscheck / debug=True: an error naming
the thread and the block), and device functions it cannot inline.
"""

import re

import numpy as np
import pytest

from ember import cuda
from ember.errors import TypingError, UnsupportedError
from ember.types import float32, int32, void

THIS_FILE = __file__

pytestmark = pytest.mark.usefixtures("kernel_device")


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def line_of(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn.py_func if hasattr(fn, "py_func") else fn)
    for i, line in enumerate(lines):
        if text in line:
            return first + i
    raise AssertionError(f"{text!r} not in the source")


# ---------------------------------------------------------------------------
# shared memory and syncthreads
# ---------------------------------------------------------------------------

TPB = 16


@cuda.jit
def matmul_tiled(A, B, C):
    sA = cuda.shared.array((TPB, TPB), float32)
    sB = cuda.shared.array((TPB, TPB), float32)
    x, y = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    acc = float32(0.0)
    for t in range((A.shape[1] + TPB - 1) // TPB):
        k = t * TPB
        sA[tx, ty] = A[x, ty + k] if x < A.shape[0] and ty + k < A.shape[1] else float32(0)
        sB[tx, ty] = B[tx + k, y] if tx + k < B.shape[0] and y < B.shape[1] else float32(0)
        cuda.syncthreads()
        for j in range(TPB):
            acc += sA[tx, j] * sB[j, ty]
        cuda.syncthreads()
    if x < C.shape[0] and y < C.shape[1]:
        C[x, y] = acc


def test_tiled_matmul_shared_memory(rng):
    A = rng.standard_normal((50, 37)).astype(np.float32)
    B = rng.standard_normal((37, 45)).astype(np.float32)
    C = np.zeros((50, 45), np.float32)
    grid = ((50 + TPB - 1) // TPB, (45 + TPB - 1) // TPB)
    matmul_tiled[grid, (TPB, TPB)](A, B, C)
    np.testing.assert_allclose(C, A @ B, rtol=1e-4, atol=1e-4)


@cuda.jit
def block_reduce(a, out):
    sh = cuda.shared.array(256, np.float64)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    sh[tid] = a[i] if i < a.size else 0.0
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sh[0]


def test_block_tree_reduction_barrier_in_while(rng):
    a = rng.standard_normal(1000)
    out = np.zeros(4)
    block_reduce[4, 256](a, out)
    padded = np.concatenate([a, np.zeros(24)])
    np.testing.assert_allclose(out, padded.reshape(4, 256).sum(axis=1), rtol=1e-12)


@cuda.jit
def hillis_steele(a, out):
    t = cuda.shared.array(0, np.float32)
    tid = cuda.threadIdx.x
    n = cuda.blockDim.x
    base = cuda.blockIdx.x * n
    t[tid] = a[base + tid]
    cuda.syncthreads()
    off = 1
    while off < n:
        v = t[tid]
        if tid >= off:
            v += t[tid - off]
        cuda.syncthreads()
        t[tid] = v
        cuda.syncthreads()
        off *= 2
    out[base + tid] = t[tid]


def test_hillis_steele_scan_dynamic_shared(rng):
    a = rng.random(3 * 128).astype(np.float32)
    out = np.zeros_like(a)
    hillis_steele[3, 128, 0, 128 * 4](a, out)
    np.testing.assert_allclose(out, np.cumsum(a.reshape(3, 128), axis=1).ravel(), rtol=1e-5)


@cuda.jit
def dynamic_alias(out):
    f = cuda.shared.array(0, np.float32)
    i = cuda.shared.array(0, np.int32)
    t = cuda.threadIdx.x
    f[t] = float32(t) + float32(0.5)
    cuda.syncthreads()
    out[t] = i[t]
    out[t + cuda.blockDim.x] = f.size


def test_dynamic_shared_arrays_alias_the_same_memory():
    bits = (np.arange(32, dtype=np.float32) + np.float32(0.5)).view(np.int32)
    dout = cuda.to_device(np.zeros(64, np.int32))
    before = dynamic_alias._fastpath_hits
    for words in (32, 48, 40):   # the later launches take the C fast path
        dynamic_alias[1, 32, 0, words * 4](dout)
        out = dout.copy_to_host()
        np.testing.assert_array_equal(out[:32], bits)
        assert (out[32:] == words).all()
    assert dynamic_alias._fastpath_hits - before >= 2


@cuda.jit
def histogram(data, bins):
    h = cuda.shared.array(16, np.int32)
    t = cuda.threadIdx.x
    if t < 16:
        h[t] = 0
    cuda.syncthreads()
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < data.size:
        cuda.atomic.add(h, data[i] % 16, 1)
        i += stride
    cuda.syncthreads()
    if t < 16:
        cuda.atomic.add(bins, t, h[t])


def test_histogram_shared_atomics(rng):
    data = rng.integers(0, 1000, 5000).astype(np.int32)
    bins = np.zeros(16, np.int32)
    histogram[7, 64](data, bins)
    np.testing.assert_array_equal(bins, np.bincount(data % 16, minlength=16))


@cuda.jit
def jacobi_step(u, v):
    tile = cuda.shared.array((18, 18), np.float64)
    i, j = cuda.grid(2)
    tx = cuda.threadIdx.x + 1
    ty = cuda.threadIdx.y + 1
    n, m = u.shape
    inside = i < n and j < m
    if inside:
        tile[tx, ty] = u[i, j]
        if tx == 1 and i > 0:
            tile[0, ty] = u[i - 1, j]
        if tx == cuda.blockDim.x and i + 1 < n:
            tile[tx + 1, ty] = u[i + 1, j]
        if ty == 1 and j > 0:
            tile[tx, 0] = u[i, j - 1]
        if ty == cuda.blockDim.y and j + 1 < m:
            tile[tx, ty + 1] = u[i, j + 1]
    cuda.syncthreads()
    if inside:
        if 0 < i < n - 1 and 0 < j < m - 1:
            v[i, j] = 0.25 * (tile[tx - 1, ty] + tile[tx + 1, ty] + tile[tx, ty - 1] +
                              tile[tx, ty + 1])
        else:
            v[i, j] = u[i, j]


def test_jacobi_laplace_stencil_with_a_stream(rng):
    u0 = rng.random((40, 37))
    stream = cuda.stream()
    du = cuda.to_device(u0, stream=stream)
    dv = cuda.to_device(u0, stream=stream)
    grid = ((40 + 15) // 16, (37 + 15) // 16)
    for _ in range(5):
        jacobi_step[grid, (16, 16), stream](du, dv)
        du, dv = dv, du
    got = du.copy_to_host(stream=stream)
    stream.synchronize()
    want = u0.copy()
    for _ in range(5):
        nxt = want.copy()
        nxt[1:-1, 1:-1] = 0.25 * (want[:-2, 1:-1] + want[2:, 1:-1] + want[1:-1, :-2] +
                                  want[1:-1, 2:])
        want = nxt
    np.testing.assert_allclose(got, want, rtol=1e-12)


@cuda.jit
def block_3d(out):
    sh = cuda.shared.array((4, 3, 2), np.int32)
    x = cuda.threadIdx.x
    y = cuda.threadIdx.y
    z = cuda.threadIdx.z
    sh[x, y, z] = x + 10 * y + 100 * z + 1000 * cuda.blockIdx.x
    cuda.syncthreads()
    # each thread reads the element of the mirrored thread
    out[cuda.blockIdx.x, x, y, z] = sh[3 - x, 2 - y, 1 - z]


def test_3d_block_kernel():
    out = np.zeros((2, 4, 3, 2), np.int32)
    block_3d[2, (4, 3, 2)](out)
    b, x, y, z = np.indices(out.shape)
    np.testing.assert_array_equal(out, (3 - x) + 10 * (2 - y) + 100 * (1 - z) + 1000 * b)


@cuda.jit
def early_return(a, out, n):
    sh = cuda.shared.array(64, np.int32)
    i = cuda.threadIdx.x
    if i >= n:
        return
    sh[i] = a[i]
    cuda.syncthreads()
    c = cuda.syncthreads_count(sh[i] > 0)
    every = cuda.syncthreads_and(sh[i] > -100)
    some = cuda.syncthreads_or(sh[i] == 7)
    out[i] = sh[n - 1 - i] + 1000 * c + 100000 * every + 1000000 * some


def test_early_return_threads_count_as_arrived():
    a = np.arange(64, dtype=np.int32) - 10
    out = np.full(64, -1, np.int32)
    early_return[1, 64](a, out, 40)
    live = a[:40]
    want = live[::-1] + 1000 * (live > 0).sum() + 100000 * 1 + 1000000 * int((live == 7).any())
    np.testing.assert_array_equal(out[:40], want)
    assert (out[40:] == -1).all()


# ---------------------------------------------------------------------------
# warp collectives
# ---------------------------------------------------------------------------

@cuda.jit
def warp_sum(a, out):
    i = cuda.grid(1)
    v = a[i]
    off = 16
    while off > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, off)
        off //= 2
    if cuda.laneid == 0:
        out[i // 32] = v


def test_warp_shuffle_reduction(rng):
    a = rng.standard_normal(256).astype(np.float32)
    out = np.zeros(8, np.float32)
    warp_sum[2, 128](a, out)
    np.testing.assert_allclose(out, a.reshape(8, 32).sum(axis=1), rtol=1e-5, atol=1e-5)


@cuda.jit
def shuffles(a, up, down, xor, idx):
    i = cuda.grid(1)
    v = a[i]
    up[i] = cuda.shfl_up_sync(0xFFFFFFFF, v, 3)
    down[i] = cuda.shfl_down_sync(0xFFFFFFFF, v, 5)
    xor[i] = cuda.shfl_xor_sync(0xFFFFFFFF, v, 6)
    idx[i] = cuda.shfl_sync(0xFFFFFFFF, v, (cuda.laneid * 7) % 32)


def test_shuffle_variants_and_out_of_range_lanes(rng):
    a = rng.integers(-1000, 1000, 64).astype(np.int64)
    outs = [np.zeros(64, np.int64) for _ in range(4)]
    shuffles[1, 64](a, *outs)
    lane = np.arange(64) % 32
    base = np.arange(64) - lane
    # out-of-range source lanes give the caller's own value
    up = np.where(lane >= 3, a[base + np.maximum(lane - 3, 0)], a)
    down = np.where(lane + 5 <= 31, a[base + np.minimum(lane + 5, 31)], a)
    np.testing.assert_array_equal(outs[0], up)
    np.testing.assert_array_equal(outs[1], down)
    np.testing.assert_array_equal(outs[2], a[base + (lane ^ 6)])
    np.testing.assert_array_equal(outs[3], a[base + (lane * 7) % 32])


# Shuffles with a width (CUDA C's 4th argument): the PTX ISA's "shfl.sync"
# formulas with c = ((32 - width) << 8) | clamp, clamp 0x1f (0 for up),
# written out here in plain Python as the reference.
def ptx_shuffle(mode, warp_values, lane, b, width):
    c = (((32 - width) << 8) | (0 if mode == "up" else 0x1F)) & 0xFFFFFFFF
    segmask = (c >> 8) & 0x1F
    max_lane = (lane & segmask) | (c & 0x1F & ~segmask)
    min_lane = lane & segmask
    b &= 0x1F
    if mode == "up":
        j = lane - b
        valid = j >= max_lane
    elif mode == "down":
        j = lane + b
        valid = j <= max_lane
    elif mode == "bfly":
        j = lane ^ b
        valid = j <= max_lane
    else:
        j = min_lane | (b & ~segmask)
        valid = j <= max_lane
    return warp_values[j if valid else lane]


@cuda.jit
def shuffles_with_width(a, lanes, width, up, down, xor, idx):
    i = cuda.grid(1)
    v = a[i]
    b = lanes[i]
    up[i] = cuda.shfl_up_sync(0xFFFFFFFF, v, b, width)
    down[i] = cuda.shfl_down_sync(0xFFFFFFFF, v, b, width)
    xor[i] = cuda.shfl_xor_sync(0xFFFFFFFF, v, b, width)
    idx[i] = cuda.shfl_sync(0xFFFFFFFF, v, b, width)


@pytest.mark.parametrize("dtype", [np.int32, np.float64])
@pytest.mark.parametrize("width", [1, 2, 4, 8, 16, 32])
def test_shuffles_with_a_width_follow_the_ptx_formulas(rng, width, dtype):
    n = 64
    if dtype == np.int32:
        a = rng.integers(-2**31, 2**31, n).astype(np.int32)
    else:
        a = rng.standard_normal(n) * 1e10
    lanes = rng.integers(0, 32, n).astype(np.int32)
    lanes[:8] = [0, 1, width - 1, width, 2 * width - 1, 31, 16, 3]
    outs = [np.zeros(n, dtype) for _ in range(4)]
    shuffles_with_width[1, n](a, lanes, np.int32(width), *outs)
    for mode, out in zip(("up", "down", "bfly", "idx"), outs):
        want = [ptx_shuffle(mode, a[i - i % 32:i - i % 32 + 32], i % 32, int(lanes[i]), width)
                for i in range(n)]
        np.testing.assert_array_equal(out, np.array(want, dtype), err_msg=f"{mode} width {width}")


@pytest.mark.parametrize("width", [0, 3, 12, 33, 64, -1])
def test_shuffle_widths_cuda_leaves_undefined_follow_the_ptx_bits(rng, width):
    # not a power of two from 1 to 32: both devices pass PTX the same c bits
    n = 64
    a = rng.integers(-1000, 1000, n).astype(np.int32)
    lanes = rng.integers(0, 32, n).astype(np.int32)
    outs = [np.zeros(n, np.int32) for _ in range(4)]
    shuffles_with_width[1, n](a, lanes, np.int32(width), *outs)
    for mode, out in zip(("up", "down", "bfly", "idx"), outs):
        want = [ptx_shuffle(mode, a[i - i % 32:i - i % 32 + 32], i % 32, int(lanes[i]), width)
                for i in range(n)]
        np.testing.assert_array_equal(out, want, err_msg=f"{mode} width {width}")


@cuda.jit
def segmented_sums(a, sums, firsts):
    i = cuda.grid(1)
    v = a[i]
    off = 4
    while off > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, off, 8)
        off //= 2
    if cuda.laneid % 8 == 0:
        sums[i // 8] = v
    firsts[i] = cuda.shfl_sync(0xFFFFFFFF, a[i], 0, 8)  # each group's first value


def test_segmented_reduction_with_width_8(rng):
    a = rng.standard_normal(3 * 64)
    sums = np.zeros(3 * 64 // 8)
    firsts = np.zeros_like(a)
    segmented_sums[3, 64](a, sums, firsts)
    np.testing.assert_allclose(sums, a.reshape(-1, 8).sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(firsts, np.repeat(a[::8], 8))


def shuffle_five_arguments(out):
    out[0] = cuda.shfl_down_sync(0xFFFFFFFF, out[0], 1, 8, 2)


def shuffle_float_width(out):
    out[0] = cuda.shfl_xor_sync(0xFFFFFFFF, out[0], 1, 8.0)


@pytest.mark.parametrize("kernel, marker, text", [
    (shuffle_five_arguments, "out[0], 1, 8, 2)",
     "cuda.shfl_down_sync() takes 3 or 4 arguments (mask, value, delta[, width]), 5 given"),
    (shuffle_float_width, "out[0], 1, 8.0)", "the width must be an integer"),
])
def test_shuffle_width_errors(kernel, marker, text):
    with pytest.raises(TypingError) as ei:
        cuda.jit(kernel)[1, 32](np.zeros(1, np.int64))
    msg = str(ei.value)
    assert f"{THIS_FILE}:{line_of(kernel, marker)}:" in msg, msg
    assert text in msg, msg


@cuda.jit
def votes(a, out):
    i = cuda.grid(1)
    p = a[i] > 0
    b = cuda.ballot_sync(0xFFFFFFFF, p)
    al = cuda.all_sync(0xFFFFFFFF, p)
    an = cuda.any_sync(0xFFFFFFFF, p)
    eq = cuda.eq_sync(0xFFFFFFFF, p)
    half = cuda.ballot_sync(0x0000FFFF, p)
    if cuda.laneid == 0:
        w = i // 32
        out[w, 0] = b
        out[w, 1] = al
        out[w, 2] = an
        out[w, 3] = eq
        out[w, 4] = half
        out[w, 5] = cuda.activemask()
        out[w, 6] = cuda.popc(b)
    out[i // 32, 7 + cuda.laneid % 2] = cuda.lanemask_lt()


def test_ballot_and_votes():
    a = np.zeros(128, np.int32)
    a[3] = 1                 # warp 0: one lane
    a[32:64] = 1             # warp 1: all lanes
    a[64 + 17] = 1           # warp 2: one lane outside the low half
    out = np.zeros((4, 9), np.int64)
    votes[1, 128](a, out)
    for w in range(4):
        bits = a[32 * w:32 * w + 32] > 0
        ballot = sum(1 << k for k in range(32) if bits[k])
        assert out[w, 0] == ballot
        assert out[w, 1] == int(bits.all())
        assert out[w, 2] == int(bits.any())
        assert out[w, 3] == int(bits.all() or not bits.any())
        assert out[w, 4] == ballot & 0xFFFF
        assert out[w, 5] == 0xFFFFFFFF
        assert out[w, 6] == bin(ballot).count("1")
        assert out[w, 7] == (1 << 30) - 1 and out[w, 8] == (1 << 31) - 1


@cuda.jit
def first_warp_reduce(x, out):
    sm = cuda.shared.array(128, float32)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    sm[tid] = x[i] if i < x.size else float32(0)
    cuda.syncthreads()
    s = 64
    while s > 16:
        if tid < s:
            sm[tid] += sm[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid < 32:          # warp-uniform branch around shuffles
        v = sm[tid] + sm[tid + 16] if tid < 16 else float32(0)
        off = 8
        while off > 0:
            v += cuda.shfl_down_sync(0xFFFFFFFF, v, off)
            off //= 2
        if tid == 0:
            cuda.atomic.add(out, 0, v)


def test_shuffles_in_a_warp_uniform_branch(rng):
    x = rng.random(1000).astype(np.float32)
    out = np.zeros(1, np.float32)
    first_warp_reduce[8, 128](x, out)
    np.testing.assert_allclose(out[0], x.sum(dtype=np.float64), rtol=1e-5)


@cuda.jit
def bit_ops_fences(a, out):
    i = cuda.grid(1)
    v = a[i]
    cuda.threadfence_block()
    cuda.threadfence()
    cuda.threadfence_system()
    cuda.syncwarp(0xFFFFFFFF)
    out[i, 0] = cuda.popc(v)
    out[i, 1] = cuda.brev(v)
    out[i, 2] = cuda.clz(v)
    out[i, 3] = cuda.ffs(v)
    out[i, 4] = cuda.fma(v, 3, 1)
    out[i, 5] = int32(cuda.cbrt(float32(v)) * 1000)


def test_bit_operations_fma_cbrt_and_fences():
    a = np.array([0, 1, 8, 12345, 2 ** 30 + 7, 64, 27, 1000], np.uint32)
    out = np.zeros((8, 6), np.int64)
    bit_ops_fences[1, 8](a, out)
    for k, v in enumerate(a.tolist()):
        assert out[k, 0] == bin(v).count("1")
        assert out[k, 1] == int(f"{v:032b}"[::-1], 2)
        assert out[k, 2] == 32 - v.bit_length()
        assert out[k, 3] == ((v & -v).bit_length() if v else 0)
        assert out[k, 4] == v * 3 + 1
        assert abs(out[k, 5] - int(np.float32(v) ** np.float32(1 / 3) * 1000)) <= 1


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def barrier_under_thread_condition(out):
    if cuda.threadIdx.x < 16:
        cuda.syncthreads()
    out[0] = 1


def barrier_loop_thread_count(out):
    n = cuda.threadIdx.x + 1
    for k in range(n):
        cuda.syncthreads()
    out[0] = 1


def barrier_in_thread_while(out):
    i = cuda.threadIdx.x
    while i < 48:
        cuda.syncthreads()
        i += 32


def break_on_thread_condition(out):
    for k in range(4):
        cuda.syncthreads()
        if cuda.laneid == 3:
            break


@pytest.mark.parametrize("kernel, marker, text", [
    (barrier_under_thread_condition, "if cuda.threadIdx.x < 16", "depends on the thread index"),
    (barrier_loop_thread_count, "for k in range(n)", "through variable 'n'"),
    (barrier_in_thread_while, "while i < 48", "through variable 'i'"),
    (break_on_thread_condition, "if cuda.laneid == 3", "`break`, `continue` or `return` out"),
])
def test_barrier_under_thread_dependent_condition_is_a_compile_error(kernel_device, kernel,
                                                                    marker, text):
    if kernel_device != "cpu":
        pytest.skip("a GPU compiles it (and hangs or misbehaves at run time)")
    with pytest.raises(TypingError) as ei:
        cuda.jit(kernel)[1, 32](np.zeros(1, np.int32))
    msg = str(ei.value)
    assert f"{THIS_FILE}:{line_of(kernel, marker)}:" in msg, msg
    assert text in msg and ("cuda.syncthreads()" in msg or "break" in msg)


@cuda.jit
def guarded_reverse(a, out):
    sh = cuda.shared.array(64, np.int32)
    tid = cuda.threadIdx.x
    n = a.size
    if tid < n:                  # numba's sum example: not every thread takes it
        sh[tid] = a[tid]
        cuda.syncthreads()       # then only those that took the branch meet here
        out[tid] = sh[n - 1 - tid] + cuda.syncthreads_count(1) * 1000


@cuda.jit
def strided_partial_sums(a, out):
    sh = cuda.shared.array(32, np.int64)
    tid = cuda.threadIdx.x
    sh[tid] = 0
    i = tid
    while i < a.size:            # threads loop different numbers of times
        sh[tid] += a[i]
        cuda.syncthreads()       # the threads still looping meet here
        i += cuda.blockDim.x
    out[tid] = sh[tid]


def test_barriers_under_thread_dependent_conditions_count_the_threads_inside(kernel_device):
    """A barrier under `if tid < n` or in a loop whose trip count depends on
    the thread: undefined on a GPU unless every thread agrees (numba's sum
    example relies on it); on the CPU device each thread follows its own
    path and the barrier waits for the threads on that path."""
    if kernel_device != "cpu":
        pytest.skip("undefined behaviour on a GPU when the threads disagree")
    a = np.arange(40, dtype=np.int32) * 3
    out = np.full(64, -1, np.int32)
    guarded_reverse[1, 64](a, out)
    np.testing.assert_array_equal(out[:40], a[::-1] + 40 * 1000)
    assert (out[40:] == -1).all()
    b = np.arange(100, dtype=np.int64) ** 2
    sums = np.zeros(32, np.int64)
    strided_partial_sums[1, 32](b, sums)
    np.testing.assert_array_equal(sums, [b[t::32].sum() for t in range(32)])
    # with checks on, the disagreement is an error naming a thread that left
    with pytest.raises(RuntimeError, match=r"thread \((4\d|5\d|6[0-3]), 0, 0\) of block "
                       r"\(0, 0, 0\) disagrees"):
        cuda.jit(debug=True)(guarded_reverse.py_func)[1, 64](a, out)
    with pytest.raises(RuntimeError, match=re.escape(
            f"{THIS_FILE}:{line_of(strided_partial_sums, 'while i < a.size')}:")):
        cuda.jit(debug=True)(strided_partial_sums.py_func)[1, 32](b, sums)


def diverging_at_run_time(counter, out):
    ticket = cuda.atomic.add(counter, 0, 1)   # not provably thread-dependent
    if ticket < 5:
        cuda.syncthreads()
    out[cuda.threadIdx.x] = ticket


def test_divergent_barrier_detected_at_run_time_with_debug(kernel_device):
    if kernel_device != "cpu":
        pytest.skip("undefined behaviour on a GPU")
    k = cuda.jit(debug=True)(diverging_at_run_time)
    with pytest.raises(RuntimeError) as ei:
        k[2, 32](np.zeros(1, np.int32), np.zeros(32, np.int32))
    msg = str(ei.value)
    assert f"{THIS_FILE}:{line_of(diverging_at_run_time, 'if ticket < 5')}" in msg, msg
    m = re.search(r"thread \((\d+), 0, 0\) of block \(([01]), 0, 0\) disagrees", msg)
    assert m and 5 <= int(m.group(1)) < 32, msg
    # without checks it still finishes (the first live thread decides)
    cuda.jit(diverging_at_run_time)[2, 32](np.zeros(1, np.int32), np.zeros(32, np.int32))


def diverging_range(counter, out):
    n = cuda.atomic.add(counter, 0, 1) % 3
    for k in range(n):
        cuda.syncthreads()
    out[cuda.threadIdx.x] = n


def test_divergent_loop_range_detected_at_run_time_with_boundscheck(kernel_device):
    if kernel_device != "cpu":
        pytest.skip("undefined behaviour on a GPU")
    k = cuda.jit(boundscheck=True)(diverging_range)
    with pytest.raises(RuntimeError, match=re.escape(
            f"{THIS_FILE}:{line_of(diverging_range, 'for k in range(n)')}:")) as ei:
        k[1, 8](np.zeros(1, np.int32), np.zeros(8, np.int32))
    assert re.search(r"thread \([1-7], 0, 0\) of block \(0, 0, 0\) disagrees", str(ei.value))


@cuda.jit(device=True)
def warp_reduce(v):
    off = 16
    while off > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, off)
        off //= 2
    return v


@cuda.jit(device=True)
def block_sum(v, sh):
    t = cuda.threadIdx.x
    s = warp_reduce(v)
    if t % 32 == 0:
        sh[t // 32] = s
    cuda.syncthreads()
    total = 0.0
    if t < 32:
        total = sh[t] if t < cuda.blockDim.x // 32 else 0.0
        total = warp_reduce(total)
    return total


@cuda.jit(device=True)
def stage(x, out):
    tile = cuda.shared.array(256, np.float64)
    t = cuda.threadIdx.x
    tile[t] = x
    cuda.syncthreads()
    out[cuda.grid(1)] = tile[cuda.blockDim.x - 1 - t]


@cuda.jit
def sums_through_device_functions(x, out, rev):
    sh = cuda.shared.array(32, np.float64)
    i = cuda.grid(1)
    r = block_sum(x[i], sh) * 2.0
    stage(x[i], rev)
    if cuda.threadIdx.x == 0:
        out[cuda.blockIdx.x] = r


def test_device_functions_with_barriers_and_shuffles(rng):
    x = rng.random(4 * 256)
    out = np.zeros(4)
    rev = np.zeros_like(x)
    sums_through_device_functions[4, 256](x, out, rev)
    np.testing.assert_allclose(out, 2 * x.reshape(4, 256).sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(rev, x.reshape(4, 256)[:, ::-1].ravel())


@cuda.jit(device=True)
def returns_early(x):
    if x > 0:
        return x
    cuda.syncthreads()
    return -x


def calls_returns_early(out):
    out[0] = returns_early(out[1])


@cuda.jit(device=True)
def vote(x):
    return cuda.any_sync(0xFFFFFFFF, x > 0)


def vote_in_while(out):
    i = 0
    while vote(out[0] - i):
        i += 1
    out[1] = i


@pytest.mark.parametrize("kernel, marker, text", [
    (calls_returns_early, "returns_early(out[1])", "returns before its end"),
    (vote_in_while, "vote(out[0] - i)", "in a `while` condition"),
])
def test_device_functions_the_cpu_device_cannot_inline(kernel_device, kernel, marker, text):
    if kernel_device != "cpu":
        pytest.skip("GPUs run these")
    with pytest.raises(UnsupportedError, match=re.escape(text)) as ei:
        cuda.jit(kernel)[1, 1](np.zeros(2, np.int64))
    assert f"{THIS_FILE}:{line_of(kernel, marker)}:" in str(ei.value)


@cuda.jit
def matches(a, any_out, all_out, all_ok, any32):
    i = cuda.grid(1)
    any_out[i] = cuda.match_any_sync(0xFFFFFFFF, a[i])
    m, ok = cuda.match_all_sync(0xFFFFFFFF, a[i] // 1000)
    all_out[i] = m
    all_ok[i] = ok
    m32, ok32 = cuda.match_all_sync(0xFFFFFFFF, float32(a[i]))
    any32[i] = cuda.match_any_sync(0xFFFFFFFF, int32(a[i] % 2)) + m32 + ok32


def test_match_any_and_match_all():
    a = (np.arange(64) % 3).astype(np.int64)
    a[32:] = 7 + 1000 * 5          # warp 1: every lane the same value
    any_out = np.zeros(64, np.uint32)
    all_out = np.zeros(64, np.uint32)
    all_ok = np.zeros(64, np.bool_)
    any32 = np.zeros(64, np.int64)
    matches[1, 64](a, any_out, all_out, all_ok, any32)
    for i in range(64):
        w = i // 32
        lanes = a[32 * w:32 * w + 32]
        assert any_out[i] == sum(1 << k for k in range(32) if lanes[k] == a[i])
        same = bool((lanes // 1000 == lanes[0] // 1000).all())
        assert all_ok[i] == same
        assert all_out[i] == (0xFFFFFFFF if same else 0)
        odd = sum(1 << k for k in range(32) if lanes[k] % 2 == a[i] % 2)
        same32 = bool((lanes == lanes[0]).all())
        assert any32[i] == (odd + (0xFFFFFFFF if same32 else 0) + same32) % 2**32  # uint32


# ---------------------------------------------------------------------------
# control flow around barriers and collectives
# ---------------------------------------------------------------------------

@cuda.jit
def reduce_while_true(a, out):
    sh = cuda.shared.array(64, np.int64)
    tid = cuda.threadIdx.x
    sh[tid] = a[cuda.grid(1)]
    s = cuda.blockDim.x
    while True:
        s //= 2
        if s == 0:
            break            # uniform: the whole block leaves together
        cuda.syncthreads()
        if tid < s:
            sh[tid] += sh[tid + s]
    cuda.syncthreads()
    out[cuda.grid(1)] = sh[0]


def test_uniform_break_out_of_a_loop_with_a_barrier(rng):
    a = rng.integers(-50, 50, 3 * 64)
    out = np.zeros_like(a)
    reduce_while_true[3, 64](a, out)
    np.testing.assert_array_equal(out, np.repeat(a.reshape(3, 64).sum(axis=1), 64))


@cuda.jit
def countdown(x, steps):
    v = x[cuda.grid(1)]
    n = 0
    while cuda.syncthreads_or(v > 0):    # a collective in the loop condition
        v -= 1
        n += 1
    steps[cuda.grid(1)] = n


def test_syncthreads_or_as_a_loop_condition(rng):
    x = rng.integers(-3, 20, 2 * 32)
    steps = np.zeros_like(x)
    countdown[2, 32](x, steps)
    want = np.repeat(np.maximum(x.reshape(2, 32).max(axis=1), 0), 32)
    np.testing.assert_array_equal(steps, want)


@cuda.jit
def warp_loop(x, out):
    i = cuda.grid(1)
    v = x[i]
    total = 0
    while cuda.any_sync(0xFFFFFFFF, v > 0):  # warps loop different numbers of times
        total += cuda.popc(cuda.ballot_sync(0xFFFFFFFF, v > 0))
        v -= 1
    out[i] = total


def test_warp_divergent_loop_with_votes(rng):
    x = rng.integers(0, 9, 4 * 32)
    x[64:96] = 0                    # one warp never loops
    out = np.zeros_like(x)
    warp_loop[1, 128](x, out)
    per_warp = np.maximum(x.reshape(4, 32), 0).sum(axis=1)
    np.testing.assert_array_equal(out, np.repeat(per_warp, 32))


@cuda.jit
def nested_collectives(a, out, flags):
    i = cuda.grid(1)
    out[i] = cuda.shfl_sync(0xFFFFFFFF, cuda.shfl_down_sync(0xFFFFFFFF, a[i], 1), 0)
    if cuda.any_sync(0xFFFFFFFF, a[i] == 7):
        flags[i] = 1


def test_nested_collectives_and_a_vote_in_a_condition():
    a = np.arange(64, dtype=np.int64)
    out = np.zeros(64, np.int64)
    flags = np.zeros(64, np.int64)
    nested_collectives[1, 64](a, out, flags)
    np.testing.assert_array_equal(out, np.repeat([1, 33], 32))
    np.testing.assert_array_equal(flags, np.repeat([1, 0], 32))


@cuda.jit
def local_across_barrier(a, out):
    t = cuda.threadIdx.x
    loc = cuda.local.array(3, np.float64)
    ok = a[t] > 0.5
    for k in range(3):
        loc[k] = a[t] * (k + 1)
    cuda.syncthreads()
    out[t] = loc[0] + loc[1] + loc[2] + (100.0 if ok else 0.0)


def test_local_arrays_and_bools_live_across_a_barrier(rng):
    a = rng.random(48)
    out = np.zeros(48)
    local_across_barrier[1, 48](a, out)
    np.testing.assert_allclose(out, 6 * a + np.where(a > 0.5, 100.0, 0.0))


@cuda.jit
def uniform_order(out):
    t = cuda.threadIdx.x
    s = cuda.blockDim.x          # the same in every thread: one value per block
    a = s + t                    # reads s before ...
    s = s * 2                    # ... it doubles ...
    b = s + t                    # ... and after
    cuda.syncthreads()
    s += cuda.blockIdx.x
    out[cuda.grid(1)] = a * 1000000 + b * 1000 + s


def test_block_uniform_variables_keep_statement_order():
    out = np.zeros(3 * 40, np.int64)
    uniform_order[3, 40](out)
    t = np.tile(np.arange(40), 3)
    blk = np.repeat(np.arange(3), 40)
    np.testing.assert_array_equal(out, (40 + t) * 1000000 + (80 + t) * 1000 + 80 + blk)
