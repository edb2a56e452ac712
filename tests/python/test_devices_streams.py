"""Devices, contexts, streams and events on the machine's default device
(the CPU device here), and the CPU topology."""

import os
import time

import numpy as np
import pytest

import ember
from ember import cuda
from conftest import run_python


def test_cpu_topology_matches_the_os():
    c = ember.cpu
    assert c.pus == os.cpu_count() or c.pus <= os.cpu_count()
    assert 1 <= c.cores <= c.pus and c.packages >= 1 and c.numa_nodes >= 1
    assert c.workers >= 1 and isinstance(c.model, str) and c.model
    assert set(c.caches) == {"L1d", "L2", "L3"}
    assert "cores" in repr(c)


def test_without_a_gpu_the_default_device_is_the_cpu():
    if cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    dev = cuda.get_current_device()
    assert dev.kind == "cpu" and dev.id == 0 and dev.compute_capability == (9, 0)
    assert dev.WARP_SIZE == 32 and dev.MAX_THREADS_PER_BLOCK == 1024
    assert cuda.select_device(0) == dev  # numba code selecting device 0 keeps working
    with pytest.raises(cuda.CudaSupportError, match="no CUDA device"):
        cuda.select_device(1)
    # cuda.gpus holds the CPU device alone, as gpus[0] (what select_device(0) gives)
    assert len(cuda.gpus) == 1 and list(cuda.gpus) == [dev] and cuda.list_devices() == [dev]
    assert cuda.gpus[0] is dev and cuda.gpus[-1] is dev
    with pytest.raises(IndexError, match=r"cuda.gpus\[1\]: there is no CUDA device"):
        cuda.gpus[1]
    with pytest.raises(TypeError, match="index must be an int"):
        cuda.gpus[True]


def test_gpus_current_is_none_until_a_device_is_used_after_close():
    script = """
from ember import cuda
import numpy as np
assert cuda.gpus.current is None            # a fresh process: no device used yet
a = cuda.to_device(np.arange(4.0))          # using one chooses the default
cur = cuda.gpus.current
assert cur is not None and cur == cuda.get_current_device()
cuda.close()
assert cuda.gpus.current is None            # numba: close() leaves no active context
with cuda.gpus[0]:
    assert cuda.gpus.current.id == 0
    assert cuda.gpus.current is cuda.gpus[0]
assert cuda.gpus.current is None            # the block restores "none chosen"
assert (a.copy_to_host() == np.arange(4.0)).all()   # arrays outlive close()
cuda.device_array(2)                        # a new array chooses the default again
assert cuda.gpus.current == cur
print("ok")
"""
    assert run_python(script).stdout.strip().endswith("ok")


def test_select_device_argument_errors():
    with pytest.raises(TypeError, match="device_id must be an int"):
        cuda.select_device("gpu0")
    with pytest.raises(TypeError, match="device_id must be an int"):
        cuda.select_device(1.0)
    assert cuda.select_device("cpu").kind == "cpu"


def test_detect_prints_and_returns_bool(capsys):
    found = cuda.detect()
    out = capsys.readouterr().out
    assert isinstance(found, bool) and found == cuda.is_available()
    if not found:
        assert "No CUDA devices: no CUDA driver found (looked in" in out or "No CUDA devices" in out
    assert "CPU device:" in out and "Kernels and arrays go to:" in out


def test_memory_info_and_synchronize():
    free, total = cuda.current_context().get_memory_info()
    assert 0 < free <= total
    info = cuda.current_context().get_memory_info()
    assert info.total == total
    cuda.synchronize()
    cuda.current_context().synchronize()


def test_streams_and_events():
    s = cuda.stream()
    assert s.handle != 0 and int(s) == s.handle and s.query() is True
    d = cuda.default_stream()
    assert d.handle == 0
    a = np.arange(100000, dtype=np.float64)
    with s.auto_synchronize():
        dev = cuda.to_device(a, stream=s)
        back = dev.copy_to_host(stream=s)
    assert np.array_equal(back, a)
    e0, e1 = cuda.event(), cuda.event()
    e0.record(s)
    time.sleep(0.02)
    e1.record(s)
    e1.synchronize()
    assert e1.query() is True
    ms = e0.elapsed_time(e1)
    assert 15.0 <= ms < 5000.0
    assert cuda.event_elapsed_time(e0, e1) == ms
    e1.wait(s)
    untimed = cuda.event(timing=False)
    untimed.record()
    with pytest.raises(ValueError, match="timing"):
        e0.elapsed_time(untimed)
    with pytest.raises(TypeError, match="expected an Event"):
        e0.elapsed_time(3)
    with pytest.raises(TypeError, match="stream must be a Stream"):
        e0.record("now")
    assert "stream" in repr(s) and "default stream" in repr(d)


def test_unrecorded_event_elapsed_is_an_error():
    a, b = cuda.event(), cuda.event()
    with pytest.raises(ValueError, match="recorded"):
        a.elapsed_time(b)


def test_ember_device_cpu_forces_the_cpu_device():
    proc = run_python("""
        from ember import cuda
        d = cuda.get_current_device()
        print(d.kind, d.id)
        """, {"EMBER_DEVICE": "cpu"})
    assert proc.stdout.split() == ["cpu", "0"]


def test_no_driver_reason_names_every_place():
    proc = run_python("""
        from ember import cuda, _ember
        print(cuda.is_available())
        print(_ember.kind_unavailable_reason('cuda'))
        """, {"EMBER_CUDA_DRIVER": "/nonexistent/libcuda.so.1"})
    lines = proc.stdout.splitlines()
    assert lines[0] == "False"
    assert lines[1].startswith("no CUDA driver found (looked in:")
    assert "/nonexistent/libcuda.so.1" in lines[1]


def test_cuda_runtime_version_is_the_toolkit_of_libnvvm(nvvm, ptxas):
    """cuda.runtime.get_version(): the release libNVVM's toolkit states;
    its ptxas (same toolkit, found next to libNVVM) says it independently."""
    import re
    import subprocess
    v = cuda.runtime.get_version()
    out = subprocess.run([ptxas, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"release (\d+)\.(\d+)", out)
    assert m, out
    assert v == (int(m.group(1)), int(m.group(2)))
    assert cuda.runtime.is_supported_version() == (v in cuda.runtime.supported_versions)
    assert (13, 0) in cuda.runtime.supported_versions and (11, 1) not in cuda.runtime.supported_versions


def test_cuda_runtime_without_libnvvm_says_where_it_looked():
    proc = run_python("""
from ember import cuda
try:
    cuda.runtime.get_version()
except cuda.CudaSupportError as e:
    print("error:", e)
""", env_extra={"EMBER_NVVM": "/nonexistent/ember-test"})
    assert "error: libNVVM not found" in proc.stdout and "/nonexistent/ember-test" in proc.stdout
