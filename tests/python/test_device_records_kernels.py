"""Kernels over device arrays of records and over DeviceRecords: field reads
and writes (r.x, r['x'], array fields) on arrays made by to_device /
device_array, contiguous, strided and 2-D, and on single records passed by
reference. Each kernel calls a device function whose Python source is run
by plain Python over a host copy (a NumPy recarray) for the expected
result. Runs on the cpu device and, gpu-marked, on a CUDA GPU (conftest
also compiles each kernel to PTX and assembles it); the arguments a CUDA
launch packs are read back from the fake driver."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda

REC = np.dtype([("a", np.float64), ("b", np.int32), ("h", np.float32, 2)], align=True)


@pytest.fixture(autouse=True)
def _dev(kernel_device):
    yield


def records(shape, seed=0):
    rng = np.random.default_rng(seed)
    host = np.zeros(shape, REC)
    host["a"] = rng.integers(-50, 50, size=shape) / 4
    host["b"] = rng.integers(-9, 9, size=shape)
    host["h"] = rng.integers(0, 20, size=shape + (2,)) / 2
    return host


def body(recs, out, i):
    out[i] = recs[i].a * recs[i]["b"] + recs[i].h[1]
    recs[i].a = recs[i].b + 0.5
    recs[i]["b"] = i * 3
    recs[i].h[0] = recs[i].h[1] - 1


body_dev = cuda.jit(device=True)(body)


@cuda.jit
def over_records(recs, out):
    i = cuda.grid(1)
    if i < recs.shape[0]:
        body_dev(recs, out, i)


def expected(host):
    recs = host.copy().view(np.recarray)
    out = np.zeros(len(recs))
    for i in range(len(recs)):
        body(recs, out, i)
    return recs.view(np.ndarray), out


@pytest.mark.parametrize("make", ["to_device", "device_array"])
def test_kernel_reads_and_writes_fields(make):
    host = records((9,))
    if make == "to_device":
        d = cuda.to_device(host)
    else:
        d = cuda.device_array(9, dtype=REC)
        d.copy_to_device(host)
    out = cuda.device_array(9)
    over_records[1, 16](d, out)
    want_recs, want_out = expected(host)
    np.testing.assert_array_equal(out.copy_to_host(), want_out)
    np.testing.assert_array_equal(d.copy_to_host(), want_recs)


def test_kernel_on_a_strided_view_leaves_the_rest_alone():
    host = records((10,), seed=1)
    d = cuda.to_device(host)
    out = cuda.device_array(5)
    over_records[1, 8](d[1::2], out)
    want = host.copy()
    want[1::2], want_out = expected(host[1::2])
    np.testing.assert_array_equal(out.copy_to_host(), want_out)
    np.testing.assert_array_equal(d.copy_to_host(), want)


@cuda.jit
def grid_product(grid2d, out):
    i, j = cuda.grid(2)
    if i < grid2d.shape[0] and j < grid2d.shape[1]:
        out[i, j] = grid2d[i, j].a * grid2d[i, j]["b"]
        grid2d[i, j].b = i * 10 + j


def test_two_dimensional_and_transposed():
    host = records((3, 5), seed=2)
    for view in (lambda a: a, lambda a: a.T, lambda a: a[:, ::2]):
        d = cuda.to_device(host)
        v = view(d)
        out = cuda.device_array(v.shape)
        grid_product[(1, 1), (8, 8)](v, out)
        ref = view(host.copy())
        np.testing.assert_array_equal(out.copy_to_host(), ref["a"] * ref["b"])
        ref["b"] = np.arange(ref.shape[0])[:, None] * 10 + np.arange(ref.shape[1])
        np.testing.assert_array_equal(view(d.copy_to_host()), ref)


def rec_body(r, out):
    out[0] = r.a + r["b"] * r.h[1]
    r.b = 77
    r.h[1] = r.a


rec_dev = cuda.jit(device=True)(rec_body)


@cuda.jit
def one_record(r, out):
    rec_dev(r, out)


def test_device_record_arguments_by_reference():
    host = records((4,), seed=3)
    d = cuda.to_device(host)
    for k in (0, 3):
        want = host.copy().view(np.recarray)
        want_out = np.zeros(1)
        rec_body(want[k], want_out)
        dr = cuda.to_device(host[k])               # a record of its own
        out = cuda.device_array(1)
        one_record[1, 1](dr, out)
        np.testing.assert_array_equal(out.copy_to_host(), want_out)
        assert dr.copy_to_host()[()] == want[k]
        one_record[1, 1](d[k], out)                # a record of an array
        host = host.copy()
        host[k] = want[k]
        np.testing.assert_array_equal(d.copy_to_host(), host)


def test_a_field_kernels_cannot_read_is_a_clear_error():
    d = cuda.to_device(np.zeros(2, [("s", [("a", np.int32)]), ("x", np.int32)]))  # nested
    with pytest.raises(TypeError, match=r"over_records: argument 1 \('recs'\).*field 's'"):
        over_records[1, 2](d, cuda.device_array(2))
    with pytest.raises(TypeError, match=r"argument 1 \('r'\).*field 's'"):
        one_record[1, 1](d[0], cuda.device_array(1))


def test_cuda_launch_packs_record_arrays(fake_cuda_lib, nvvm):
    """Through the fake driver: a record array is packed as {pointer, shape,
    strides in bytes}, a DeviceRecord as a 1-element array."""
    code = r'''
import ctypes, os, struct
import numpy as np
from ember import cuda
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
cuda.select_device(0)
REC = np.dtype([("a", np.float64), ("b", np.int32), ("h", np.float32, 2)], align=True)

def params():
    dims = (ctypes.c_uint * 7)()
    stream = ctypes.c_void_p()
    buf = ctypes.create_string_buffer(4096)
    size = ctypes.c_size_t()
    name = ctypes.create_string_buffer(256)
    fake.fake_cuda_last_launch(dims, ctypes.byref(stream), buf, ctypes.c_size_t(4096),
                               ctypes.byref(size), name, ctypes.c_size_t(256))
    return struct.unpack("<%dq" % (size.value // 8), buf.raw[:size.value])

@cuda.jit
def k(recs, out):
    i = cuda.grid(1)
    if i < recs.shape[0]:
        out[i] = recs[i].a + recs[i].h[1]
        recs[i].b = i

@cuda.jit
def r(rec, out):
    out[0] = rec.a
    rec.b = 5

d = cuda.to_device(np.zeros(6, REC))
out = cuda.device_array(6)
k[1, 8](d, out)
p = params()
assert p[:3] == (d.device_pointer, 6, REC.itemsize), p
k[1, 8](d[1::2], out)
p = params()
assert p[:3] == (d.device_pointer + REC.itemsize, 3, 2 * REC.itemsize), p
rec = d[4]
r[1, 1](rec, out)
p = params()
assert p[:3] == (d.device_pointer + 4 * REC.itemsize, 1, REC.itemsize), p
print("ok")
'''
    env = dict(os.environ, EMBER_CUDA_DRIVER=fake_cuda_lib, FAKE_CUDA_DEVICES="1",
               PYTHONPATH=str(ROOT / "python"))
    env.pop("EMBER_DEVICE", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
