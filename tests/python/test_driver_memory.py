"""cuda.cudadrv.driver's raw memory operations (device_memset,
host_to_device, device_to_host, device_to_device, device_memory_size,
host_memory_size), the buffer protocol of the host-memory objects
(MappedMemory, PinnedMemory, ManagedMemory: np.ndarray(buffer=...)), and
the driver object's get_device_count.

On the cpu device the fills and copies run in host memory and are compared
with the same bytes written by NumPy; with the stand-in driver
(tests/fake_cuda) device_memset reaches cuMemsetD8 / cuMemsetD8Async on
device, pinned and mapped memory, is recorded by a graph capture, and
sizes past the memory are refused before any driver call.
"""

import numpy as np
import pytest

from ember import cuda
from ember.cuda.cudadrv import driver
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


@pytest.fixture(autouse=True)
def on_cpu(cpu_device):
    yield


def _expect_fill(host, value, nbytes):
    """``host``'s bytes with the first ``nbytes`` set to ``value`` (NumPy)."""
    want = host.copy()
    want.view(np.uint8).reshape(-1)[:nbytes] = value
    return want


def test_device_memset_of_a_device_array_and_a_view():
    host = np.arange(40, dtype=np.int32)
    d = cuda.to_device(host)
    driver.device_memset(d, 0xAB, 10)
    np.testing.assert_array_equal(d.copy_to_host(), _expect_fill(host, 0xAB, 10))
    v = d[20:]                                   # a view: its own address, to the end
    assert driver.device_memory_size(v) == 20 * 4
    assert driver.device_memory_size(d) == host.nbytes
    driver.device_memset(v, 0x01, driver.device_memory_size(v), stream=cuda.stream())
    want = _expect_fill(host, 0xAB, 10)
    want[20:] = 0x01010101
    np.testing.assert_array_equal(d.copy_to_host(), want)


def test_device_memset_refuses_what_goes_past_the_memory():
    d = cuda.to_device(np.arange(8, dtype=np.int64))
    with pytest.raises(ValueError, match="65 bytes do not fit in the 64 bytes"):
        driver.device_memset(d, 1, 65)
    with pytest.raises(ValueError, match="16 bytes do not fit in the 8 bytes"):
        driver.device_memset(d[7:], 1, 16)
    with pytest.raises(ValueError, match="0 .. 255"):
        driver.device_memset(d, 256, 8)
    with pytest.raises(TypeError, match="Not a CUDA memory object"):
        driver.device_memset(np.zeros(8), 0, 8)
    np.testing.assert_array_equal(d.copy_to_host(), np.arange(8))  # nothing written


def test_mapped_and_pinned_arrays_like_numbas_test_host_alloc():
    ary = cuda.mapped_array(10, dtype=np.uint32)
    ary.fill(123)
    assert driver.is_device_memory(ary) and driver.device_memory_size(ary) == 40
    driver.device_memset(ary[2:], 0, 8)          # mapped: the host sees the fill
    want = np.full(10, 123, np.uint32)
    want[2:4] = 0
    np.testing.assert_array_equal(ary, want)
    pinned = cuda.pinned_array(10, dtype=np.uint32)
    pinned.fill(7)
    dev = cuda.to_device(pinned)
    driver.device_memset(dev, 0xFF, driver.device_memory_size(dev))
    np.testing.assert_array_equal(pinned, 7)    # the device copy only
    dev.copy_to_host(pinned)
    np.testing.assert_array_equal(pinned, np.uint32(0xFFFFFFFF))


def test_memhostalloc_exports_its_bytes_and_takes_raw_operations():
    n = 32
    mem = cuda.current_context().memhostalloc(n, mapped=True)
    ary = np.ndarray(shape=n, dtype=np.uint8, buffer=mem)
    assert driver.host_memory_size(mem) == n
    driver.device_memset(mem, 0xAB, n)
    np.testing.assert_array_equal(ary, 0xAB)
    ary[:] = np.arange(n)
    recv = np.empty_like(ary)
    driver.device_to_host(recv, mem, n)
    np.testing.assert_array_equal(recv, np.arange(n))
    pinned = cuda.current_context().memhostalloc(16)
    view = np.frombuffer(pinned, dtype=np.uint32)
    view[:] = [1, 2, 3, 4]
    assert memoryview(pinned).nbytes == 16 and not memoryview(pinned).readonly
    del mem, ary  # the export kept the memory alive while it was used


def test_host_to_device_and_device_to_device():
    src = np.arange(16, dtype=np.float64)
    d = cuda.device_array(16, np.float64)
    driver.device_memset(d, 0, driver.device_memory_size(d))
    driver.host_to_device(d, src, 8 * 8)
    want = np.zeros(16)
    want[:8] = src[:8]
    np.testing.assert_array_equal(d.copy_to_host(), want)
    e = cuda.device_array(16, np.float64)
    driver.device_to_device(e, d, d.nbytes)
    np.testing.assert_array_equal(e.copy_to_host(), want)
    mem = cuda.current_context().memalloc(64)       # a MemoryPointer
    driver.host_to_device(mem, src, 64)
    back = np.zeros(8)
    driver.device_to_host(back, mem, 64)
    np.testing.assert_array_equal(back, src[:8])
    with pytest.raises(ValueError, match="read-only"):
        driver.device_to_host(np.frombuffer(bytes(64)), mem, 64)
    with pytest.raises(ValueError, match="72 bytes do not fit in the 64 bytes of device"):
        driver.host_to_device(mem, np.zeros(9), 72)
    with pytest.raises(ValueError, match="must be contiguous"):
        driver.device_to_host(np.zeros((8, 2))[:, 0], mem, 64)


def test_driver_object_counts_the_devices_select_device_takes():
    assert driver.driver.get_device_count() == len(cuda.gpus)
    for d in range(driver.driver.get_device_count()):
        cuda.select_device(d)
        cuda.close()
    assert driver.driver.is_available == cuda.is_available()


def test_cuda_device_memset_reaches_the_driver(env, tmp_path):
    script = tmp_path / "memset.py"
    script.write_text(PRELUDE + r'''
from ember.cuda.cudadrv import driver
fake.fake_cuda_log_text.restype = ctypes.c_size_t
def log():
    buf = ctypes.create_string_buffer(1 << 16)
    fake.fake_cuda_log_text(buf, ctypes.c_size_t(1 << 16))
    return [l for l in buf.value.decode().splitlines() if "memset" in l]

host = np.arange(64, dtype=np.uint8)
d = cuda.to_device(host)
fake.fake_cuda_log(1)
driver.device_memset(d[8:], 7, 16)
s = cuda.stream()
driver.device_memset(d[40:], 9, 8, stream=s)
s.synchronize()
want = host.copy(); want[8:24] = 7; want[40:48] = 9
ok_device = np.array_equal(d.copy_to_host(), want)

mapped = cuda.mapped_array(16, np.uint8)
mapped[:] = 1
driver.device_memset(mapped, 5, 16)        # the mapped device address
ok_mapped = bool((mapped == 5).all())
mem = cuda.current_context().memhostalloc(16, mapped=True)
hostview = np.ndarray(16, np.uint8, buffer=mem)
hostview[:] = 1
driver.device_memset(mem, 6, 12)                # through its device address
ok_pinned = hostview.tolist() == [6] * 12 + [1] * 4
try:
    driver.device_memset(cuda.current_context().memhostalloc(16), 0, 16)
    ok_pinned = False                           # pinned without a map: host memory only
except TypeError:
    pass
try:
    driver.device_memset(d, 0, 65)
    refused = False
except ValueError:
    refused = True

# a capture records the fill, the graph replays it
g = cuda.stream()
with cuda.graph_capture(g) as graph:
    driver.device_memset(d, 3, 4, stream=g)
driver.device_memset(d, 0, 4)
graph.launch(g)
g.synchronize()
ok_graph = bool((d.copy_to_host()[:4] == 3).all())
print(ok_device, ok_mapped, ok_pinned, refused, ok_graph, log())
''')
    out = run_script(script, env)
    assert out.startswith("True True True True True"), out
    lines = eval(out[out.index("["):])
    assert lines == ["memset 0 16", "memset 1 8", "memset 0 16", "memset 0 12",
                     "capture memset 2 4", "memset 0 4", "memset 2 4"], lines


def test_host_memory_buffer_protocol_errors_and_managed_memory():
    from ember import _ember

    class NoAddress(_ember.HostMemory):
        pass

    with pytest.raises(BufferError, match="has no _bufptr_"):
        memoryview(NoAddress())

    class Negative(_ember.HostMemory):
        _bufptr_ = 4096
        _buflen_ = -1

    with pytest.raises(BufferError, match="_buflen_ is negative"):
        memoryview(Negative())
    managed = cuda.current_context().memallocmanaged(24)
    view = np.frombuffer(managed, dtype=np.int64)
    view[:] = [4, 5, 6]
    back = np.zeros(3, np.int64)
    driver.device_to_host(back, managed, 24)
    np.testing.assert_array_equal(back, [4, 5, 6])
