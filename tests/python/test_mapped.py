"""cuda.mapped(*arrays): host NumPy arrays page-locked and mapped into the
device for a ``with`` block, used by kernels through device arrays over the
same memory. On the CPU device the kernel's writes land in the host arrays
(compared with NumPy); with the stand-in driver (tests/fake_cuda) the range
is registered with DEVICEMAP, the launch gets the mapped device address,
nothing is copied, and the registration ends with the block."""

import numpy as np
import pytest

from ember import cuda
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


@cuda.jit
def scale_add(a, b):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = a[i] * 2 + b[i]


def test_kernel_writes_reach_the_host_arrays(cpu_device):
    a = np.arange(50, dtype=np.float64)
    b = np.linspace(0, 1, 50)
    expect = a * 2 + b
    with cuda.mapped(a, b) as (da, db):
        assert da.device_pointer == a.ctypes.data       # the host memory itself
        scale_add[2, 32](da, db)
    np.testing.assert_allclose(a, expect)


def test_one_array_gives_one_device_array_and_keeps_layout(cpu_device):
    f = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    with cuda.mapped(f, stream=cuda.stream()) as d:
        assert isinstance(d, cuda.DeviceNDArray)
        assert d.shape == (3, 4) and d.strides == f.strides
        np.testing.assert_array_equal(d.copy_to_host(), f)
    with cuda.mapped(np.zeros(0)) as empty:
        assert empty.size == 0


def test_bad_arguments_are_refused_clearly(cpu_device):
    with pytest.raises(TypeError, match="expected NumPy arrays, not list"):
        with cuda.mapped([1, 2, 3]):
            pass
    with pytest.raises(ValueError, match="must be contiguous"):
        with cuda.mapped(np.zeros((4, 4))[:, ::2]):
            pass


def test_cuda_device_maps_registers_and_copies_nothing(env, tmp_path):
    script = tmp_path / "mapped.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def inc(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += 1

host = np.ones(64, np.float32)
inc[1, 64](np.zeros(1, np.float32))   # compile and load first
with cuda.mapped(host) as d:
    registered = fake.fake_cuda_live(b"registered")
    runtime.reset_stats()
    inc[1, 64](d)
    s = runtime.stats()
    params = last_launch()["params"]
    # the fake gives mapped memory a device address unlike the host one
    seen = struct.unpack("<Q", params[:8])[0] == d.device_pointer != host.ctypes.data
    back = d.copy_to_host()               # reads the host bytes through the mapping
print(registered, s["htod_bytes"], s["dtoh_bytes"], seen, np.array_equal(back, host),
      fake.fake_cuda_live(b"registered"))
''')
    out = run_script(script, env).split()
    assert out == ["1", "0", "0", "True", "True", "0"], out
