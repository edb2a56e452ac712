"""Compile options of cuda.jit: fastmath (bounds checking is tested with
views in test_views_local_print.py)."""

import numpy as np
import pytest

from ember import cuda


@pytest.fixture(autouse=True)
def _cpu(cpu_device):
    yield


def sum_of_squares(a, out):
    s = np.float32(0)
    for i in range(a.size):
        s += a[i] * a[i]
    out[0] = s


def test_fastmath_flags_and_vectorised_reduction():
    exact = cuda.jit(sum_of_squares)
    fast = cuda.jit(fastmath=True)(sum_of_squares)
    a = np.random.default_rng(5).random(1000).astype(np.float32)
    want = float((a.astype(np.float64) ** 2).sum())
    for k in (exact, fast):
        out = np.zeros(1, np.float32)
        k[1, 1](a, out)
        assert out[0] == pytest.approx(want, rel=1e-5)
    ir_exact = exact.inspect_llvm(exact.signatures[0])
    ir_fast = fast.inspect_llvm(fast.signatures[0])
    assert " fast " not in ir_exact
    assert "fadd fast" in ir_fast or "fadd reassoc" in ir_fast
    # reassociation lets LLVM vectorise the float reduction; without it, it may not
    assert "x float>" in ir_fast


def test_fastmath_keeps_math_calls_working():
    @cuda.jit(fastmath=True)
    def k(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = np.sqrt(x[i]) + np.sin(x[i]) * 2.0 - x[i] / 3.0

    x = np.linspace(0.1, 5, 64)
    out = np.zeros_like(x)
    k[2, 32](x, out)
    np.testing.assert_allclose(out, np.sqrt(x) + np.sin(x) * 2.0 - x / 3.0, rtol=1e-12)
