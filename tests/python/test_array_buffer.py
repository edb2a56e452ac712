"""The buffer protocol of device arrays (python/ext/array_buffer.c).

On the cpu device a DeviceNDArray's memory is host memory, and it exports
it in place: memoryview, np.asarray, bytes, and mpi4py (tests/python/
test_mpi.py) see and write the array itself. Each test compares with the
NumPy array the device array was made from; arrays in GPU memory refuse
(checked against the stand-in driver)."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda

pytestmark = pytest.mark.usefixtures("cpu_device")

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("dt", DTYPES)
def test_memoryview_matches_numpy(dt):
    host = (np.arange(24) % 5).astype(dt).reshape(2, 3, 4)
    d = cuda.to_device(host)
    m = memoryview(d)
    ref = memoryview(host)
    assert (m.format, m.itemsize, m.shape, m.strides) == \
        (ref.format, ref.itemsize, ref.shape, ref.strides)
    assert not m.readonly and m.c_contiguous
    assert m.nbytes == host.nbytes
    assert np.array_equal(np.asarray(m), host)
    assert bytes(d) == host.tobytes()


def test_the_export_is_the_array_memory():
    host = np.arange(12, dtype=np.float64).reshape(3, 4)
    d = cuda.to_device(host)
    view = np.asarray(memoryview(d))
    view[1, 2] = -7.0           # a store through the export lands in the device array
    expect = host.copy()
    expect[1, 2] = -7.0
    assert np.array_equal(d.copy_to_host(), expect)
    d[0, 0] = 5.0               # and a store into the device array shows in the export
    assert view[0, 0] == 5.0
    assert view.ctypes.data == d.device_pointer


def test_views_strided_fortran_and_negative_steps():
    host = np.arange(30, dtype=np.int32).reshape(5, 6)
    d = cuda.to_device(host)
    for key in [(slice(None), slice(None, None, 2)), (slice(None, None, -1), 1),
                (slice(1, 4), slice(5, 0, -2))]:
        v = d[key]
        m = memoryview(v)
        assert m.strides == host[key].strides
        assert np.array_equal(np.asarray(m), host[key])
        assert bytes(v) == host[key].tobytes()   # bytes() gathers a strided export
    f = cuda.to_device(np.asfortranarray(host))
    mf = memoryview(f)
    assert mf.f_contiguous and not mf.c_contiguous
    assert np.array_equal(np.asarray(mf), host)


def test_contiguity_requests_are_honoured():
    d = cuda.to_device(np.arange(12.0).reshape(3, 4))
    strided = d[:, ::2]
    # np.frombuffer asks for a simple (C-contiguous) buffer
    assert np.array_equal(np.frombuffer(d, dtype=np.float64), np.arange(12.0))
    with pytest.raises(BufferError, match="not C-contiguous"):
        np.frombuffer(strided, dtype=np.float64)
    # memoryview.cast needs C-contiguous memory too
    with pytest.raises(TypeError):
        memoryview(strided).cast("B")
    assert memoryview(d).cast("B").nbytes == 96


def test_zero_size_and_zero_d():
    e = cuda.device_array((0, 3), dtype=np.float32)
    m = memoryview(e)
    assert m.shape == (0, 3) and m.nbytes == 0
    s = cuda.to_device(np.array(2.5))
    assert memoryview(s).shape == () and np.asarray(memoryview(s))[()] == 2.5


def test_gpu_memory_refuses(fake_cuda_lib):
    script = r'''
import numpy as np
from ember import cuda
cuda.select_device(0)
d = cuda.to_device(np.arange(4.0))
assert d.device.kind == "cuda"
try:
    memoryview(d)
except BufferError as exc:
    print("refused:", exc)
else:
    raise SystemExit("a CUDA array exported host memory")
assert d.__cuda_array_interface__["data"][0] == d.device_pointer
assert d.__dlpack_device__()[0] == 2   # kDLCUDA
print("copy:", np.asarray(d).tolist())
'''
    env = {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1",
           "PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "refused: this device array lives in GPU memory" in p.stdout
    assert "__cuda_array_interface__" in p.stdout
    assert "copy: [0.0, 1.0, 2.0, 3.0]" in p.stdout
