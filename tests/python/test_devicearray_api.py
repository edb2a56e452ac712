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


def _numpy_error(op, host):
    """The exception NumPy raises for ``op`` on the host array."""
    with pytest.raises(Exception) as info:
        op(host)
    return info.value


@pytest.mark.parametrize("op", [
    lambda a: a.transpose((0, 0)),            # repeated axis
    lambda a: a.transpose((0, 2)),            # axis out of bounds
    lambda a: a.transpose((0, -3)),
    lambda a: a.transpose((0,)),              # too few axes
    lambda a: a.view("i4")[:, :0],            # fine: no error expected below
])
def test_transpose_refusals_carry_numpys_words(op):
    host = np.arange(12, dtype="i2").reshape(3, 4)
    try:
        want = op(host)
    except Exception as exc:
        want = exc
    if not isinstance(want, Exception):
        np.testing.assert_array_equal(op(cuda.to_device(host)).copy_to_host(), want)
        return
    with pytest.raises(ValueError) as got:
        op(cuda.to_device(host))
    assert type(got.value) is type(want)
    assert str(got.value) == str(want)


def test_transpose_negative_axes_like_numpy():
    host = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(cuda.to_device(host).transpose((-1, 0, -2)).copy_to_host(),
                                  host.transpose((-1, 0, -2)))


@pytest.mark.parametrize("shape, dtype, index, new", [
    ((4, 3), "i2", (), "i4"),                           # last axis 6 bytes: not a multiple of 4
    ((4, 8), "i2", (slice(None), slice(None, None, 2)), "i4"),  # last axis not contiguous
    ((), "i2", (), "i4"),                               # 0-d
])
def test_view_refusals_start_with_numpys_words(shape, dtype, index, new):
    host = np.zeros(shape, dtype)
    want = _numpy_error(lambda a: a[index].view(new), host)
    with pytest.raises(ValueError) as got:
        cuda.to_device(host)[index].view(new)
    assert str(got.value).startswith(str(want))


def test_view_of_a_length_one_strided_last_axis_like_numpy():
    host = np.arange(16, dtype="i2").reshape(4, 4)
    want = host[:, ::4].view("i1")
    got = cuda.to_device(host)[:, ::4].view("i1")
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.copy_to_host(), want)


@pytest.mark.parametrize("shape, value", [((35,), np.ones((1, 2, 3))), ((5,), [1, 3]),
                                          ((2, 3), np.ones((3, 2)))])
def test_setitem_broadcast_refusal_is_numpys(shape, value):
    host = np.zeros(shape, dtype=np.int64)
    want = _numpy_error(lambda a: a.__setitem__(slice(None), value), host)
    d = cuda.to_device(host)
    with pytest.raises(ValueError) as got:
        d[:] = value
    assert str(got.value) == str(want)
    np.testing.assert_array_equal(d.copy_to_host(), host)  # nothing written


def test_setitem_still_broadcasts_and_casts_like_numpy():
    host = np.zeros((3, 4), dtype=np.int32)
    d = cuda.to_device(host)
    d[1:] = np.array([1.7, 2.2, 3.9, -4.5])
    host[1:] = np.array([1.7, 2.2, 3.9, -4.5])
    d[0, 1:3] = 7
    host[0, 1:3] = 7
    np.testing.assert_array_equal(d.copy_to_host(), host)
    with pytest.raises(ValueError, match="cannot assign object"):
        d[0] = object()
