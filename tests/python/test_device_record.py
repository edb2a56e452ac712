"""DeviceRecord: one record of a structured dtype in device memory (numba's
cudadrv/devicearray.DeviceRecord). ``darr[i]`` of an array of records,
``cuda.to_device(np_record)``, ``DeviceRecord(dtype)`` and
``from_record_like`` make one; its fields read from and write to the
device. Every read and write is checked against the same one done by NumPy
on a host copy. Runs on the cpu device and, gpu-marked, on a CUDA GPU."""

import numpy as np
import pytest

from ember import cuda
from ember.cuda.devicearray import DeviceNDArray, DeviceRecord, auto_device, from_record_like

INNER = np.dtype([("i", np.int32), ("j", np.float32, (3, 3))])
REC = np.dtype([("a", np.float64), ("b", np.int32), ("c", np.complex64), ("d", (np.str_, 5)),
                ("h", np.float32, 2), ("y", INNER), ("f", np.bool_)], align=True)


@pytest.fixture(autouse=True)
def _dev(kernel_device):
    yield


def records(n):
    host = np.zeros(n, REC)
    for k in range(n):
        host[k] = (k / 2, k + 1, k * 1j, str(k) * 5, (k, -k), (7 * k, (np.arange(9) + k).reshape(3, 3)), k % 2)
    return host


def test_indexing_an_array_of_records_gives_device_records():
    host = records(4)
    d = cuda.to_device(host)
    r = d[2]
    assert isinstance(r, DeviceRecord) and r.shape == () and r.strides == ()
    assert r.dtype == REC and r.alloc_size == REC.itemsize and r.size == 1
    assert r.device_pointer == d.device_pointer + 2 * REC.itemsize
    assert d.getitem(-1).device_pointer == d[3].device_pointer
    assert d[1:3][0].device_pointer == d[1].device_pointer
    full = r.copy_to_host()
    assert full.shape == () and full[()] == host[2]


def test_field_reads_match_numpy():
    host = records(3)
    d = cuda.to_device(host)
    for k in range(3):
        for name in ("a", "b", "c", "d", "f"):
            got = d[k][name]
            want = host[k][name]
            assert got == want and type(got) is type(want), (name, got, want)
        h = d[k]["h"]
        assert isinstance(h, DeviceNDArray) and h.shape == (2,)
        np.testing.assert_array_equal(h.copy_to_host(), host[k]["h"])
        y = d[k]["y"]
        assert isinstance(y, DeviceRecord) and y.dtype == INNER
        assert y["i"] == host[k]["y"]["i"]
        np.testing.assert_array_equal(y["j"].copy_to_host(), host[k]["y"]["j"])
        assert d[k][1] == host[k][1]  # a field by position, as np.void


def test_field_writes_reach_the_array_and_nothing_else():
    host = records(3)
    d = cuda.to_device(host)
    want = host.copy()
    writes = [(1, "a", 2.25), (1, "b", -9), (0, "c", 3 - 4j), (2, "d", "hello"),
              (2, "d", "xy"), (0, "f", True)]
    for k, name, v in writes:
        d[k][name] = v
        want[k][name] = v
        np.testing.assert_array_equal(d.copy_to_host(), want)
    d[1]["h"][1] = 8.5                     # an element of an array field
    want[1]["h"][1] = 8.5
    d[2]["y"]["j"][0, 2] = -1.0            # inside a nested record
    want[2]["y"]["j"][0, 2] = -1.0
    d[0]["y"]["i"] = 41
    want[0]["y"]["i"] = 41
    mat = np.arange(9, dtype=np.float32).reshape(3, 3) * 5
    d[0]["y"]["j"] = mat                   # a whole array field
    want[0]["y"]["j"] = mat
    d[2].setitem("h", [1, 2])
    want[2]["h"] = [1, 2]
    np.testing.assert_array_equal(d.copy_to_host(), want)


def test_to_device_of_a_record_and_copies_into_np_void():
    host = records(2)
    for rec in (host[1], host.view(np.recarray)[1]):      # np.void and np.record
        dr = cuda.to_device(rec)
        assert isinstance(dr, DeviceRecord) and dr.dtype == rec.dtype
        out = np.zeros(1, rec.dtype)[0]
        assert dr.copy_to_host(out) is out and out == host[1]
        zero = np.zeros(1, rec.dtype)[0]
        dr.copy_to_device(zero)
        dr.copy_to_host(out)
        assert out == zero


def test_constructors():
    dt = np.dtype([("a", np.int32), ("b", np.float32)], align=True)
    rec = DeviceRecord(dt)
    assert rec.shape == () and rec.dtype == dt and rec.alloc_size == dt.itemsize
    host = np.array([(10, 11.0)], dt)[0]
    rec.copy_to_device(host)
    assert rec["a"] == 10 and rec["b"] == 11.0
    like = from_record_like(rec)
    assert isinstance(like, DeviceRecord) and like.device_pointer != rec.device_pointer
    got, new = auto_device(host)
    assert isinstance(got, DeviceRecord) and new and got.copy_to_host()[()] == host
    assert auto_device(got) == (got, False)
    assert rec._numba_type_.dtype == dt


def test_errors():
    d = cuda.to_device(records(1))
    with pytest.raises(KeyError, match="no field 'zz'.*a, b, c"):
        d[0]["zz"]
    with pytest.raises(KeyError, match="no field 'zz'"):
        d[0]["zz"] = 1
    with pytest.raises(IndexError, match="field index 9"):
        d[0][9]
    with pytest.raises(ValueError, match="field 'b'"):
        d[0]["b"] = "not a number"
    with pytest.raises(ValueError, match="one int32"):
        d[0]["b"] = [1, 2]
    with pytest.raises(TypeError, match="structured dtype"):
        DeviceRecord(np.float64)
    with pytest.raises(TypeError, match="incompatible dtype"):
        d[0].copy_to_host(np.zeros(1, [("a", np.float64)])[0])
