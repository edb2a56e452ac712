"""Device arrays of records (NumPy structured dtypes), as numba.cuda has
them: to_device / device_array / copy_to_host round trips and the views
device arrays have for other dtypes (slices, strides, transposes, setitem),
each compared with the same operation done by NumPy on a host copy; the
dtypes device arrays refuse. DeviceRecord (one record on the device) is
tested in test_device_record.py, kernels over these arrays in
test_device_records_kernels.py. Each test runs on the cpu device and, gpu-marked, on a CUDA GPU; the CUDA
code path without a GPU is checked through the fake driver at the end."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda

ALIGNED = np.dtype([("a", np.float64), ("b", np.int32), ("c", np.complex64),
                    ("d", (np.str_, 5))], align=True)
PACKED = np.dtype([("x", np.int8), ("y", np.float64), ("z", np.uint16, (2, 3))])
NESTED = np.dtype([("i", np.int32), ("r", [("p", np.float32), ("q", np.int64, 2)])])
DTYPES = [ALIGNED, PACKED, NESTED]


@pytest.fixture(autouse=True)
def _dev(kernel_device):
    yield


def _fill(arr, rng):
    for name in arr.dtype.names:
        part = arr[name]
        if part.dtype.names:
            _fill(part, rng)
        elif part.dtype.kind == "U":
            part[...] = rng.integers(0, 10**5, size=part.shape).astype(str)
        elif part.dtype.kind in "fc":
            part[...] = rng.integers(-999, 999, size=part.shape) / 8
            if part.dtype.kind == "c":
                part += 1j * rng.integers(-9, 9, size=part.shape)
        else:
            part[...] = rng.integers(0, 120, size=part.shape)


def sample(dtype, shape, seed=0):
    """Random records (padding bytes zero, as NumPy's assignments leave them)."""
    arr = np.zeros(shape, dtype)
    _fill(arr, np.random.default_rng(seed))
    return arr


def same(got, want):
    """Byte-for-byte equality, padding included."""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8),
                                  np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=["aligned", "packed", "nested"])
def test_round_trips(dtype):
    host = sample(dtype, (7,))
    d = cuda.to_device(host)
    assert d.dtype == dtype and d.shape == (7,) and d.itemsize == dtype.itemsize
    assert d.nbytes == host.nbytes and d.strides == host.strides
    same(d.copy_to_host(), host)
    # into a given array, and from an array made empty
    out = np.zeros_like(host)
    assert d.copy_to_host(out) is out
    same(out, host)
    e = cuda.device_array(7, dtype=dtype)
    e.copy_to_device(host)
    same(e.copy_to_host(), host)
    like = cuda.device_array_like(host)
    like.copy_to_device(e)  # device to device
    same(like.copy_to_host(), host)
    same(np.asarray(d), host)


def test_recarray_and_2d_fortran():
    host = sample(PACKED, (4, 5), seed=1)
    rec = host.view(np.recarray)
    same(cuda.to_device(rec).copy_to_host(), host)
    f = np.asfortranarray(host)
    d = cuda.to_device(f)
    assert d.is_f_contiguous() and not d.is_c_contiguous()
    same(d.copy_to_host(), host)
    assert d.copy_to_host().flags.f_contiguous
    g = cuda.device_array((4, 5), dtype=PACKED, order="F")
    assert g.strides == (PACKED.itemsize, 4 * PACKED.itemsize)


@pytest.mark.parametrize("index", [slice(1, 6), slice(None, None, 2), slice(None, None, -3),
                                   (slice(None), slice(1, None, 2)), (2, slice(None)),
                                   (Ellipsis, 1)])
def test_views_match_numpy(index):
    host = sample(ALIGNED, (5, 6), seed=2)
    d = cuda.to_device(host)
    view = d[index]
    want = host[index]
    assert view.shape == want.shape and view.strides == want.strides
    same(view.copy_to_host(), want)


def test_transpose_reshape_and_byte_view():
    host = sample(NESTED, (3, 4), seed=3)
    d = cuda.to_device(host)
    same(d.T.copy_to_host(), host.T)
    same(d.reshape(12).copy_to_host(), host.reshape(12))
    same(d.ravel().copy_to_host(), host.ravel())
    raw = d.view(np.uint8)
    assert raw.shape == (3, 4 * NESTED.itemsize)
    np.testing.assert_array_equal(raw.copy_to_host(), host.view(np.uint8))


def test_setitem_matches_numpy():
    host = sample(ALIGNED, (6,), seed=4)
    d = cuda.to_device(host)
    want = host.copy()
    other = sample(ALIGNED, (6,), seed=5)
    for key, value in [(slice(1, 3), other[:2]), (slice(None, None, 2), other[3:6]),
                       (4, other[0]), (5, (1.5, -2, 3j, "hi"))]:
        d[key] = value
        want[key] = value
        same(d.copy_to_host(), want)
    d[2:4] = cuda.to_device(other[4:6])  # from a device array
    want[2:4] = other[4:6]
    same(d.copy_to_host(), want)


def test_empty_and_pickled():
    d = cuda.device_array(0, dtype=ALIGNED)
    assert d.copy_to_host().shape == (0,)
    host = sample(PACKED, (5,), seed=6)
    back = pickle.loads(pickle.dumps(cuda.to_device(host)))
    same(back.copy_to_host(), host)


def test_refused_dtypes_and_mismatches():
    with pytest.raises(TypeError, match="without objects"):
        cuda.to_device(np.zeros(2, [("o", object), ("x", np.int32)]))
    with pytest.raises(TypeError, match="V8"):
        cuda.device_array(2, dtype="V8")       # bytes without fields
    with pytest.raises(TypeError, match="array-like of numbers"):
        cuda.to_device(np.zeros(2, "V8"))
    d = cuda.device_array(3, dtype=ALIGNED)
    with pytest.raises(TypeError, match="incompatible dtype"):
        d.copy_to_device(np.zeros(3, PACKED))
    same_size = np.dtype([("u", np.uint8, ALIGNED.itemsize)])
    with pytest.raises(TypeError, match="incompatible dtype"):
        d.copy_to_host(np.zeros(3, same_size))  # the same bytes, other fields
    with pytest.raises(ValueError, match="incompatible shape"):
        d.copy_to_device(np.zeros(4, ALIGNED))


def test_cuda_path_through_the_fake_driver(fake_cuda_lib, tmp_path):
    """The copies go through the CUDA driver API (the fake keeps device
    memory in host memory), views included; __cuda_array_interface__ of
    records both ways."""
    script = tmp_path / "rec.py"
    script.write_text(r'''
import numpy as np
from ember import cuda
cuda.select_device(0)
dt = np.dtype([("a", np.float64), ("b", np.int32), ("s", np.str_, 3)], align=True)
host = np.zeros((4, 3), dt)
host["a"] = np.arange(12).reshape(4, 3) / 4
host["b"] = -np.arange(12).reshape(4, 3)
host["s"] = np.arange(12).reshape(4, 3).astype(str)
d = cuda.to_device(host)
assert d.device.kind == "cuda", d.device
assert (d.copy_to_host() == host).all()
assert (d[::2, 1:].copy_to_host() == host[::2, 1:]).all()
assert (d.T.copy_to_host() == host.T).all()
d[1:3, 0] = host[0, :2]
want = host.copy()
want[1:3, 0] = host[0, :2]
assert (d.copy_to_host() == want).all()
e = cuda.device_array(3, dt)
e.copy_to_device(d[3])
assert (e.copy_to_host() == want[3]).all()
# a DeviceRecord's fields, read and written in device memory
r = d[2, 1]
assert r.device_pointer == d.device_pointer + (2 * 3 + 1) * dt.itemsize
assert (r["a"], r["b"], r["s"]) == tuple(want[2, 1])
r["b"] = 123
r["s"] = "zz"
want[2, 1]["b"] = 123
want[2, 1]["s"] = "zz"
assert (d.copy_to_host() == want).all()
# __cuda_array_interface__: typestr '|V24' and the fields in descr (the
# padding after b unnamed); the import rebuilds the dtype without it
nested = np.dtype([("b", np.int32), ("n", [("p", np.int8), ("q", np.float64, 2)])],
                  align=True)
h2 = np.zeros(3, nested)
h2["b"] = [1, 2, 3]
h2["n"]["q"] = [[4, 5], [6, 7], [8, 9]]
d2 = cuda.to_device(h2)
iface = d2.__cuda_array_interface__
assert iface["typestr"] == "|V%d" % nested.itemsize and iface["descr"] == nested.descr, iface
assert ("", "|V4") in iface["descr"]
back = cuda.from_cuda_array_interface(iface, owner=d2)
assert back.dtype == nested and back.dtype.names == ("b", "n"), back.dtype
assert (back.copy_to_host() == h2).all()
print("ok")
''')
    env = {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1",
           "PYTHONPATH": str(ROOT / "python")}
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
