"""Arrays shared without copies: DLPack both ways (NumPy as the peer on the
cpu device), and the CUDA Array Interface (with the fake driver, since CI has
no GPU; tests marked gpu use real memory)."""

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import cuda

from conftest import ROOT


@pytest.fixture(autouse=True)
def _cpu(cpu_device):
    yield


def test_dlpack_export_to_numpy_shares_memory():
    d = cuda.to_device(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert d.__dlpack_device__() == (1, 0)
    h = np.from_dlpack(d)
    np.testing.assert_array_equal(h, np.arange(12, dtype=np.float32).reshape(3, 4))
    d[1, 2] = 100.0                                  # written through ember ...
    assert h[1, 2] == 100.0                          # ... seen by NumPy: the same memory
    v = d[::2, ::-1]
    np.testing.assert_array_equal(np.from_dlpack(v), d.copy_to_host()[::2, ::-1])
    del d, v
    gc.collect()
    assert h[1, 2] == 100.0                          # the capsule kept the memory alive


def test_dlpack_import_from_numpy_shares_memory():
    h = np.arange(20, dtype=np.int64).reshape(4, 5)[:, 1:4]
    d = cuda.from_dlpack(h)
    assert d.shape == (4, 3) and d.dtype == np.int64 and d.device.kind == "cpu"
    np.testing.assert_array_equal(d.copy_to_host(), h)
    h[0, 0] = -7
    assert d[0, 0] == -7

    @cuda.jit
    def double(a):
        i, j = cuda.grid(2)
        if i < a.shape[0] and j < a.shape[1]:
            a[i, j] *= 2

    double[(1, 1), (4, 4)](d)                        # a kernel writes NumPy's memory
    want = np.arange(20, dtype=np.int64).reshape(4, 5)[:, 1:4] * 2
    want[0, 0] = -14
    np.testing.assert_array_equal(h, want)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "float16", "float32",
                                   "float64", "complex64", "complex128"])
def test_dlpack_round_trip_dtypes(dtype):
    h = (np.arange(6) % 3).astype(dtype)
    if dtype == "bool" and np.lib.NumpyVersion(np.__version__) < "1.25.0":
        # NumPy < 1.25 exchanges no bool over DLPack: ember with itself
        d = cuda.from_dlpack(cuda.to_device(h))
        np.testing.assert_array_equal(d.copy_to_host(), h)
        return
    d = cuda.from_dlpack(h)
    assert d.dtype == np.dtype(dtype)
    back = np.from_dlpack(d)
    np.testing.assert_array_equal(back, h)


def test_dlpack_errors():
    d = cuda.to_device(np.zeros(8, np.float64)).view(np.float32)[1:]  # fine: 4-byte strides
    np.from_dlpack(d)
    odd = cuda.to_device(np.zeros((4, 4), np.int16))
    with pytest.raises(TypeError, match="does not support DLPack"):
        cuda.from_dlpack([1, 2, 3])
    with pytest.raises(ValueError, match="not consumed yet"):
        cap = odd.__dlpack__()
        cuda.from_dlpack(cap)
        cuda.from_dlpack(cap)                         # a capsule is consumed once


def test_cuda_array_interface_needs_a_gpu_device():
    desc = {"shape": (4,), "typestr": "<f4", "data": (0, False), "version": 3,
            "strides": None}
    with pytest.raises(ValueError, match="the current device is the CPU"):
        cuda.from_cuda_array_interface(desc)
    with pytest.raises(TypeError, match="has no __cuda_array_interface__"):
        cuda.as_cuda_array(np.zeros(3))


FAKE_CAI = r"""
import numpy as np
from ember import cuda
cuda.select_device(0)
src = cuda.to_device(np.arange(10, dtype=np.float32))

class Foreign:                      # another library's array: only the interface
    def __init__(self, desc):
        self.__cuda_array_interface__ = desc

f = Foreign(src.__cuda_array_interface__)
a = cuda.as_cuda_array(f)
assert a.device_pointer == src.device_pointer and a.shape == (10,)
np.testing.assert_array_equal(a.copy_to_host(), np.arange(10, dtype=np.float32))
rev = cuda.from_cuda_array_interface(
    {"shape": (5,), "typestr": "<f4", "version": 3, "stream": None,
     "strides": (-8,), "data": (src.device_pointer + 36, False)}, owner=src)
np.testing.assert_array_equal(rev.copy_to_host(), np.arange(10, dtype=np.float32)[::-2])
assert rev.__dlpack_device__() == (2, 0)
print("ok")
"""


def test_cuda_array_interface_import_with_the_fake_driver(fake_cuda_lib, tmp_path):
    script = tmp_path / "cai.py"
    script.write_text(FAKE_CAI)
    env = dict(os.environ, EMBER_CUDA_DRIVER=str(fake_cuda_lib),
               PYTHONPATH=str(ROOT / "python"))
    env.pop("EMBER_DEVICE", None)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
