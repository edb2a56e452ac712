"""The CUDA target without a GPU: cuda.compile_ptx, inspect_asm, and PTX for
what only the GPU runs today (shared memory, barriers, warp collectives),
each assembled by ptxas for every PTX_TARGETS compute capability.

Every kernel the rest of the suite compiles for the cpu device goes through
libNVVM and ptxas as well (conftest.py, _kernels_also_to_ptx); the kernels
here are the ones the CPU device refuses, and the API around them.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import cuda, float32, float64, int32, int64, uint32, void
from ember.errors import TypingError, UnsupportedError

from conftest import PTX_TARGETS, ROOT, check_ptx


def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


SAXPY_SIG = void(float32, float32[::1], float32[::1], float32[::1])


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_compile_ptx(nvvm, ptxas, cc):
    ptx, ret = cuda.compile_ptx(saxpy, SAXPY_SIG, cc=cc)
    assert ret == void
    assert f".target sm_{cc[0]}{cc[1]}" in ptx
    assert len(re.findall(r"\.entry\s+ember_saxpy_\d+", ptx)) == 1
    # the arguments are the packed buffer's 8-byte slots: a, x (3), y (3), out (3)
    assert len(re.findall(r"\.param \.u64", ptx)) == 10
    check_ptx(ptx, cc)


def test_compile_ptx_options(nvvm, ptxas):
    exact, _ = cuda.compile_ptx(saxpy, "void(float32, float32[::1], float32[::1], float32[::1])")
    fast, _ = cuda.compile_ptx(saxpy, SAXPY_SIG, fastmath=True)
    assert ".target sm_90" in exact                 # the default cc
    assert ".ftz" not in exact and ".ftz" in fast
    unopt, _ = cuda.compile_ptx(saxpy, SAXPY_SIG, opt=False)
    assert unopt != exact
    # without a GPU the current device is the CPU: PTX for (9, 0)
    cur, _ = cuda.compile_ptx_for_current_device(saxpy, SAXPY_SIG)
    assert ".target sm_90" in cur
    check_ptx(fast, 90)


def polar(rho, theta):
    return rho * np.cos(theta), rho * np.sin(theta)


def row_sum(a, i):
    s = 0.0
    for j in range(a.shape[1]):
        s += a[i, j]
    return s


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_compile_ptx_of_device_functions(nvvm, ptxas, cc):
    ptx, ret = cuda.compile_ptx(polar, "UniTuple(float32, 2)(float32, float32)", device=True,
                                cc=cc)
    assert str(ret) == "UniTuple(float32, 2)" or "float32" in str(ret)
    assert re.search(r"\.visible \.func .*polar", ptx) and ".entry" not in ptx
    check_ptx(ptx, cc)
    # without a return type: the inferred one
    ptx2, ret2 = cuda.compile_ptx(row_sum, (float64[:, ::1], int64), device=True, cc=cc)
    assert str(ret2) == "float64"
    check_ptx(ptx2, cc)


def test_compile_ptx_errors(nvvm):
    with pytest.raises(TypingError, match="does not convert to int32 of the signature"):
        cuda.compile_ptx(polar, "int32(float32, float32)", device=True)
    with pytest.raises(TypingError, match="kernels return nothing"):
        cuda.compile_ptx(saxpy, "float32(float32, float32[::1], float32[::1], float32[::1])")

    def bad(x):
        x[0] = x

    with pytest.raises(TypingError, match=r"cannot store float32\[::1\] into an array"):
        cuda.compile_ptx(bad, void(float32[::1]))


def test_inspect_asm(nvvm, ptxas):
    k = cuda.jit(saxpy)
    x = np.ones(8, np.float32)
    k[1, 8](np.float32(2), x, x, x)
    asm = k.inspect_asm()
    assert list(asm) == k.signatures
    only = k.inspect_asm(k.signatures[0], cc=(8, 0))
    assert ".target sm_80" in only
    check_ptx(only, 80)


def test_no_libnvvm_is_a_clear_error(tmp_path):
    script = tmp_path / "k.py"
    script.write_text("from ember import cuda, void, float32\n"
                      "def k(x):\n"
                      "    x[0] = 1\n"
                      "try:\n"
                      "    cuda.compile_ptx(k, void(float32[::1]))\n"
                      "except cuda.CudaSupportError as e:\n"
                      "    print('CudaSupportError', e)\n")
    env = dict(os.environ, EMBER_NVVM=str(tmp_path / "nowhere"), PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=120).stdout
    assert out.startswith("CudaSupportError") and "nowhere" in out


# ---------------------------------------------------------------------------
# Block-level operations: PTX, and the same kernels on the CPU device
# ---------------------------------------------------------------------------

def block_sum(x, out):
    sm = cuda.shared.array(256, float32)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    sm[tid] = x[i] if i < x.size else float32(0)
    cuda.syncthreads()
    s = 128
    while s > 16:
        if tid < s:
            sm[tid] += sm[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid < 32:
        v = sm[tid] + sm[tid + 16]
        off = 8
        while off > 0:
            v += cuda.shfl_down_sync(0xFFFFFFFF, v, off)
            off //= 2
        if tid == 0:
            cuda.atomic.add(out, 0, v)


def warp_ops(a, out):
    i = cuda.grid(1)
    lane = cuda.laneid
    n = cuda.syncthreads_count(i < a.size)
    every = cuda.syncthreads_and(i >= 0)
    some = cuda.syncthreads_or(i == 3)
    ballot = cuda.ballot_sync(0xFFFFFFFF, lane % 2 == 0)
    all_ = cuda.all_sync(0xFFFFFFFF, lane >= 0)
    any_ = cuda.any_sync(0xFFFFFFFF, lane == 5)
    same = cuda.eq_sync(0xFFFFFFFF, lane < 64)
    d = cuda.shfl_xor_sync(0xFFFFFFFF, a[i % a.size], 1)            # float64: two halves
    e = cuda.shfl_sync(0xFFFFFFFF, int64(i), 0)
    f = cuda.shfl_up_sync(0xFFFFFFFF, uint32(lane), 1)
    cuda.syncwarp()
    cuda.syncwarp(0xFFFF)
    mask = cuda.activemask() & cuda.lanemask_lt()
    if i < out.size:
        out[i] = n + every + some + ballot + all_ + any_ + same + d + e + f + mask


def dynamic_shared(out):
    buf = cuda.shared.array(0, int32)
    mat = cuda.shared.array((16, 17), float64)
    t = cuda.threadIdx.x
    if t < buf.size:
        buf[t] = t
    mat[t % 16, t % 17] = t
    cuda.syncthreads()
    out[t] = buf[0] + buf.size + mat[0, 0]


@pytest.mark.parametrize("kernel, sig, marks", [
    (block_sum, void(float32[::1], float32[::1]),
     [r"\.shared \.align 16 \.b8 \w+\[1024\]", r"bar\.sync", r"shfl\.sync\.down", r"red\.|atom\."]),
    (warp_ops, void(float64[::1], float64[::1]),
     [r"bar\.red\.popc", r"bar\.red\.and", r"bar\.red\.or", r"vote\.sync\.ballot",
      r"vote\.sync\.all", r"vote\.sync\.any", r"vote\.sync\.uni", r"shfl\.sync\.bfly",
      r"shfl\.sync\.idx", r"shfl\.sync\.up", r"bar\.warp\.sync", r"activemask",
      r"%lanemask_lt"]),
    (dynamic_shared, void(int32[::1]),
     [r"\.extern \.shared \.align 16 \.b8 \w+\[\]", r"%dynamic_smem_size"]),
])
@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_block_level_operations_compile_to_ptx(nvvm, ptxas, kernel, sig, marks, cc):
    ptx, _ = cuda.compile_ptx(kernel, sig, cc=cc)
    for m in marks:
        assert re.search(m, ptx), f"{m} not in the PTX of {kernel.__name__}"
    check_ptx(ptx, cc)


def test_cpu_device_runs_the_block_level_kernels(cpu_device):
    """The same kernels on the CPU device (barrier fission), against NumPy."""
    rng = np.random.default_rng(3)
    x = rng.random(1000).astype(np.float32)
    out = np.zeros(1, np.float32)
    cuda.jit(block_sum)[4, 256](x, out)
    np.testing.assert_allclose(out[0], x.sum(dtype=np.float64), rtol=1e-5)

    a = rng.random(100)
    out = np.zeros(128)
    cuda.jit(warp_ops)[2, 64](a, out)
    i = np.arange(128)
    lane, blk = i % 32, i // 64
    want = (np.minimum(100 - blk * 64, 64)            # syncthreads_count(i < a.size)
            + 1 + (blk == 0)                          # syncthreads_and, syncthreads_or(i == 3)
            + 0x55555555 + 1 + 1 + 1                  # ballot, all, any, eq
            + a[(i ^ 1) % 100] + (i // 32) * 32       # shfl_xor, shfl_sync(i, 0)
            + np.where(lane > 0, lane - 1, lane)      # shfl_up(lane, 1)
            + (1 << lane) - 1)                        # activemask & lanemask_lt
    np.testing.assert_allclose(out, want)

    out = np.zeros(64, np.int32)
    cuda.jit(dynamic_shared)[1, 64, 0, 256](out)
    assert (out == 256 // 4).all()                    # buf[0] 0, buf.size 64, mat[0, 0] 0


def shuffles_with_widths(a, width, out):
    i = cuda.grid(1)
    out[i] = (cuda.shfl_xor_sync(0xFFFFFFFF, a[i], 1, 8) + cuda.shfl_up_sync(0xFFFFFFFF, a[i], 1, 16)
              + cuda.shfl_down_sync(0xFFFFFFFF, a[i], 2, width))


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_shuffle_width_is_shfl_sync_c_operand(nvvm, ptxas, cc):
    # c = ((32 - width) << 8) | clamp: 0x181f for xor width 8, 0x1000 for up width 16
    # (clamp 0), a register for a run-time width
    ptx, _ = cuda.compile_ptx(shuffles_with_widths, void(int32[::1], int32, int32[::1]), cc=cc)
    assert re.search(r"shfl\.sync\.bfly\.b32\s+%r\d+, %r\d+, 1, 6175, -1;", ptx), ptx
    assert re.search(r"shfl\.sync\.up\.b32\s+%r\d+, %r\d+, 1, 4096, -1;", ptx), ptx
    assert re.search(r"shfl\.sync\.down\.b32\s+%r\d+, %r\d+, 2, %r\d+, -1;", ptx), ptx
    check_ptx(ptx, cc)


def shfl_bad_type(out):
    out[0] = cuda.shfl_sync(0xFFFFFFFF, 1 + 2j, 0)


def syncthreads_as_value(out):
    out[0] = cuda.syncthreads()


def shared_runtime_shape(out, n):
    s = cuda.shared.array(n, float32)
    out[0] = s[0]


@pytest.mark.parametrize("kernel, sig, exc, text", [
    (shfl_bad_type, void(float64[::1]), TypingError,
     "cuda.shfl_sync() shuffles 32- and 64-bit integers and floats, not complex128"),
    (syncthreads_as_value, void(float64[::1]), TypingError,
     "cuda.syncthreads() returns nothing"),
    (shared_runtime_shape, void(float32[::1], int64), TypingError,
     "cuda.shared.array: the shape must be a constant"),
])
def test_block_level_errors(nvvm, kernel, sig, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        cuda.compile_ptx(kernel, sig)


# ---------------------------------------------------------------------------
# What the NVVM target lowers differently from the host
# ---------------------------------------------------------------------------

@cuda.jit("int64(int64)", device=True)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def target_specifics(ai, al, af, ad, out):
    i = cuda.grid(1)
    cuda.atomic.add(ai, 0, 1)
    cuda.atomic.max(al, 0, int64(i))
    cuda.atomic.min(af, 0, float32(i))          # a compare-and-swap loop
    cuda.atomic.add(ad, 0, 1.5)                 # NVVM's float atomic
    cuda.atomic.cas(ai, 1, 0, 5)
    cuda.threadfence()
    cuda.threadfence_block()
    cuda.threadfence_system()
    loc = cuda.local.array(4, float64)
    loc[i % 4] = -ad[0]
    print("thread", i, loc[0], True)
    out[i % out.size] = fib(i % 10) + math_bits(i)


@cuda.jit(device=True)
def math_bits(i):
    x = float64(i) + 0.5
    return np.sin(x) + np.floor(x) + abs(complex(x, 1.0)) + np.power(x, 2)


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_nvvm_specifics(nvvm, ptxas, cc):
    ptx, _ = cuda.compile_ptx(target_specifics, void(int32[::1], int64[::1], float32[::1],
                                                     float64[::1], float64[::1]), cc=cc)
    for m in [r"atom\.(global\.)?add\.u32|red\.(global\.)?add\.u32", r"atom\.(global\.)?max\.s64",
              r"atom\.(global\.)?cas\.b32", r"(atom|red)\.(global\.)?add\.f64",
              r"membar\.gl", r"membar\.cta", r"membar\.sys", r"vprintf", r"\.func .*fib",
              r"\.local"]:
        assert re.search(m, ptx), f"{m} not in the PTX"
    assert "ember_fault" in ptx                 # recursion depth guard's fault record
    check_ptx(ptx, cc)


def test_boundscheck_ptx_records_sites(nvvm, ptxas):
    def copy(src, dst):
        i = cuda.grid(1)
        dst[i] = src[i]

    d = cuda.jit(boundscheck=True)(copy)
    k = d.compile_cuda(void(float32[::1], float32[::1]), (9, 0))
    assert "ember_fault" in k.ptx
    check_ptx(k.ptx, 90)


def test_lineinfo_puts_source_lines_in_the_ptx(nvvm, ptxas):
    first = saxpy.__code__.co_firstlineno
    plain, _ = cuda.compile_ptx(saxpy, SAXPY_SIG)
    lined, _ = cuda.compile_ptx(saxpy, SAXPY_SIG, lineinfo=True)
    assert ".loc" not in plain
    files = re.findall(r'\.file\s+(\d+)\s+"([^"]+)"', lined)
    assert any(path.endswith("test_cuda_codegen.py") for _, path in files), files
    lines = {int(m) for m in re.findall(r"\.loc\s+\d+\s+(\d+)", lined)}
    # the body's lines: i = cuda.grid(1), the if, the store
    assert {first + 1, first + 2, first + 3} <= lines, (sorted(lines), first)
    check_ptx(lined, 90)


def match_64(a, any_out, all_out):
    i = cuda.grid(1)
    any_out[i] = cuda.match_any_sync(0xFFFFFFFF, a[i])
    m, ok = cuda.match_all_sync(0xFFFFFFFF, a[i])
    all_out[i] = m + ok


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_match_of_64_bit_values_keeps_the_kernel(nvvm, ptxas, cc):
    """The 64-bit matches are inline PTX; libNVVM misreads inline assembly in
    LLVM 14 bitcode and used to drop the rest of the kernel (an empty
    kernel). Through the support module's helpers the PTX has both matches
    and the stores."""
    ptx, _ = cuda.compile_ptx(match_64, void(int64[::1], uint32[::1], uint32[::1]), cc=cc)
    assert "match.any.sync.b64" in ptx and "match.all.sync.b64" in ptx
    assert ptx.count("st.global") >= 2
    check_ptx(ptx, cc)
