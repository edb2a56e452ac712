"""The intrinsic table (core/intrinsics.def): every intrinsic is declared
once and each stage reads it. cuda.nanosleep was added through the table
alone (one line there, its lowering in lower_host.c and lower_nvvm.c);
these tests show it works end to end on the CPU device, in PTX accepted by
ptxas, and with clear errors."""

import re

import numpy as np
import pytest

import ember
from ember import _ember, cuda, int32, void
from ember.errors import TypingError, UnsupportedError

from conftest import PTX_TARGETS, check_ptx


def test_the_table_reaches_the_front_end():
    table = _ember.intrinsics()
    assert table["nanosleep"] == ("cuda.nanosleep", 1, 1, "thread")
    assert table["shfl_sync"] == ("cuda.shfl_sync", 3, 4, "warp")
    assert table["syncthreads_count"][3] == "block"
    assert table["activemask"][3] == "warp_mask"
    assert table["random_seed"][0] == "np.random.seed"
    # every cuda.* intrinsic has a host-side stub (from numba.cuda import ... works)
    for name, (label, *_rest) in table.items():
        if label == f"cuda.{name}":
            assert getattr(cuda, name) is not None, name
    with pytest.raises(TypeError, match="only be used inside a kernel"):
        cuda.nanosleep(10)


@cuda.jit
def sleepy_copy(x, out):
    i = cuda.grid(1)
    if i < x.size:
        cuda.nanosleep(100 + i)
        out[i] = x[i] * 2 + cuda.warpsize - cuda.laneid


def test_nanosleep_runs_on_the_cpu(cpu_device):
    x = np.arange(100, dtype=np.int32)
    out = np.zeros_like(x)
    sleepy_copy[4, 32](x, out)
    lanes = np.arange(100) % 32
    np.testing.assert_array_equal(out, x * 2 + 32 - lanes)


@pytest.mark.parametrize("cc", PTX_TARGETS)
def test_nanosleep_in_ptx(nvvm, ptxas, cc):
    ptx, _ = cuda.compile_ptx(sleepy_copy.py_func, void(int32[::1], int32[::1]), cc=cc)
    assert re.search(r"nanosleep\.u32\s+%r\d+;", ptx)
    assert "st.global" in ptx  # the code after the sleep is there too
    check_ptx(ptx, cc)


def sleep_float(out):
    cuda.nanosleep(1.5)
    out[0] = 1


def sleep_twice(out):
    cuda.nanosleep(1, 2)


def sleep_value(out):
    out[0] = cuda.nanosleep(1)


@pytest.mark.parametrize("fn, message", [
    (sleep_float, r"cuda.nanosleep\(\) needs integers, not float64"),
    (sleep_twice, r"cuda.nanosleep\(\) takes 1 argument, 2 given"),
])
def test_nanosleep_errors(cpu_device, fn, message):
    k = cuda.jit(fn)
    with pytest.raises(TypingError, match=message) as e:
        k[1, 1](np.zeros(1, np.int32))
    assert "test_intrinsic_table.py" in str(e.value)


def test_nanosleep_has_no_value(cpu_device):
    k = cuda.jit(sleep_value)
    with pytest.raises((TypingError, UnsupportedError)):
        k[1, 1](np.zeros(1, np.int32))


def test_nanosleep_is_for_kernels():
    @ember.jit
    def f(n):
        cuda.nanosleep(n)
        return n

    with pytest.raises(UnsupportedError, match="cuda.nanosleep is not available in an "
                                               "ember.jit function"):
        f(3)
