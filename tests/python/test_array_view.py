"""a.view(dtype) in kernels and ember.jit functions (spec: numba's
cudapy/test_array_methods.py test_reinterpret_array_type): the same memory
as another dtype, with NumPy's rule: the same itemsize reinterprets every
element whatever the layout; another itemsize changes the last axis, which
must be contiguous and hold a whole number of new items, else a ValueError
naming the line (the check runs in the kernel). Results, shapes and writes
through the view are compared with NumPy's view of the same array;
conftest compiles each kernel to PTX too."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError


def reinterpret_array_type(byte_arr, start, stop, output):
    val = byte_arr[start:stop].view(np.int32)[0]
    output[0] = val


def test_numba_reinterpret_byte_slices(kernel_device):
    kernel = cuda.jit(reinterpret_array_type)
    byte_arr = np.arange(256, dtype=np.uint8)
    for start in range(0, 256, 4):
        output = np.zeros(1, dtype=np.int32)
        kernel[1, 1](byte_arr, start, start + 4, output)
        assert output[0] == byte_arr[start:start + 4].view(np.int32)[0]


@cuda.jit
def _copy_view_2d(a, out, shape):
    v = a.view(np.uint8)
    shape[0] = v.shape[0]
    shape[1] = v.shape[1]
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            out[i, j] = v[i, j]


@cuda.jit
def _widen(a, out, shape):
    v = a.view(np.int64)
    shape[0] = v.shape[0]
    shape[1] = v.shape[1]
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            out[i, j] = v[i, j]


def test_other_itemsize_changes_the_last_axis(kernel_device):
    a = np.random.default_rng(1).integers(-2**31, 2**31, (3, 5), dtype=np.int64).astype(np.int32)
    want = a.view(np.uint8)
    out, shape = np.zeros_like(want), np.zeros(2, np.int64)
    _copy_view_2d[1, 1](a, out, shape)
    assert tuple(shape) == want.shape
    np.testing.assert_array_equal(out, want)

    b = np.random.default_rng(2).integers(0, 256, (4, 16), dtype=np.uint8)
    want = b.view(np.int64)
    out, shape = np.zeros_like(want), np.zeros(2, np.int64)
    _widen[1, 1](b, out, shape)
    assert tuple(shape) == want.shape == (4, 2)
    np.testing.assert_array_equal(out, want)


@cuda.jit
def _negate_bits(a):
    v = a.view(np.int32)        # float32 -> int32: the same itemsize
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            v[i, j] = v[i, j] ^ np.int32(-2147483648)  # flips the sign bit


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_same_itemsize_writes_through_any_layout(kernel_device, order):
    base = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    a = np.asfortranarray(base) if order == "F" else base.copy()
    if order == "strided":
        a = a[:, ::2]
    want = a.copy()
    want.view(np.int32)[...] ^= np.int32(-2147483648)
    _negate_bits[1, 1](a)
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(a, -base[:, ::2] if order == "strided" else -base)


@cuda.jit
def _view_size(a, out):
    out[0] = a.view(np.int32).size


@cuda.jit
def _view_of_slice(a, step, stop, out):
    out[0] = a[0:stop:step].view(np.int32).size


@pytest.mark.parametrize("step, stop", [(1, 6), (2, 64), (3, 64)])
def test_views_numpy_refuses_raise_valueerror(kernel_device, step, stop):
    a = np.arange(64, dtype=np.uint8)
    with pytest.raises(ValueError):
        a[0:stop:step].view(np.int32)  # NumPy refuses it too
    with pytest.raises(ValueError, match=r"test_array_view.py, line \d+.*last axis must be "
                                         r"contiguous"):
        _view_of_slice[1, 1](a, step, stop, np.zeros(1, np.int64))
    out = np.zeros(1, np.int64)
    _view_of_slice[1, 1](a, 1, 64, out)  # the same kernel where NumPy allows it
    assert out[0] == a.view(np.int32).size


def test_fortran_order_other_itemsize_is_refused_as_numpy(kernel_device):
    a = np.asfortranarray(np.arange(64, dtype=np.uint8).reshape(4, 16))
    with pytest.raises(ValueError):
        a.view(np.int32)
    with pytest.raises(ValueError, match=r"test_array_view.py, line \d+"):
        _view_size[1, 1](a, np.zeros(1, np.int64))


@cuda.jit
def _strided_rows(a, out, shape):
    v = a[::2, 4:8].view(np.int32)  # rows strided, the last axis contiguous: allowed
    shape[0] = v.shape[0]
    shape[1] = v.shape[1]
    for i in range(v.shape[0]):
        out[i] = v[i, 0]
    w = a[:, ::4].view(np.int8)     # the same itemsize: any strides
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            w[i, j] = -w[i, j]


def test_strided_views_numpy_allows(kernel_device):
    a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    want = a[::2, 4:8].view(np.int32).copy()  # read before the kernel negates a[:, 4]
    out, shape = np.zeros(4, np.int32), np.zeros(2, np.int64)
    expect_a = a.copy()
    expect_a[:, ::4].view(np.int8)[...] *= -1
    _strided_rows[1, 1](a, out, shape)
    assert tuple(shape) == want.shape == (4, 1)
    np.testing.assert_array_equal(out, want[:, 0])
    np.testing.assert_array_equal(a, expect_a)


def test_view_in_an_ember_jit_function():
    @ember.jit
    def as_words(a):
        return a.view(np.uint16).sum()

    a = np.arange(40, dtype=np.uint8)
    assert as_words(a) == a.view(np.uint16).sum()


def test_view_typing_errors(cpu_device):
    @cuda.jit
    def of_a_number(a, x):
        a[0] = x.view(np.int32)[0]

    @cuda.jit
    def no_dtype(a):
        a[0] = a.view()[0]

    with pytest.raises(TypingError, match=r"test_array_view.py:\d+.*view\(\) is a method of "
                                          r"arrays here, not of float64"):
        of_a_number[1, 1](np.zeros(1, np.int32), 1.5)
    with pytest.raises(TypingError, match=r"test_array_view.py:\d+.*view\(\) takes the dtype"):
        no_dtype[1, 1](np.zeros(1, np.int32))
