"""Real-GPU checks (marker `gpu`): enumeration, device memory, copies,
pinned and mapped memory, streams and events on an actual CUDA device.
They skip, with the reason, on machines without one."""

import numpy as np
import pytest

import ember
from ember import cuda

pytestmark = pytest.mark.gpu


def test_enumeration_reports_real_properties():
    assert cuda.is_available() and len(cuda.gpus) >= 1
    dev = cuda.select_device(0)
    assert dev.kind == "cuda" and dev.compute_capability >= (5, 0)
    assert dev.MULTIPROCESSOR_COUNT > 0 and dev.WARP_SIZE == 32
    assert dev.pci_bus_id.count(":") == 2
    free, total = cuda.current_context().get_memory_info()
    assert 0 < free <= total == dev.total_memory


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float32, np.float64, np.complex128])
def test_round_trips_and_views(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((257, 129)) * 100).astype(dtype)
    d = cuda.to_device(a)
    assert d.device.kind == "cuda"
    assert np.array_equal(d.copy_to_host(), a)
    assert np.array_equal(d[::-3, 7:100:5].copy_to_host(), a[::-3, 7:100:5])
    d[10:20, ::2] = 0
    a[10:20, ::2] = 0
    assert np.array_equal(d.copy_to_host(), a)
    e = cuda.device_array_like(d)
    e.copy_to_device(d)
    assert np.array_equal(np.asarray(e), a)


def test_pinned_mapped_streams_events():
    n = 1 << 24
    p = cuda.pinned_array(n, np.float32)
    p[:] = np.arange(n, dtype=np.float32)
    s = cuda.stream()
    e0, e1 = cuda.event(), cuda.event()
    e0.record(s)
    d = cuda.to_device(p, stream=s)
    out = cuda.pinned_array_like(p)
    d.copy_to_host(out, stream=s)
    e1.record(s)
    s.synchronize()
    assert np.array_equal(out, p)
    ms = e0.elapsed_time(e1)
    assert ms > 0
    print(f"pinned round trip of {p.nbytes >> 20} MiB: {ms:.3f} ms "
          f"({2 * p.nbytes / ms / 1e6:.1f} GB/s)")
    m = cuda.mapped_array(16, np.int32)
    m[:] = 5
    assert m.__cuda_array_interface__["data"][0] == m.device_pointer


def test_cuda_array_interface_round_trip_through_cupy():
    cupy = pytest.importorskip("cupy")
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    d = cuda.to_device(a)
    c = cupy.asarray(d)  # CuPy reads ember's __cuda_array_interface__ without a copy
    assert np.array_equal(cupy.asnumpy(c), a)
    c *= 2
    assert np.array_equal(d.copy_to_host(), 2 * a)
