"""numba's device-array API beyond indexing and copies: flags, bind,
getitem/setitem on a stream, squeeze, the DeviceNDArray(shape, strides,
dtype) constructor and the cuda.devicearray module's helpers, each against
NumPy's answer for the same shape and strides."""

import numpy as np
import pytest

from ember import cuda
from ember.cuda import devicearray


@pytest.fixture(autouse=True)
def on_cpu(cpu_device):
    yield


@pytest.mark.parametrize("host", [np.zeros((3, 4)), np.zeros((3, 4), order="F"),
                                  np.zeros((3, 4))[:, ::2], np.zeros((1, 5)), np.zeros(0)])
def test_flags_match_numpy(host):
    d = cuda.to_device(np.ascontiguousarray(host)) if host.base is None else \
        cuda.to_device(host.base)[:, ::2]
    if host.flags.f_contiguous and not host.flags.c_contiguous:
        d = cuda.to_device(host)
    for key in ("C_CONTIGUOUS", "F_CONTIGUOUS"):
        assert d.flags[key] == host.flags[key], key
    assert d.flags.c_contiguous == host.flags.c_contiguous


def test_bind_sets_the_default_stream_of_copies():
    s = cuda.stream()
    d = cuda.to_device(np.arange(6.0)).bind(s)
    assert d.stream is s and d[2:].stream is s
    assert cuda.to_device(np.arange(3)).stream == 0
    np.testing.assert_array_equal(d.copy_to_host(), np.arange(6.0))


def test_arrays_keep_the_stream_they_were_made_on():
    s = cuda.stream()
    a = cuda.device_array((3, 3), stream=s)
    b = cuda.to_device(np.arange(4.0), stream=s)
    assert a.stream is s and b.stream is s and a[1:].stream is s
    assert cuda.device_array(3).stream == 0
    np.testing.assert_array_equal(b.copy_to_host(), np.arange(4.0))  # on s, then synchronised


def test_getitem_setitem_on_a_stream():
    s = cuda.stream()
    d = cuda.to_device(np.arange(12).reshape(3, 4))
    d.setitem((1, 2), 99, stream=s)
    assert d.getitem((1, 2), stream=s) == 99
    d.setitem(0, np.array([7, 7, 7, 7]), stream=s)
    np.testing.assert_array_equal(d.getitem(0, stream=s).copy_to_host(), [7, 7, 7, 7])


def test_squeeze():
    d = cuda.device_array((1, 3, 1, 2))
    assert d.squeeze().shape == (3, 2)
    assert d.squeeze(axis=2).shape == (1, 3, 2)
    with pytest.raises(ValueError, match="axis 1 has length 3"):
        d.squeeze(axis=1)


def test_numba_constructor():
    d = devicearray.DeviceNDArray((1, 10), (800, 8), np.float64)
    assert d.shape == (1, 10) and d.strides == (800, 8) and d.dtype == np.float64
    z = devicearray.DeviceNDArray(shape=(0,), strides=(8,), dtype=np.int8)
    z.copy_to_host(np.ndarray(shape=(0,), strides=(0,), dtype=np.int8))
    with pytest.raises(TypeError, match="gpu_data"):
        devicearray.DeviceNDArray((2,), (8,), np.float64, gpu_data=object())


def test_module_helpers_against_numpy():
    d = cuda.device_array((10, 12))
    devicearray.verify_cuda_ndarray_interface(d)
    with pytest.raises(ValueError):
        devicearray.verify_cuda_ndarray_interface(np.zeros(3))
    assert devicearray.is_cuda_ndarray(d) and not devicearray.is_cuda_ndarray(np.zeros(3))
    for view in (d, d[:, ::2], d[::2], d.T, d[:, :1]):
        assert devicearray.is_contiguous(view) == bool(
            devicearray.array_core(view).flags["C_CONTIGUOUS"])
    b = np.broadcast_to(np.arange(4.0), (3, 4))
    assert devicearray.array_core(b).shape == (4,)
    devicearray.sentry_contiguous(b)
    with pytest.raises(ValueError, match="non-contiguous"):
        devicearray.sentry_contiguous(np.zeros((4, 4))[::2, ::2])
    arr, copied = devicearray.auto_device(np.arange(3))
    assert copied and isinstance(arr, cuda.DeviceNDArray)
    assert devicearray.auto_device(arr) == (arr, False)
    with pytest.raises(ValueError, match="incompatible shape"):
        devicearray.check_array_compatibility(cuda.device_array(3), cuda.device_array(4))
