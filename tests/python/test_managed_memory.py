"""cuda.managed_array and cuda.mapped_array(_like): host NumPy arrays that
kernels use without a copy. On the CPU device the kernel's writes are read
back through NumPy; on a CUDA device (the stand-in driver, tests/fake_cuda)
managed memory comes from cuMemAllocManaged, the launch gets its address
and no byte is copied."""

import numpy as np
import pytest

from ember import cuda
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


@cuda.jit
def inc(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += 1


@pytest.mark.parametrize("make", [
    lambda: cuda.managed_array(10, dtype=np.float32),
    lambda: cuda.mapped_array(10, dtype=np.float32),
    lambda: cuda.mapped_array_like(np.zeros(10, np.float32)),
])
def test_kernel_writes_are_seen_by_the_host(cpu_device, make):
    m = make()
    m[:] = np.arange(10)
    inc[1, 32](m)
    np.testing.assert_array_equal(m, np.arange(1, 11, dtype=np.float32))
    inc[1, 32](m[::2])                     # a strided view of it
    np.testing.assert_array_equal(m[::2], np.arange(2, 12, 2, dtype=np.float32))


def test_like_keeps_order_and_dtype(cpu_device):
    mp = cuda.mapped_array_like(np.zeros((2, 3), dtype=np.int16, order="F"))
    assert mp.flags.f_contiguous and mp.dtype == np.int16 and mp.shape == (2, 3)
    assert isinstance(cuda.managed_array((2, 2)), cuda.ManagedNDArray)


def test_attached_to_the_host_works_on_the_cpu_device(cpu_device):
    m = cuda.managed_array(10, dtype=np.int32, attach_global=False)
    assert isinstance(m, cuda.ManagedNDArray)
    m[:] = np.arange(10)
    inc[1, 32](m)
    np.testing.assert_array_equal(m, np.arange(1, 11))


def test_cuda_device_passes_the_address_and_copies_nothing(env, tmp_path):
    script = tmp_path / "managed.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def inc(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += 1

for make in (cuda.managed_array, cuda.mapped_array):
    m = make(64, dtype=np.float32)
    m[:] = 1
    inc[1, 64](np.zeros(1, np.float32))   # compile and load first
    runtime.reset_stats()
    inc[1, 64](m)
    s = runtime.stats()
    params = last_launch()["params"]
    ptr = m.__array_interface__["data"][0] if make is cuda.managed_array else m.device_pointer
    print(make.__name__, s["htod_bytes"], s["dtoh_bytes"],
          struct.pack("<Q", ptr) in params, m.__cuda_array_interface__["data"][0] == ptr)
''')
    out = run_script(script, env).split()
    assert out == ["managed_array", "0", "0", "True", "True",
                   "mapped_array", "0", "0", "True", "True"]


def test_cuda_device_attaches_to_the_host_when_asked(env, tmp_path):
    script = tmp_path / "attach.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_count.restype = ctypes.c_long
host_attached = lambda: fake.fake_cuda_count(b"cuMemAllocManaged(ATTACH_HOST)")
g = cuda.managed_array(1000, dtype=np.float64)
n_global = host_attached()
h = cuda.managed_array(1000, dtype=np.float64, attach_global=False)
h[:] = np.arange(1000)                    # the host uses it at its address
m = cuda.current_context().memallocmanaged(64, attach_global=False)
print(n_global, host_attached(), h.sum() == np.arange(1000).sum(),
      h.__array_interface__["data"][0] == h.device_pointer)
''')
    assert run_script(script, env).split() == ["0", "2", "True", "True"]
