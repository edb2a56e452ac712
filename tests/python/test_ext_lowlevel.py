"""Tests of the low-level extension API ``ember._ember``.

Every device test runs on the cpu device, and on CUDA device 0 when one is
present (a real GPU, or the fake driver named by EMBER_CUDA_DRIVER). Results
are compared with NumPy; error paths are checked for their exception type
and for a message naming what was wrong.
"""

import gc
import os
import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest

from ember import _ember as E
from ember import errors

DEVICES = [("cpu", 0)] + ([("cuda", 0)] if E.device_count("cuda") > 0 else [])

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]

# ember_status values (include/ember/ember.h).
INVALID_ARG, OUT_OF_MEMORY, DEVICE_OUT_OF_MEMORY, NOT_FOUND, NOT_SUPPORTED, NO_DRIVER, \
    DRIVER, DEVICE_MISMATCH, OUT_OF_BOUNDS, NOT_READY, SYSTEM, INTERNAL = range(1, 13)


@pytest.fixture(params=DEVICES, ids=lambda d: "%s%d" % d)
def dev(request):
    return request.param


def random_array(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def to_dev(host, dev, cls=None, memkind="device"):
    a = E.empty(cls or E.Array, dev[0], dev[1], host.shape, host.dtype, memkind=memkind)
    a._copy_from(host)
    return a


def to_host(a):
    out = np.empty(a.shape, a.dtype)
    a._copy_to(out)
    return out


# ---------------------------------------------------------------------------
# Devices and runtime queries
# ---------------------------------------------------------------------------

def test_device_count_and_kinds():
    assert E.device_count("cpu") == 1
    assert E.device_count("cuda") >= 0
    assert E.kind_unavailable_reason("cpu") == ""
    if E.device_count("cuda") == 0:
        assert E.kind_unavailable_reason("cuda") != ""
    with pytest.raises(TypeError, match="kind must be a str"):
        E.device_count(0)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'.*'tpu'"):
        E.device_count("tpu")


def test_device_info(dev):
    info = E.device_info(*dev)
    assert set(info) == {"kind", "ordinal", "name", "compute_capability", "total_memory",
                         "multiprocessors", "max_threads_per_block", "warp_size",
                         "max_shared_memory_per_block", "max_shared_memory_per_block_optin",
                         "pci_bus_id", "near_cpus"}
    assert (info["kind"], info["ordinal"]) == dev
    assert isinstance(info["name"], str) and info["name"]
    cc = info["compute_capability"]
    assert isinstance(cc, tuple) and len(cc) == 2 and all(isinstance(x, int) for x in cc)
    assert info["total_memory"] > 0
    assert info["multiprocessors"] >= 1
    assert info["max_threads_per_block"] == 1024
    assert info["warp_size"] == 32
    assert info["max_shared_memory_per_block_optin"] >= info["max_shared_memory_per_block"]
    if dev[0] == "cpu":
        assert cc == (0, 0) and info["pci_bus_id"] == ""


def test_device_arguments_are_validated():
    with pytest.raises(ValueError, match="one cpu device"):
        E.device_info("cpu", 1)
    with pytest.raises(ValueError, match="ordinal must be >= 0"):
        E.device_info("cpu", -1)
    with pytest.raises(TypeError, match="ordinal must be an int"):
        E.device_info("cpu", "0")
    with pytest.raises(ValueError, match="ordinal must be >= 0|64-bit"):
        E.device_info("cpu", 2**70)
    with pytest.raises(TypeError, match="missing required argument 'ordinal'"):
        E.device_info("cpu")
    with pytest.raises(TypeError, match="unexpected keyword argument 'ordnal'"):
        E.device_info("cpu", ordnal=0)
    with pytest.raises(TypeError, match="multiple values for argument 'kind'"):
        E.device_info("cpu", 0, kind="cpu")
    with pytest.raises(TypeError, match="at most 2 arguments"):
        E.device_info("cpu", 0, 1)
    assert E.device_info(kind="cpu", ordinal=0)["kind"] == "cpu"
    if E.device_count("cuda") == 0:
        with pytest.raises(ValueError, match="no CUDA device"):
            E.device_info("cuda", 0)


def test_default_device_honours_EMBER_DEVICE():
    code = "from ember import _ember as E; print(E.default_device())"
    env = dict(os.environ, EMBER_DEVICE="cpu")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "('cpu', 0)"
    kind, ordinal = E.default_device()
    assert kind == ("cuda" if E.device_count("cuda") and os.environ.get("EMBER_DEVICE") != "cpu"
                    else "cpu")
    assert ordinal == 0


def test_memory_info_and_synchronize(dev):
    free, total = E.memory_info(*dev)
    assert 0 <= free <= total and total > 0
    assert E.synchronize(*dev) is None
    assert E.synchronize(kind=dev[0], ordinal=dev[1]) is None


def test_cpu_topology():
    t = E.cpu_topology()
    assert set(t) == {"packages", "cores", "pus", "numa_nodes", "l1d_bytes", "l2_bytes",
                      "l3_bytes", "workers", "model", "blas"}
    assert t["pus"] >= 1 and t["workers"] >= 1 and isinstance(t["model"], str)
    assert isinstance(t["blas"], str)
    assert E.device_info("cpu", 0)["multiprocessors"] == t["workers"]


def test_init_is_idempotent():
    assert E.init() is None
    assert E.init() is None


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_supported_dtypes(dtype):
    assert E.dtype_supported(dtype) is True
    assert E.dtype_supported(np.dtype(dtype)) is True
    assert E.check_dtype(dtype) == np.dtype(dtype)


def test_integer_aliases_are_supported():
    for code in "bhilqBHILQ":
        assert E.dtype_supported(code), code
    assert E.check_dtype("q") == np.int64
    assert E.check_dtype("=f4") == np.float32


@pytest.mark.parametrize("dtype", [object, "U3", "S2", "M8[s]", "m8[s]", np.longdouble,
                                   [("a", "i4"), ("o", object)], ("f4", (2,)), "V8",
                                   np.dtype({"names": [], "formats": []})])
def test_unsupported_dtypes(dtype):
    assert E.dtype_supported(dtype) is False
    with pytest.raises(TypeError, match="unsupported dtype '.*': ember arrays hold bool, "
                                        "integer, float and complex numbers"):
        E.check_dtype(dtype)
    with pytest.raises(TypeError, match="unsupported dtype"):
        E.empty(E.Array, "cpu", 0, (2,), dtype)


@pytest.mark.parametrize("dtype", [[("a", "i4"), ("b", "f8")],
                                   np.dtype([("a", "i1"), ("s", "U2"), ("m", ">i4", 3)],
                                            align=True)])
def test_record_dtypes_are_held_as_given(dtype):
    """A structured dtype is kept as it is (fields of either byte order, no
    canonical form); its items are the dtype's itemsize."""
    dtype = np.dtype(dtype)
    assert E.dtype_supported(dtype) is True and E.check_dtype(dtype) == dtype
    a = E.empty(E.Array, "cpu", 0, (2, 3), dtype)
    assert a.dtype == dtype and a.itemsize == dtype.itemsize
    assert a.strides == (3 * dtype.itemsize, dtype.itemsize) and a.nbytes == 6 * dtype.itemsize


def test_non_native_byte_order():
    other = ">" if sys.byteorder == "little" else "<"
    dt = np.dtype(other + "f4")
    assert E.dtype_supported(dt) is False
    with pytest.raises(TypeError, match=r"not in native byte order.*newbyteorder\('='\)"):
        E.check_dtype(dt)
    a = E.empty(E.Array, "cpu", 0, (3,), np.float32)
    with pytest.raises(TypeError, match="native byte order"):
        a._copy_from(np.arange(3, dtype=dt))


def test_bad_dtype_arguments():
    with pytest.raises(TypeError, match="not None"):
        E.dtype_supported(None)
    with pytest.raises(TypeError, match="not None"):
        E.empty(E.Array, "cpu", 0, (2,), None)
    with pytest.raises(TypeError, match="dtype: 'nonsense' is not a dtype"):
        E.empty(E.Array, "cpu", 0, (2,), "nonsense")
    with pytest.raises(TypeError):
        E.check_dtype(3.5)


# ---------------------------------------------------------------------------
# Arrays: creation and attributes
# ---------------------------------------------------------------------------

def test_array_cannot_be_constructed_directly():
    with pytest.raises(TypeError, match="device_array / to_device"):
        E.Array()

    class Sub(E.Array):
        pass

    with pytest.raises(TypeError, match="device_array / to_device"):
        Sub()


@pytest.mark.parametrize("order", ["C", "F"])
def test_empty_attributes(dev, order):
    a = E.empty(E.Array, dev[0], dev[1], (3, 4, 5), np.float64, order)
    assert a.shape == (3, 4, 5)
    assert a.strides == np.empty((3, 4, 5), np.float64, order=order).strides
    assert a.dtype == np.float64 and isinstance(a.dtype, np.dtype)
    assert (a.ndim, a.size, a.itemsize, a.nbytes) == (3, 60, 8, 480)
    assert a.device == dev
    assert a.memkind == "device"
    assert a.buffer_size == 480 and a.offset == 0
    assert a.device_pointer != 0 and a.device_pointer % 256 == 0
    assert a.is_c_contiguous() == (order == "C")
    assert a.is_f_contiguous() == (order == "F")
    assert isinstance(a.buffer_id, int)
    for attr in ("shape", "dtype", "device", "offset"):
        with pytest.raises(AttributeError):
            setattr(a, attr, None)


def test_empty_zero_size_and_0d(dev):
    z = E.empty(E.Array, dev[0], dev[1], (0, 5), np.int32)
    assert z.size == 0 and z.nbytes == 0 and z.buffer_size == 0 and z.shape == (0, 5)
    s = E.empty(E.Array, dev[0], dev[1], (), np.complex128)
    assert s.shape == () and s.strides == () and s.size == 1 and s.nbytes == 16
    x = np.array(3 - 4j)
    s._copy_from(x)
    assert to_host(s) == x
    one = E.empty(E.Array, dev[0], dev[1], 7, np.int8)  # an int is a 1-d shape
    assert one.shape == (7,)


def test_empty_with_strides(dev):
    # 3 x 4 float32 with a padded row pitch of 32 bytes: 2 * 32 + 3 * 4 + 4 bytes.
    a = E.empty(E.Array, dev[0], dev[1], (3, 4), np.float32, strides=(32, 4))
    assert a.strides == (32, 4) and a.buffer_size == 2 * 32 + 3 * 4 + 4
    assert not a.is_c_contiguous()
    host = random_array((3, 4), np.float32)
    a._copy_from(host)
    np.testing.assert_array_equal(to_host(a), host)
    # Broadcast (zero) strides need a single element.
    b = E.empty(E.Array, dev[0], dev[1], (5, 6), np.int64, strides=(0, 0))
    assert b.buffer_size == 8
    c = E.empty(E.Array, dev[0], dev[1], (5, 0), np.int64, strides=(8, 8))
    assert c.buffer_size == 0


def test_empty_argument_errors():
    mk = lambda *a, **k: E.empty(E.Array, "cpu", 0, *a, **k)  # noqa: E731
    with pytest.raises(ValueError, match=r"shape\[1\] is -2: dimensions must be >= 0"):
        mk((3, -2), np.float32)
    with pytest.raises(TypeError, match=r"shape\[0\] must be an int, not float"):
        mk((3.0,), np.float32)
    with pytest.raises(TypeError, match="shape must be a tuple of ints, not str"):
        mk("34", np.float32)
    with pytest.raises(ValueError, match="at most 32"):
        mk((1,) * 33, np.float32)
    with pytest.raises(ValueError, match="order must be 'C' or 'F', not 'K'"):
        mk((3,), np.float32, "K")
    with pytest.raises(ValueError, match="memkind must be 'device', 'pinned', 'mapped' or 'managed'"):
        mk((3,), np.float32, memkind="host")
    with pytest.raises(ValueError, match="strides has 1 entries but the shape has 2"):
        mk((3, 4), np.float32, strides=(4,))
    with pytest.raises(ValueError, match=r"strides\[0\] is -16: strides must be >= 0"):
        mk((3, 4), np.float32, strides=(-16, 4))
    with pytest.raises(TypeError, match="strides must be a tuple of ints"):
        mk((3, 4), np.float32, strides=16)
    with pytest.raises(ValueError, match="overflows"):
        mk((2**40, 2**40), np.float32)
    with pytest.raises(ValueError, match="overflows"):
        mk((3, 3), np.float32, strides=(2**62, 2**62))
    with pytest.raises(TypeError, match="cls must be ember._ember.Array or a subclass"):
        E.empty(object, "cpu", 0, (3,), np.float32)
    with pytest.raises(TypeError, match="cls must be"):
        E.empty(np.ndarray, "cpu", 0, (3,), np.float32)
    with pytest.raises(TypeError, match="cls must be"):
        E.empty(E.Array.__new__, "cpu", 0, (3,), np.float32)


def test_numpy_integers_are_accepted_as_ints():
    a = E.empty(E.Array, "cpu", np.int64(0), (np.int32(2), np.uint8(3)), np.float32)
    assert a.shape == (2, 3)


def test_memkinds(dev):
    for memkind in ("pinned", "mapped"):
        a = E.empty(E.Array, dev[0], dev[1], (4, 4), np.int16, memkind=memkind)
        assert a.memkind == memkind
        host = random_array((4, 4), np.int16)
        a._copy_from(host)
        np.testing.assert_array_equal(to_host(a), host)


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_dtypes(dev, dtype):
    host = random_array((5, 7), dtype, seed=1)
    a = to_dev(host, dev)
    back = to_host(a)
    assert back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)


def host_layouts():
    base = random_array((6, 8, 5), np.float32, seed=2)
    return {
        "C": base.copy(),
        "F": np.asfortranarray(base),
        "strided": random_array((12, 8, 10), np.float32, seed=3)[::2, :, ::2],
        "negative": base[::-1, :, ::-1],
        "transposed": base.transpose(2, 0, 1),
        "broadcast": np.broadcast_to(random_array((1, 8, 1), np.float32), (6, 8, 5)),
    }


@pytest.mark.parametrize("layout", ["C", "F", "strided", "negative", "transposed", "broadcast"])
def test_copy_from_any_layout(dev, layout):
    src = host_layouts()[layout]
    a = E.empty(E.Array, dev[0], dev[1], src.shape, src.dtype)
    a._copy_from(src)
    np.testing.assert_array_equal(to_host(a), src)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "negative", "transposed"])
def test_copy_to_any_layout(dev, layout):
    src = random_array((6, 8, 5), np.float64, seed=4)
    a = to_dev(src, dev)
    target = host_layouts()[layout].astype(np.float64) if layout in ("C", "F") else None
    if layout == "strided":
        big = np.zeros((12, 8, 10))
        target = big[::2, :, ::2]
    elif layout == "negative":
        big = np.zeros((6, 8, 5))
        target = big[::-1, :, ::-1]
    elif layout == "transposed":
        big = np.zeros((5, 6, 8))
        target = big.transpose(1, 2, 0)
    a._copy_to(target)
    np.testing.assert_array_equal(target, src)
    if layout == "strided":  # elements between the strided ones are untouched
        assert not big[1::2].any() and not big[:, :, 1::2].any()


@pytest.mark.parametrize("order", ["C", "F"])
def test_device_layouts_round_trip(dev, order):
    src = random_array((9, 4, 3), np.int32, seed=5)
    a = E.empty(E.Array, dev[0], dev[1], src.shape, src.dtype, order)
    a._copy_from(src)
    np.testing.assert_array_equal(to_host(a), src)
    f = np.empty(src.shape, src.dtype, order="F")
    a._copy_to(f)
    np.testing.assert_array_equal(f, src)


def test_array_to_array_copies(dev):
    src = random_array((4, 6), np.complex64, seed=6)
    a = to_dev(src, dev)
    b = E.empty(E.Array, dev[0], dev[1], (4, 6), np.complex64, "F")
    b._copy_from(a)
    np.testing.assert_array_equal(to_host(b), src)
    c = E.empty(E.Array, "cpu", 0, (4, 6), np.complex64)
    a._copy_to(c)
    np.testing.assert_array_equal(to_host(c), src)


# ---------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------

def test_views_share_the_buffer(dev):
    host = np.arange(24, dtype=np.int32).reshape(4, 6)
    a = to_dev(host, dev)
    # a[1:3, ::2]
    v = a._view(E.Array, 1 * 24, (2, 3), (24, 8))
    assert v.buffer_id == a.buffer_id and v.offset == 24
    assert v.device_pointer == a.device_pointer + 24
    np.testing.assert_array_equal(to_host(v), host[1:3, ::2])
    # Writing through the view shows in the parent.
    v._copy_from(np.full((2, 3), -1, np.int32))
    expect = host.copy()
    expect[1:3, ::2] = -1
    np.testing.assert_array_equal(to_host(a), expect)
    # A view of a view: offsets are relative to the view.
    w = v._view(E.Array, 8, (2,), (24,))
    assert w.offset == 32
    np.testing.assert_array_equal(to_host(w), expect[1:3, 2])
    # Unrelated arrays do not share.
    assert E.empty(E.Array, dev[0], dev[1], (2,), np.int32).buffer_id != a.buffer_id


def test_negative_stride_views(dev):
    host = random_array((5, 4), np.float32, seed=7)
    a = to_dev(host, dev)
    # a[::-1, ::-1]: element 0 is the last element of the buffer.
    r = a._view(E.Array, 4 * 4 * 4 + 3 * 4, (5, 4), (-16, -4))
    np.testing.assert_array_equal(to_host(r), host[::-1, ::-1])
    # Copy a reversed device view into a fresh device array.
    b = E.empty(E.Array, dev[0], dev[1], (5, 4), np.float32)
    b._copy_from(r)
    np.testing.assert_array_equal(to_host(b), host[::-1, ::-1])


def test_view_dtype_and_default_strides(dev):
    host = np.arange(8, dtype=np.uint32)
    a = to_dev(host, dev)
    v = a._view(E.Array, 0, (8,), None, np.float32)
    assert v.dtype == np.float32
    np.testing.assert_array_equal(to_host(v), host.view(np.float32))
    u = a._view(E.Array, 0, (16,), (2,), dtype="u2")
    np.testing.assert_array_equal(to_host(u), host.view(np.uint16))
    c = a._view(E.Array, 4, (2, 3), None)
    assert c.strides == (12, 4)
    np.testing.assert_array_equal(to_host(c), host[1:7].reshape(2, 3))


@pytest.mark.parametrize("offset, shape, strides", [
    (4, (8,), (4,)),           # one element past the end
    (-4, (2,), (4,)),          # before the start
    (0, (9,), (4,)),           # too long
    (0, (2, 3), (24, 4)),      # last row leaves the buffer
    (0, (2,), (-4,)),          # negative stride from element 0 goes below the start
    (0, (2,), (2**62,)),       # extent overflows
    (32, (0,), (4,)),          # empty, but offset is at the end: allowed below
])
def test_out_of_bounds_views_are_rejected(offset, shape, strides):
    a = E.empty(E.Array, "cpu", 0, (8,), np.float32)
    if shape == (0,):
        assert a._view(E.Array, offset, shape, strides).size == 0
        with pytest.raises(ValueError):
            a._view(E.Array, offset + 4, shape, strides)
        return
    with pytest.raises(ValueError, match="_view: .*(outside its buffer|overflow)"):
        a._view(E.Array, offset, shape, strides)


def test_view_argument_errors():
    a = E.empty(E.Array, "cpu", 0, (8,), np.float32)
    with pytest.raises(TypeError, match="offset must be an int"):
        a._view(E.Array, 1.0, (2,), (4,))
    with pytest.raises(TypeError, match="missing required argument 'strides'"):
        a._view(E.Array, 0, (2,))
    with pytest.raises(TypeError, match="cls must be"):
        a._view(dict, 0, (2,), (4,))
    with pytest.raises(ValueError, match="strides has 2 entries"):
        a._view(E.Array, 0, (2,), (4, 4))
    with pytest.raises(TypeError, match="unsupported dtype"):
        a._view(E.Array, 0, (2,), (4,), object)
    with pytest.raises(ValueError, match="offset overflows"):
        a._view(E.Array, 4, (1,), (4,))._view(E.Array, 2**63 - 1, (0,), (4,))


# ---------------------------------------------------------------------------
# Copy errors
# ---------------------------------------------------------------------------

def test_copy_shape_and_dtype_mismatch(dev):
    a = E.empty(E.Array, dev[0], dev[1], (3, 4), np.float32)
    with pytest.raises(ValueError, match=r"shape \(3, 4\) but src has shape \(4, 3\)"):
        a._copy_from(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(3, 4\) but dst has shape \(12,\)"):
        a._copy_to(np.zeros(12, np.float32))
    with pytest.raises(ValueError, match="this array is float32 but src is float64"):
        a._copy_from(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="this array is float32 but dst is int32"):
        a._copy_to(E.empty(E.Array, dev[0], dev[1], (3, 4), np.int32))
    with pytest.raises(TypeError, match="src must be an ember array or a numpy.ndarray, not list"):
        a._copy_from([[0.0] * 4] * 3)
    with pytest.raises(TypeError, match="dst must be an ember array or a numpy.ndarray"):
        a._copy_to(None)
    with pytest.raises(TypeError, match="unsupported dtype"):
        E.empty(E.Array, "cpu", 0, (2,), np.int64)._copy_from(np.array([1, "a"], object))


def test_copy_to_read_only_array_is_refused():
    a = to_dev(np.arange(4.0), ("cpu", 0))
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        a._copy_to(ro)
    assert not ro.any()
    # Reading from a read-only array is fine.
    b = E.empty(E.Array, "cpu", 0, (4,), np.float64)
    b._copy_from(ro)


def test_copy_from_too_many_dimensions():
    a = E.empty(E.Array, "cpu", 0, (1,), np.float32)
    try:
        big = np.zeros((1,) * 33, np.float32)
    except ValueError:
        pytest.skip("this NumPy allows at most 32 dimensions")
    with pytest.raises(ValueError, match="at most 32"):
        a._copy_from(big)


def test_copy_within_one_buffer_overlapping(dev):
    host = np.arange(10, dtype=np.int64)
    a = to_dev(host, dev)
    lo = a._view(E.Array, 0, (8,), (8,))
    hi = a._view(E.Array, 16, (8,), (8,))
    hi._copy_from(lo)  # memmove semantics
    expect = host.copy()
    expect[2:] = host[:8]
    np.testing.assert_array_equal(to_host(a), expect)


# ---------------------------------------------------------------------------
# Transfer counters
# ---------------------------------------------------------------------------

def test_stats_count_exact_bytes(dev):
    host = random_array((3, 4), np.float32)
    gc.collect()  # arrays of earlier tests held in cycles must not be freed below
    E.reset_stats()
    s0 = E.stats()
    assert set(s0) == {"htod_bytes", "htod_copies", "dtoh_bytes", "dtoh_copies", "dtod_bytes",
                       "dtod_copies", "htoh_bytes", "htoh_copies", "allocations", "frees",
                       "bytes_allocated"}
    assert all(s0[k] == 0 for k in s0 if k != "bytes_allocated")
    live = s0["bytes_allocated"]

    a = E.empty(E.Array, dev[0], dev[1], (3, 4), np.float32)
    s = E.stats()
    assert s["allocations"] == 1 and s["bytes_allocated"] == live + 48
    a._copy_from(host)
    a._copy_from(host[::-1])  # a strided source: one copy, 48 payload bytes
    b = E.empty(E.Array, dev[0], dev[1], (3, 4), np.float32)
    b._copy_from(a)
    out = np.empty((3, 4), np.float32)
    b._copy_to(out)
    p = E.empty(E.Array, dev[0], dev[1], (3, 4), np.float32, memkind="pinned")
    p._copy_from(out)  # pinned memory is the host side
    s = E.stats()
    assert (s["htod_bytes"], s["htod_copies"]) == (96, 2)
    assert (s["dtod_bytes"], s["dtod_copies"]) == (48, 1)
    assert (s["dtoh_bytes"], s["dtoh_copies"]) == (48, 1)
    assert (s["htoh_bytes"], s["htoh_copies"]) == (48, 1)
    assert s["allocations"] == 3 and s["frees"] == 0
    assert s["bytes_allocated"] == live + 3 * 48
    del a, b, p
    gc.collect()
    s = E.stats()
    assert s["frees"] == 3 and s["bytes_allocated"] == live
    np.testing.assert_array_equal(out, host[::-1])
    E.reset_stats()
    assert E.stats()["htod_bytes"] == 0


def test_views_allocate_nothing(dev):
    a = E.empty(E.Array, dev[0], dev[1], (16,), np.int8)
    gc.collect()
    E.reset_stats()
    for i in range(8):
        a._view(E.Array, i, (8,), (1,))
    s = E.stats()
    assert s["allocations"] == 0 and s["frees"] == 0


# ---------------------------------------------------------------------------
# Host arrays (pinned / mapped memory)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("memkind", ["pinned", "mapped"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_host_array(dev, memkind, order):
    arr, ptr = E.host_array(dev[0], dev[1], (4, 5), np.float64, order, memkind)
    assert isinstance(arr, np.ndarray)
    assert arr.shape == (4, 5) and arr.dtype == np.float64
    assert arr.flags.writeable and arr.flags.c_contiguous == (order == "C")
    assert arr.flags.f_contiguous == (order == "F")
    assert arr.ctypes.data % 256 == 0
    if dev[0] == "cpu":
        assert ptr == arr.ctypes.data
    arr[...] = random_array((4, 5), np.float64)
    d = to_dev(arr, dev)
    np.testing.assert_array_equal(to_host(d), arr)
    # A slice of a host array copies correctly too (it lies in the ember buffer).
    part = E.empty(E.Array, dev[0], dev[1], (2, 5), np.float64)
    part._copy_from(arr[1:3])
    np.testing.assert_array_equal(to_host(part), arr[1:3])
    back, _ = E.host_array(dev[0], dev[1], (4, 5), np.float64, memkind=memkind)
    d._copy_to(back)
    np.testing.assert_array_equal(back, arr)


def test_host_array_lifetime():
    gc.collect()
    E.reset_stats()
    live = E.stats()["bytes_allocated"]
    arr, _ = E.host_array("cpu", 0, (100,), np.int32)
    view = arr[10:20]
    assert E.stats()["bytes_allocated"] == live + 400
    del arr
    gc.collect()
    assert E.stats()["frees"] == 0  # the view keeps the buffer alive
    view[:] = 7
    assert (view == 7).all()
    del view
    gc.collect()
    s = E.stats()
    assert s["frees"] == 1 and s["bytes_allocated"] == live


def test_host_array_errors():
    with pytest.raises(ValueError, match="memkind must be 'pinned', 'mapped' or 'managed', not 'device'"):
        E.host_array("cpu", 0, (3,), np.float32, memkind="device")
    with pytest.raises(TypeError, match="unsupported dtype"):
        E.host_array("cpu", 0, (3,), "U4")
    with pytest.raises(ValueError, match="dimensions must be >= 0"):
        E.host_array("cpu", 0, (-1,), np.float32)
    empty, _ = E.host_array("cpu", 0, (0, 3), np.float32)
    assert empty.shape == (0, 3)


# ---------------------------------------------------------------------------
# Foreign memory
# ---------------------------------------------------------------------------

class Owner:
    """A weak-referenceable owner of host memory."""

    def __init__(self, arr):
        self.arr = arr


def test_from_device_pointer_keeps_owner_alive():
    data = random_array((6, 5), np.float32, seed=8)
    owner = Owner(data)
    ref = weakref.ref(owner)
    a = E.from_device_pointer(E.Array, "cpu", 0, data.ctypes.data, data.nbytes, (6, 5),
                              None, np.float32, owner)
    assert a.memkind == "foreign" and a.device_pointer == data.ctypes.data
    assert a.buffer_size == data.nbytes
    del owner, data
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(to_host(a), ref().arr)
    v = a._view(E.Array, 20, (5,), (20,))
    del a
    gc.collect()
    assert ref() is not None  # the view holds the buffer, the buffer the owner
    np.testing.assert_array_equal(to_host(v), ref().arr[1:, 0])
    del v
    gc.collect()
    assert ref() is None


def test_from_device_pointer_negative_strides_with_offset():
    base = random_array((4, 3), np.int16, seed=9)
    rev = base[::-1]  # element 0 is the last row
    a = E.from_device_pointer(E.Array, "cpu", 0, base.ctypes.data, base.nbytes, rev.shape,
                              rev.strides, np.int16, base, offset=3 * 6)
    np.testing.assert_array_equal(to_host(a), rev)


def test_from_device_pointer_errors():
    data = np.zeros(8, np.float64)
    p = data.ctypes.data
    f = E.from_device_pointer
    with pytest.raises(ValueError, match="outside its buffer"):
        f(E.Array, "cpu", 0, p, 32, (8,), None, np.float64, data)
    with pytest.raises(ValueError, match="outside its buffer"):
        f(E.Array, "cpu", 0, p, 64, (8,), (-8,), np.float64, data)
    with pytest.raises(ValueError, match="pointer must be an address"):
        f(E.Array, "cpu", 0, -1, 64, (8,), None, np.float64, data)
    with pytest.raises(TypeError, match="pointer must be an int"):
        f(E.Array, "cpu", 0, "0x10", 64, (8,), None, np.float64, data)
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        f(E.Array, "cpu", 0, p, -8, (8,), None, np.float64, data)
    with pytest.raises(ValueError, match="NULL pointer"):
        f(E.Array, "cpu", 0, 0, 64, (8,), None, np.float64, data)
    with pytest.raises(TypeError, match="missing required argument 'owner'"):
        f(E.Array, "cpu", 0, p, 64, (8,), None, np.float64)
    # The owner was not leaked by the failures above.
    assert sys.getrefcount(data) == 2


# ---------------------------------------------------------------------------
# Streams and events
# ---------------------------------------------------------------------------

def test_streams(dev):
    s = E.Stream(*dev)
    assert s.device == dev and not s.is_default and s.handle != 0
    assert s.query() is True
    assert s.synchronize() is None
    d = E.Stream.default(*dev)
    assert d.is_default and d.handle == 0 and d.device == dev
    assert d == E.Stream.default(kind=dev[0], ordinal=dev[1])
    assert hash(d) == hash(E.Stream.default(*dev))
    assert d != s and s == s
    assert {d, E.Stream.default(*dev), s} == {d, s}
    host = random_array((64,), np.float32)
    a = E.empty(E.Array, dev[0], dev[1], host.shape, host.dtype)
    a._copy_from(host, s)
    out = np.empty_like(host)
    a._copy_to(out, stream=s)
    s.synchronize()
    np.testing.assert_array_equal(out, host)
    a._copy_to(out, d)
    assert "default" in repr(d)


def test_stream_errors():
    with pytest.raises(TypeError):
        E.Stream("cpu")
    with pytest.raises(ValueError, match="one cpu device"):
        E.Stream("cpu", 3)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        E.Stream.default("gpu", 0)
    a = E.empty(E.Array, "cpu", 0, (3,), np.float32)
    with pytest.raises(TypeError, match="stream must be an ember Stream or None, not int"):
        a._copy_from(np.zeros(3, np.float32), 0)
    if E.device_count("cuda") == 0:
        with pytest.raises(ValueError, match="no CUDA device"):
            E.Stream("cuda", 0)
    else:
        other = E.Stream.default("cuda", 0)
        with pytest.raises(ValueError, match="stream is on device"):
            a._copy_from(np.zeros(3, np.float32), other)


def test_subclassed_stream_and_event():
    class S(E.Stream):
        pass

    class Ev(E.Event):
        pass

    s = S("cpu", 0)
    s.tag = 1
    d = S.default("cpu", 0)
    assert type(d) is S and d.is_default
    e = Ev("cpu", 0)
    e.record(s)
    assert weakref.ref(e)() is e


def test_events(dev):
    start, end = E.Event(*dev), E.Event(*dev, timing=True)
    assert start.device == dev and start.timing
    assert start.query() is True  # nothing recorded yet: complete
    s = E.Stream(*dev)
    start.record()
    host = random_array((1 << 16,), np.float64)
    a = to_dev(host, dev)
    end.record(s)
    end.synchronize()
    assert end.query() is True
    ms = start.elapsed_time(end)
    assert isinstance(ms, float) and ms >= 0.0
    end.wait(s)
    end.wait()
    np.testing.assert_array_equal(to_host(a), host)


def test_event_errors(dev):
    a, b = E.Event(*dev), E.Event(*dev)
    with pytest.raises(ValueError, match="recorded"):
        a.elapsed_time(b)
    nt = E.Event(*dev, timing=False)
    nt.record()
    a.record()
    with pytest.raises(ValueError, match="timing=True"):
        a.elapsed_time(nt)
    with pytest.raises(TypeError, match="end must be an ember Event, not float"):
        a.elapsed_time(1.0)
    with pytest.raises(TypeError, match="stream must be an ember Stream or None"):
        a.record("default")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        a.record(strem=None)
    if E.device_count("cuda") > 0:
        other = ("cuda", 0) if dev[0] == "cpu" else ("cpu", 0)
        with pytest.raises(ValueError, match="is on device"):
            a.record(E.Stream.default(*other))
        with pytest.raises(ValueError, match="is on device"):
            a.elapsed_time(E.Event(*other))


# ---------------------------------------------------------------------------
# Subclassing, weak references
# ---------------------------------------------------------------------------

def test_subclass_instances():
    class Dev(E.Array):
        def total(self):
            return to_host(self).sum()

    host = np.arange(10, dtype=np.int64)
    d = to_dev(host, ("cpu", 0), cls=Dev)
    assert type(d) is Dev and isinstance(d, E.Array)
    d.note = "hi"  # a __dict__ comes with the subclass
    assert d.__dict__ == {"note": "hi"}
    assert d.total() == 45
    v = d._view(Dev, 8, (4,), (16,))
    assert type(v) is Dev
    np.testing.assert_array_equal(to_host(v), host[1:9:2])
    base_view = d._view(E.Array, 0, (10,), None)
    assert type(base_view) is E.Array
    r = weakref.ref(d)
    del d
    gc.collect()
    assert r() is None


def test_array_weakref_and_repr():
    a = E.empty(E.Array, "cpu", 0, (2, 3), np.float16)
    r = weakref.ref(a)
    assert r() is a
    assert repr(a) == "<ember._ember.Array shape=(2, 3) dtype=float16 device=cpu:0>"
    del a
    assert r() is None


# ---------------------------------------------------------------------------
# Status → exception mapping
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("status, exc", [
    (INVALID_ARG, ValueError), (OUT_OF_BOUNDS, ValueError), (DEVICE_MISMATCH, ValueError),
    (NOT_FOUND, ValueError), (OUT_OF_MEMORY, MemoryError),
    (DEVICE_OUT_OF_MEMORY, errors.CudaAPIError), (DRIVER, errors.CudaAPIError),
    (NO_DRIVER, errors.CudaSupportError), (NOT_SUPPORTED, NotImplementedError),
    (SYSTEM, OSError), (NOT_READY, RuntimeError), (INTERNAL, RuntimeError),
])
def test_status_mapping(status, exc):
    with pytest.raises(exc, match="the message") as info:
        E._raise_status(status, "the message")
    assert type(info.value) is exc


def test_cuda_api_error_fields():
    with pytest.raises(errors.CudaAPIError) as info:
        E._raise_status(DRIVER, "cuMemAlloc failed", 700, "CUDA_ERROR_ILLEGAL_ADDRESS")
    e = info.value
    assert (e.code, e.name, e.msg) == (700, "CUDA_ERROR_ILLEGAL_ADDRESS", "cuMemAlloc failed")
    assert str(e) == "[700] CUDA_ERROR_ILLEGAL_ADDRESS: cuMemAlloc failed"
    # Out of device memory without a driver code (the cpu device) reads as CUDA's OOM.
    with pytest.raises(errors.CudaAPIError) as info:
        E._raise_status(DEVICE_OUT_OF_MEMORY, "no memory")
    assert info.value.code == 2 and info.value.name == "CUDA_ERROR_OUT_OF_MEMORY"
    assert str(info.value) == "[2] CUDA_ERROR_OUT_OF_MEMORY: no memory"


def test_errors_module():
    assert issubclass(errors.CudaSupportError, errors.EmberError)
    assert issubclass(errors.CudaSupportError, RuntimeError)
    assert issubclass(errors.CudaAPIError, errors.EmberError)
    assert issubclass(errors.CudaAPIError, RuntimeError)
    assert issubclass(errors.TypingError, errors.CompilerError)
    assert issubclass(errors.UnsupportedError, errors.CompilerError)
    assert issubclass(errors.CompilerError, errors.EmberError)
    # numba's names are ember's classes
    assert issubclass(errors.CudaAPIError, errors.CudaDriverError)
    assert errors.NumbaPerformanceWarning is errors.EmberPerformanceWarning
    assert issubclass(errors.NumbaPerformanceWarning, errors.NumbaWarning)
    assert issubclass(errors.NumbaDeprecationWarning, DeprecationWarning)
    assert errors.NumbaError is errors.EmberError
    e = errors.CudaAPIError(1, "bad value")  # numba's signature
    assert (e.code, e.name, e.msg) == (1, "CUDA_ERROR_INVALID_VALUE", "bad value")
    assert e.args == (1, "bad value")
    assert str(errors.CudaAPIError(12345, "x")) == "[12345] CUresult 12345: x"
    import pickle
    e2 = pickle.loads(pickle.dumps(errors.CudaAPIError(2, "m", "NAME")))
    assert (e2.code, e2.msg, e2.name) == (2, "m", "NAME")
    for cls in (errors.EmberError, errors.CudaSupportError, errors.CudaAPIError,
                errors.CompilerError, errors.TypingError, errors.UnsupportedError):
        assert cls.__doc__


def test_raise_status_hook_validates():
    with pytest.raises(ValueError):
        E._raise_status(0, "success is not an error")
    with pytest.raises(TypeError):
        E._raise_status(DRIVER, 5)


def test_cpu_out_of_memory_is_cuda_api_error():
    with pytest.raises(errors.CudaAPIError) as info:
        E.empty(E.Array, "cpu", 0, (2**57,), np.float64)  # 2**60 bytes
    assert info.value.code == 2 and "empty" in str(info.value)
    # The runtime is still usable.
    assert to_host(to_dev(np.arange(3.0), ("cpu", 0))).tolist() == [0.0, 1.0, 2.0]


def test_host_allocation_failures_are_memory_errors():
    """Fail the 1st, 2nd, ... host allocation of a scenario until it succeeds."""
    host = random_array((4, 4), np.float32)

    def scenario():
        a = E.empty(E.Array, "cpu", 0, (4, 4), np.float32)
        a._copy_from(host[::-1])
        s = E.Stream("cpu", 0)
        e = E.Event("cpu", 0)
        e.record(s)
        out = np.empty((4, 4), np.float32)
        a._copy_to(out, s)
        return out

    for n in range(1, 50):
        E._fault_fail_at(0, n)
        failed = out = None
        try:
            out = scenario()
        except (MemoryError, errors.CudaAPIError) as exc:
            failed = exc
        finally:
            fired = E._fault_fired(0)
            E._fault_fail_at(0, 0)
        if failed is not None:
            assert fired, failed
            continue
        np.testing.assert_array_equal(out, host[::-1])
        if not fired:
            break
    else:
        pytest.fail("the scenario never succeeded")
    assert n > 3  # several failure points were exercised


@pytest.mark.skipif(E.device_count("cuda") == 0, reason="needs a CUDA device (or the fake driver)")
def test_driver_failures_are_cuda_api_errors():
    """Fail the 1st, 2nd, ... CUDA driver call of a scenario until it succeeds."""
    host = random_array((8, 8), np.float64)
    raised = 0

    def scenario():
        a = E.empty(E.Array, "cuda", 0, (8, 8), np.float64)
        s = E.Stream("cuda", 0)
        a._copy_from(host, s)
        e = E.Event("cuda", 0)
        e.record(s)
        e.synchronize()
        out = np.empty((8, 8))
        a._copy_to(out, s)
        s.synchronize()
        return out

    for n in range(1, 100):
        E._fault_fail_at(1, n)
        failed = out = None
        try:
            out = scenario()
        except errors.CudaAPIError as exc:
            failed = exc
        finally:
            fired = E._fault_fired(1)
            E._fault_fail_at(1, 0)
        if failed is not None:
            assert fired, failed
            assert failed.code == 2 and failed.name == "CUDA_ERROR_OUT_OF_MEMORY", failed
            assert str(failed).startswith("[2] CUDA_ERROR_OUT_OF_MEMORY: ")
            raised += 1
            continue
        np.testing.assert_array_equal(out, host)
        if not fired:
            break
    else:
        pytest.fail("the scenario never succeeded")
    assert raised >= 3
    E.synchronize("cuda", 0)


# ---------------------------------------------------------------------------
# Threads and shutdown
# ---------------------------------------------------------------------------

def test_concurrent_copies(dev):
    errs = []

    def work(seed):
        try:
            host = random_array((256, 33), np.float64, seed=seed)
            for _ in range(20):
                a = to_dev(host[:, ::2], dev)
                np.testing.assert_array_equal(to_host(a), host[:, ::2])
        except Exception as exc:  # pragma: no cover - reported below
            errs.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errs


def test_shutdown_refused_while_objects_live_then_reinit():
    code = """
import gc, numpy as np
from ember import _ember as E
a = E.empty(E.Array, 'cpu', 0, (4,), np.float32)
h, _ = E.host_array('cpu', 0, (4,), np.float32)
try:
    E.shutdown()
except RuntimeError as e:
    assert 'still alive' in str(e), e
else:
    raise SystemExit('shutdown was not refused')
assert E._live_objects() == 2
del a, h
gc.collect()
assert E._live_objects() == 0
E.shutdown()
E.shutdown()
b = E.empty(E.Array, 'cpu', 0, (3,), np.int32)
b._copy_from(np.arange(3, dtype=np.int32))
out = np.zeros(3, np.int32)
b._copy_to(out)
assert out.tolist() == [0, 1, 2]
print('ok')
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
