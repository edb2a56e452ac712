"""Dispatcher.specialize (numba's): a dispatcher compiled for given argument
types (values or type objects) and only those, cached per types; a
specialised or eagerly compiled dispatcher cannot be specialised again.
Spec: numba/cuda/tests/cudapy/test_dispatcher.py and test_constmem.py."""

import numpy as np
import pytest

from ember import cuda
from ember.types import float32, int32


def test_specialize_by_values_and_types(cpu_device):
    @cuda.jit
    def scale(x, s):
        i = cuda.grid(1)
        if i < x.size:
            x[i] *= s

    x = np.arange(8, dtype=np.float32)
    k = scale.specialize(x, np.float32(2))
    assert scale.specialize(float32[::1], float32) is k
    assert len(scale.specializations) == 1
    k[1, 8](x, np.float32(2))
    np.testing.assert_array_equal(x, np.arange(8, dtype=np.float32) * 2)
    with pytest.raises(TypeError, match="No matching definition"):
        k[1, 8](np.zeros(8, np.int32), 2)
    ki = scale.specialize(int32[::1], int32)
    assert ki is not k and len(scale.specializations) == 2


def test_no_double_specialize(cpu_device):
    @cuda.jit("void(float32[::1])")
    def f(x):
        pass

    @cuda.jit
    def g(x):
        pass

    with pytest.raises(RuntimeError, match="Dispatcher already specialized"):
        f.specialize(float32[::1])
    with pytest.raises(RuntimeError, match="Dispatcher already specialized"):
        g.specialize(int32[::1]).specialize(float32[::1])


def test_specialize_records(cpu_device):
    rec = np.dtype([("x", np.float64), ("n", np.int32)], align=True)

    @cuda.jit
    def k(a, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = a[i].x * a[i].n

    a = np.zeros(4, rec)
    a["x"], a["n"] = [0.5, 1.5, 2.5, 3.5], [1, 2, 3, 4]
    out = np.zeros(4)
    k.specialize(a, out)[1, 4](a, out)
    np.testing.assert_array_equal(out, a["x"] * a["n"])
