"""The CPU device's range guard (devices/cpu/lower_host.c find_grid_guard): a kernel that
opens with `i = cuda.grid(1)` and `if i < n:` (or `if i >= n: return`)
with n the same for every thread runs its thread loop only over the
threads that pass, without the test in the loop. Each kernel here is
checked against NumPy for sizes around the block edges, on the CPU device
and (gpu-marked) on a GPU; one test checks the point of it: the guarded
saxpy vectorises without masked stores."""

import numpy as np
import pytest

from ember import cuda


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def early_return(x, out, n):
    i = cuda.grid(1)
    if i >= n:
        return
    v = x[i] * 2
    out[i] = v + 1


@cuda.jit
def reversed_bound(x, out):
    i = cuda.grid(1)
    if x.shape[0] // 2 > i:
        out[i] = -x[i]


@cuda.jit
def not_the_pattern(x, out, counter):
    # work after the if: every thread runs it, so no guard may drop threads
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] + 1.0
    cuda.atomic.add(counter, 0, 1)


def launch_sizes():
    # sizes around the block edge, and grids larger and smaller than n
    for n in (0, 1, 63, 64, 65, 200, 1000):
        for tpb in (1, 32, 64):
            yield n, tpb


@pytest.mark.parametrize("n,tpb", list(launch_sizes()))
def test_guarded_saxpy(kernel_device, n, tpb):
    x = np.arange(n, dtype=np.float32) * 0.5
    y = np.ones(n, np.float32)
    out = np.full(n, -7.0, np.float32)
    blocks = max(1, (n + tpb - 1) // tpb) + 2      # extra blocks: all guarded off
    saxpy[blocks, tpb](np.float32(3.0), x, y, out)
    np.testing.assert_array_equal(out, np.float32(3.0) * x + y)


@pytest.mark.parametrize("n", [-5, 0, 1, 77, 128, 500])
def test_early_return_with_a_runtime_bound(kernel_device, n):
    size = 320   # the threads launched: a bound past it must not write past the array
    x = np.arange(size, dtype=np.int64)
    out = np.full(size, -1, np.int64)
    early_return[5, 64](x, out, np.int64(n))   # 320 threads
    want = np.full(size, -1, np.int64)
    k = max(0, min(n, size))
    want[:k] = x[:k] * 2 + 1
    np.testing.assert_array_equal(out, want)


def test_two_dimensional_blocks_with_a_one_dimensional_guard(kernel_device):
    # every (tx, ty) with the same tx passes or fails together
    n = 50
    x = np.arange(n, dtype=np.float64)
    out = np.zeros(n)
    reversed_bound[4, (8, 3)](x, out)
    want = np.zeros(n)
    want[:n // 2] = -x[:n // 2]
    np.testing.assert_array_equal(out, want)


def test_statements_after_the_if_still_run_for_every_thread(kernel_device):
    n = 70
    x = np.arange(n, dtype=np.float64)
    out = np.zeros(n)
    counter = np.zeros(1, np.int64)
    not_the_pattern[3, 32](x, out, counter)
    np.testing.assert_array_equal(out, x + 1.0)
    assert counter[0] == 96


def test_the_guarded_loop_has_no_masked_stores():
    # the reason for the guard: without it LLVM if-converts the test into
    # masked loads and stores, about 3x slower than a plain loop
    n = 4096
    x = np.ones(n, np.float32)
    saxpy[n // 256, 256](np.float32(2.0), x, x, np.zeros(n, np.float32))
    sig = [s for s in saxpy.signatures if "float32" in str(s)][0] \
        if hasattr(saxpy, "signatures") else None
    ir = saxpy.inspect_llvm(sig) if sig is not None else saxpy.inspect_llvm()
    text = ir if isinstance(ir, str) else "\n".join(ir.values())
    assert "x float>" in text              # vectorised
    assert "llvm.masked.store" not in text and "llvm.masked.load" not in text
