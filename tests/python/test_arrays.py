"""Device arrays on the default device (the CPU device here): creation,
copies, views, reshapes and their error paths, compared with NumPy."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]


def random_array(shape, dtype, rng, order="C"):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        a = rng.integers(0, 2, size=shape).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        a = rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    elif dtype.kind == "c":
        a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    return np.asarray(a, order=order)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(dtype, rng):
    a = random_array((7, 5), dtype, rng)
    d = cuda.to_device(a)
    assert isinstance(d, cuda.DeviceNDArray)
    assert d.shape == (7, 5) and d.dtype == np.dtype(dtype) and d.strides == a.strides
    assert d.size == 35 and d.ndim == 2 and d.nbytes == a.nbytes and len(d) == 7
    back = d.copy_to_host()
    assert back.dtype == a.dtype and np.array_equal(back, a)
    assert back is not a


def test_layouts_are_kept(rng):
    f = random_array((4, 6), np.float64, rng, order="F")
    df = cuda.to_device(f)
    assert df.is_f_contiguous() and not df.is_c_contiguous() and df.strides == f.strides
    assert np.array_equal(df.copy_to_host(), f)
    # a non-contiguous host array arrives C-contiguous with the same values
    s = random_array((8, 10), np.int32, rng)[::2, 1::3]
    ds = cuda.to_device(s)
    assert ds.is_c_contiguous() and np.array_equal(ds.copy_to_host(), s)
    # negative strides
    r = random_array((9,), np.float32, rng)[::-1]
    assert np.array_equal(cuda.to_device(r).copy_to_host(), r)
    # 0-d and empty arrays
    z = cuda.to_device(np.float32(2.5))
    assert z.shape == () and z.copy_to_host()[()] == np.float32(2.5)
    e = cuda.to_device(np.zeros((0, 3)))
    assert e.shape == (0, 3) and e.copy_to_host().shape == (0, 3)


def test_array_likes():
    d = cuda.to_device([[1, 2], [3, 4]])
    assert d.dtype == np.int64 and np.array_equal(d.copy_to_host(), [[1, 2], [3, 4]])
    assert np.array_equal(np.asarray(d), [[1, 2], [3, 4]])
    assert np.array_equal(np.asarray(d, dtype=np.float32), np.array([[1, 2], [3, 4]], np.float32))


def test_device_array_and_like(rng):
    d = cuda.device_array((3, 4), dtype=np.float32)
    assert d.shape == (3, 4) and d.dtype == np.float32 and d.is_c_contiguous()
    d2 = cuda.device_array(5)
    assert d2.shape == (5,) and d2.dtype == np.float64
    f = cuda.device_array((3, 4), np.int16, order="F")
    assert f.is_f_contiguous() and f.strides == (2, 6)
    s = cuda.device_array((2, 3), np.float64, strides=(48, 16))
    assert s.strides == (48, 16) and not s.is_c_contiguous()
    like = cuda.device_array_like(random_array((2, 5), np.complex64, rng, order="F"))
    assert like.shape == (2, 5) and like.dtype == np.complex64 and like.is_f_contiguous()
    like2 = cuda.device_array_like(d)
    assert like2.shape == d.shape and like2.dtype == d.dtype
    d.copy_to_device(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert np.array_equal(d.copy_to_host(), np.arange(12, dtype=np.float32).reshape(3, 4))


LIKE_VIEWS = [
    ((10, 12), "F", (slice(None, None, 2), slice(None, None, 2)), False),
    ((10, 12), "C", (slice(None, None, 2), slice(None, None, 2)), False),
    ((10, 12), "F", (slice(None, None, 2), slice(None, None, 2)), True),
    ((4, 6, 8), "C", (slice(None), slice(None, None, 3), slice(1, None, 2)), True),
    ((4, 6, 8), "F", (slice(None, None, 2), slice(None), slice(None, None, 4)), False),
    ((1, 6, 1), "C", (slice(None), slice(None, None, 2), slice(None)), False),
]


@pytest.mark.parametrize("like", ["device_array_like", "pinned_array_like",
                                  "mapped_array_like"])
@pytest.mark.parametrize("shape,order,index,transpose", LIKE_VIEWS)
def test_array_like_of_view_keeps_memory_order(like, shape, order, index, transpose):
    # *_array_like of a non-contiguous view gives a dense array whose axes
    # are laid out in the view's order, as np.zeros_like (order='K') does
    view = np.zeros(shape, np.float32, order=order)[index]
    dview = cuda.device_array(shape, np.float32, order=order)[index]
    if transpose:
        view, dview = view.T, dview.T
    got = getattr(cuda, like)(dview)
    ref = np.zeros_like(view)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert got.strides == ref.strides
    assert bool(got.flags["C_CONTIGUOUS"]) == bool(ref.flags["C_CONTIGUOUS"])
    assert bool(got.flags["F_CONTIGUOUS"]) == bool(ref.flags["F_CONTIGUOUS"])
    if like != "device_array_like":  # a host view works the same
        again = getattr(cuda, like)(view)
        assert again.strides == ref.strides


def test_copy_to_host_into_existing(rng):
    a = random_array((6, 4), np.float64, rng)
    d = cuda.to_device(a)
    out = np.zeros((6, 4))
    r = d.copy_to_host(out)
    assert r is out and np.array_equal(out, a)
    # into a strided host view
    big = np.zeros((6, 8))
    d.copy_to_host(big[:, ::2])
    assert np.array_equal(big[:, ::2], a) and not big[:, 1::2].any()
    # numba allows shapes that only differ by axes of length 1
    col = cuda.to_device(np.arange(5.0))
    out2 = np.zeros((5, 1))
    col.copy_to_host(out2)
    assert np.array_equal(out2[:, 0], np.arange(5.0))


def test_copy_errors(rng):
    d = cuda.to_device(np.arange(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"incompatible shape.*\(4,\).*\(5,\)"):
        d.copy_to_host(np.zeros(5, np.float32))
    with pytest.raises(TypeError, match="incompatible dtype.*float32.*float64"):
        d.copy_to_host(np.zeros(4, np.float64))
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        d.copy_to_host(ro)
    with pytest.raises(TypeError, match="must be a NumPy array"):
        d.copy_to_host([0, 0, 0, 0])
    with pytest.raises(ValueError, match="incompatible shape"):
        d.copy_to_device(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="incompatible dtype"):
        d.copy_to_device(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="stream must be a Stream"):
        d.copy_to_host(stream="fast")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="to_device: expected an array-like of numbers.*object"):
        cuda.to_device(object())
    with pytest.raises(TypeError, match="array-like of numbers"):
        cuda.to_device({"a": 1})
    with pytest.raises(TypeError, match="array-like of numbers"):
        cuda.to_device(["a", "b"])
    with pytest.raises(TypeError, match="datetime64|unsupported dtype"):
        cuda.to_device(np.array(["2020-01-01"], dtype="datetime64[D]"))
    with pytest.raises(TypeError, match="byte order|newbyteorder"):
        cuda.to_device(np.arange(3, dtype=">f4"))
    with pytest.raises(ValueError, match="negative dimensions.*-1"):
        cuda.device_array((-1, 2))
    with pytest.raises(TypeError, match="shape must be an int or a tuple of ints"):
        cuda.device_array((2.5, 2))
    with pytest.raises(TypeError, match="shape must be an int or a tuple of ints"):
        cuda.device_array("abc")
    with pytest.raises(TypeError, match="not a NumPy dtype"):
        cuda.device_array(3, dtype="no_such_type")
    with pytest.raises(TypeError, match="unsupported dtype"):
        cuda.device_array(3, dtype=object)
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        cuda.device_array(3, order="K")
    with pytest.raises(ValueError, match="at most 32 dimensions"):
        cuda.device_array((1,) * 33)
    with pytest.raises(ValueError, match="strides"):
        cuda.device_array((2, 2), strides=(8,))
    with pytest.raises(TypeError):
        cuda.DeviceNDArray()
    with pytest.raises(TypeError, match="'to' must be a device array"):
        cuda.to_device(np.zeros(3), to=np.zeros(3))


def test_to_device_into_existing_and_passthrough():
    d = cuda.device_array(4, np.int32)
    r = cuda.to_device(np.array([4, 3, 2, 1], np.int32), to=d)
    assert r is d and np.array_equal(d.copy_to_host(), [4, 3, 2, 1])
    assert cuda.to_device(d) is d
    nd = cuda.to_device(np.ones(3), copy=False)
    assert nd.shape == (3,)


def test_views_share_memory_and_match_numpy(rng):
    a = random_array((6, 8, 5), np.float32, rng)
    d = cuda.to_device(a)
    keys = [
        (slice(1, 5), slice(None, None, 2)),
        (Ellipsis, 3),
        (slice(None, None, -1), slice(2, 7, 3), slice(None)),
        (-1,),
        (2, slice(None, None, -2), Ellipsis),
        (None, slice(1, 3), Ellipsis, None),
        (slice(5, 1, -2), 0, slice(1, 4)),
        (slice(10, 20),),
    ]
    for key in keys:
        v = d[key]
        assert isinstance(v, cuda.DeviceNDArray)
        assert v.shape == a[key].shape, key
        assert np.array_equal(v.copy_to_host(), a[key]), key
        assert v.buffer_id == d.buffer_id  # a view, not a copy
    # writing through a view changes the parent
    d[1:3, ::4] = 7.0
    a[1:3, ::4] = 7.0
    assert np.array_equal(d.copy_to_host(), a)
    d[0] = np.arange(40, dtype=np.float32).reshape(8, 5)
    a[0] = np.arange(40, dtype=np.float32).reshape(8, 5)
    assert np.array_equal(d.copy_to_host(), a)
    d[2, 3, 4] = -1.5
    a[2, 3, 4] = -1.5
    assert np.array_equal(d.copy_to_host(), a)


def test_integer_indexing_returns_host_scalar(rng):
    a = random_array((4, 3), np.int64, rng)
    d = cuda.to_device(a)
    assert d[2, 1] == a[2, 1] and d[-1, -1] == a[-1, -1]
    assert isinstance(d[0, 0], np.int64)
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 4"):
        d[4]
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 3"):
        d[0, -4]
    with pytest.raises(IndexError, match="too many indices"):
        d[0, 0, 0]
    with pytest.raises(IndexError, match="advanced indexing|not supported"):
        d[[0, 1]]
    with pytest.raises(IndexError, match="boolean"):
        d[True]
    with pytest.raises(IndexError, match="single ellipsis"):
        d[..., ...]


def test_reshape_ravel_view_transpose_split(rng):
    a = random_array((4, 6), np.float64, rng)
    d = cuda.to_device(a)
    for shape in [(24,), (2, 12), (3, -1), (2, 3, 4)]:
        r = d.reshape(shape)
        assert np.array_equal(r.copy_to_host(), a.reshape(shape))
        assert r.buffer_id == d.buffer_id
    assert np.array_equal(d.reshape(2, 12).copy_to_host(), a.reshape(2, 12))
    assert np.array_equal(d.ravel().copy_to_host(), a.ravel())
    with pytest.raises(ValueError, match="cannot reshape array of size 24"):
        d.reshape(5, 5)
    with pytest.raises(NotImplementedError, match="not C-contiguous"):
        d[:, ::2].reshape(12)
    with pytest.raises(NotImplementedError):
        d[:, ::2].ravel()
    t = d.T
    assert t.shape == (6, 4) and t.is_f_contiguous()
    assert np.array_equal(t.copy_to_host(), a.T)
    assert np.array_equal(d.reshape(2, 3, 4).transpose((1, 0, 2)).copy_to_host(),
                          a.reshape(2, 3, 4).transpose((1, 0, 2)))
    assert np.array_equal(t.reshape(24, order="F").copy_to_host(), a.T.reshape(24, order="F"))
    v = d.view(np.int64)
    assert np.array_equal(v.copy_to_host(), a.view(np.int64))
    v32 = d.view(np.float32)
    assert v32.shape == (4, 12)  # compare bits: reinterpreted halves may be NaN
    assert np.array_equal(v32.copy_to_host().view(np.uint32), a.view(np.uint32))
    with pytest.raises(ValueError, match="contiguous"):
        d[:, ::2].view(np.float32)
    one = cuda.to_device(np.arange(10, dtype=np.int32))
    parts = one.split(4)
    assert [p.shape for p in parts] == [(4,), (4,), (2,)]
    assert np.array_equal(np.concatenate([p.copy_to_host() for p in parts]), np.arange(10))
    with pytest.raises(ValueError, match="only 1-D"):
        d.split(2)


def test_len_and_repr():
    d = cuda.to_device(np.zeros((3, 2), np.float32))
    assert len(d) == 3
    assert "DeviceNDArray" in repr(d) and "(3, 2)" in repr(d) and "float32" in repr(d)
    with pytest.raises(TypeError):
        len(cuda.to_device(np.float64(1)))


def test_array_device_attribute():
    d = cuda.to_device(np.zeros(3))
    assert d.device == cuda.get_current_device()


def test_cuda_array_interface_only_for_cuda_memory():
    d = cuda.to_device(np.zeros(3))
    if d.device.kind == "cpu":
        assert not hasattr(d, "__cuda_array_interface__")
        with pytest.raises(AttributeError, match="cpu device"):
            d.__cuda_array_interface__
    else:
        cai = d.__cuda_array_interface__
        assert cai["version"] == 3 and cai["shape"] == (3,) and cai["typestr"] == "<f8"


def test_pinned_and_mapped_arrays(rng):
    p = cuda.pinned_array((3, 4), dtype=np.float32)
    assert isinstance(p, np.ndarray) and p.shape == (3, 4) and p.dtype == np.float32
    p[:] = random_array((3, 4), np.float32, rng)
    d = cuda.to_device(p)
    assert np.array_equal(d.copy_to_host(), p)
    pl = cuda.pinned_array_like(p)
    d.copy_to_host(pl)
    assert np.array_equal(pl, p)
    f = cuda.pinned_array((3, 4), order="F")
    assert f.flags["F_CONTIGUOUS"]
    s = cuda.pinned_array((2, 3), np.int32, strides=(16, 4))
    assert s.strides == (16, 4)
    s[:] = [[1, 2, 3], [4, 5, 6]]
    assert np.array_equal(cuda.to_device(s).copy_to_host(), [[1, 2, 3], [4, 5, 6]])
    m = cuda.mapped_array(10, dtype=np.int64)
    m[:] = np.arange(10)
    assert isinstance(m, np.ndarray) and m.device_pointer
    assert np.array_equal(cuda.to_device(m).copy_to_host(), np.arange(10))
    # the memory stays valid after the allocating call's temporaries are gone
    del pl, d
    import gc
    gc.collect()
    assert p.sum() == p.sum()


def test_transfer_counters_count_exactly():
    a = np.arange(1000, dtype=np.float64)
    ember.runtime.reset_stats()
    d = cuda.to_device(a)
    e = cuda.device_array_like(d)
    e.copy_to_device(d)
    e.copy_to_host()
    d[::2].copy_to_host()
    s = ember.runtime.stats()
    assert (s["htod_copies"], s["htod_bytes"]) == (1, 8000)
    assert (s["dtod_copies"], s["dtod_bytes"]) == (1, 8000)
    assert (s["dtoh_copies"], s["dtoh_bytes"]) == (2, 8000 + 4000)
    assert s["allocations"] == 2


def test_memory_is_freed():
    ember.runtime.reset_stats()
    before = ember.runtime.stats()["bytes_allocated"]
    d = cuda.device_array(1 << 20, np.uint8)
    v = d[10:20]
    assert ember.runtime.stats()["bytes_allocated"] == before + (1 << 20)
    del d
    assert ember.runtime.stats()["bytes_allocated"] == before + (1 << 20)  # the view keeps it
    assert v.shape == (10,)
    del v
    assert ember.runtime.stats()["bytes_allocated"] == before


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_real_and_imag_of_complex_arrays_are_views(cpu_device, dtype):
    """a.real / a.imag of a complex array: NumPy's views of the parts, read,
    written and used by atomics in kernels (numba's atomics on complex
    components), and in ember.jit functions."""
    a = (np.arange(6) + 1j * (np.arange(6) * 2 - 3)).astype(dtype).reshape(2, 3)
    want = a.copy()
    want.imag += 10

    @cuda.jit
    def k(a, out):
        i, j = cuda.grid(2)
        if i < a.shape[0] and j < a.shape[1]:
            out[i, j] = a.real[i, j] - a.imag[i, j]
            cuda.atomic.add(a.imag, (i, j), 10)

    out = np.zeros(a.shape, a.real.dtype)
    k[(1, 1), (2, 3)](a, out)
    np.testing.assert_array_equal(out, want.real - (want.imag - 10))
    np.testing.assert_array_equal(a, want)
    assert ember.jit(lambda x: x.imag.sum() + x.real[1, 2])(a) == \
        pytest.approx(want.imag.sum() + want.real[1, 2])
    f = np.arange(4.0)
    assert ember.jit(lambda x: x.real[2])(f) == 2.0      # a real array's .real is itself

    @cuda.jit
    def bad(x, out):
        out[0] = x.imag[0]

    with pytest.raises(TypingError, match="has no attribute 'imag'"):
        bad[1, 1](f, np.zeros(1))
