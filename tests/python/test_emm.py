"""External memory managers (numba's EMM plugin interface, cuda/_emm.py).

On the CPU device a plugin's memory is host memory, so the plugin here
allocates with NumPy: the tests check that ember asks it for the right
number of bytes, puts the arrays' data exactly at the pointers it returned,
computes correctly in that memory (against NumPy), and runs its finalizers
when the last array or view is gone. With the stand-in driver
(tests/fake_cuda) a plugin that allocates with the driver's own cuMemAlloc,
as RMM does, owns every device array: ember's pool makes no allocation.
"""

import ctypes
import gc
import textwrap

import numpy as np
import pytest

from ember import cuda
from ember.cuda import _emm
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)
from conftest import ROOT, run_python


class NumpyPlugin(cuda.HostOnlyCUDAMemoryManager):
    """Allocates with NumPy and records what ember asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initialized = False
        self.sizes = []          # every memalloc size, in order
        self.live = {}           # address -> size of allocations not yet finalized
        self.reset_calls = 0
        self.deferred = 0
        self.host_allocs = []

    def initialize(self):
        self.initialized = True

    def memalloc(self, size):
        if not self.initialized:
            raise RuntimeError("memalloc before initialize")
        buf = np.empty(size + 64, np.uint8)
        addr = (buf.ctypes.data + 63) // 64 * 64
        self.sizes.append(size)
        self.live[addr] = size
        live = self.live

        def finalizer():
            del live[addr]

        return cuda.MemoryPointer(self.context, ctypes.c_void_p(addr), size, owner=buf,
                                  finalizer=finalizer)

    def memhostalloc(self, size, mapped=False, portable=False, wc=False):
        self.host_allocs.append((size, mapped, portable, wc))
        return super().memhostalloc(size, mapped, portable, wc)

    def get_memory_info(self):
        return cuda.MemoryInfo(free=32, total=64)

    def get_ipc_handle(self, memory):
        return ("ipc", memory.device_pointer.value, memory.size)

    def reset(self):
        super().reset()
        self.reset_calls += 1

    def defer_cleanup(self):
        self.deferred += 1
        return super().defer_cleanup()

    @property
    def interface_version(self):
        return 1


@pytest.fixture
def plugin(cpu_device):
    """Installs NumpyPlugin; afterwards ember's own pool again."""
    cuda.close()
    cuda.set_memory_manager(NumpyPlugin)
    yield cuda.current_context().memory_manager
    cuda.close()
    _emm._memory_manager = None
    _emm._managers.clear()


@cuda.jit
def axpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


def test_arrays_live_in_the_plugins_memory_and_compute_right(plugin):
    x = np.linspace(0, 1, 100).astype(np.float32)
    y = np.arange(100, dtype=np.float32)
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    out = cuda.device_array(100, np.float32)
    assert plugin.sizes == [400, 400, 400]
    assert {dx.device_pointer, dy.device_pointer, out.device_pointer} == set(plugin.live)
    axpy[4, 32](np.float32(3), dx, dy, out)
    np.testing.assert_allclose(out.copy_to_host(), np.float32(3) * x + y, rtol=1e-6)
    # host arrays passed to a kernel are copied into plugin memory too (cuda.In)
    res = np.zeros(100, np.float32)
    axpy[4, 32](np.float32(2), cuda.In(x), dy, cuda.Out(res))
    np.testing.assert_allclose(res, np.float32(2) * x + y, rtol=1e-6)


def test_sizes_follow_shape_order_and_strides(plugin):
    cuda.device_array((3, 5), np.float64, order="F")
    cuda.device_array((4, 2), np.int16, strides=(8, 2))     # rows 8 bytes apart
    cuda.device_array_like(np.zeros((2, 3, 4), np.complex64))
    cuda.device_array(0, np.float32)                        # nothing to allocate
    cuda.device_array((5, 0), np.float32)
    assert plugin.sizes == [3 * 5 * 8, 3 * 8 + 2 * 1 + 2, 2 * 3 * 4 * 8]


def test_finalizer_runs_when_the_last_view_is_gone(plugin):
    d = cuda.to_device(np.arange(10.0))
    addr = d.device_pointer
    view = d[2:7]
    del d
    gc.collect()
    assert addr in plugin.live           # the view still uses it
    np.testing.assert_array_equal(view.copy_to_host(), np.arange(2.0, 7.0))
    del view
    assert addr not in plugin.live       # freed at once, through the finalizer
    assert plugin.live == {}


def test_context_delegates_to_the_plugin(plugin):
    ctx = cuda.current_context()
    assert ctx.memory_manager is plugin and plugin.initialized
    assert ctx.get_memory_info() == (32, 64)
    ctx.reset()
    assert plugin.reset_calls == 1
    mem = ctx.memalloc(24)
    assert plugin.sizes[-1] == 24 and mem.device_pointer.value in plugin.live
    with cuda.defer_cleanup():
        assert plugin.deferred == 1
        assert plugin.deallocations.is_disabled
    d = cuda.to_device(np.arange(4))
    assert d.gpu_data.device_pointer.value == d.device_pointer
    h = d.get_ipc_handle()
    assert h._ipc_handle == ("ipc", d.device_pointer, 32)


def test_close_resets_and_a_new_instance_serves_next(plugin):
    d = cuda.to_device(np.ones(3))
    cuda.close()
    assert plugin.reset_calls == 1
    fresh = cuda.current_context().memory_manager
    assert fresh is not plugin and fresh.initialized
    cuda.device_array(2)
    assert fresh.sizes == [16]
    np.testing.assert_array_equal(d.copy_to_host(), np.ones(3))  # still valid


def test_pinned_and_mapped_arrays_come_from_memhostalloc(plugin):
    p = cuda.pinned_array((3, 4), np.float32)
    m = cuda.mapped_array(10, np.int64, portable=True, wc=True)
    assert plugin.host_allocs == [(48, False, False, False), (80, True, True, True)]
    p[:] = 2
    m[:] = np.arange(10)

    @cuda.jit
    def inc(a):
        i = cuda.grid(1)
        if i < a.size:
            a[i] += 1

    inc[1, 32](m)
    np.testing.assert_array_equal(m, np.arange(1, 11))
    assert p.sum() == 24


def test_host_only_base_pins_and_allocates(plugin):
    host = np.arange(8, dtype=np.float64)
    pm = plugin.mempin(host, host.ctypes.data, host.nbytes, mapped=True)
    assert pm.device_pointer.value == host.ctypes.data      # the cpu device: same memory
    managed = plugin.memallocmanaged(64)
    assert managed.size == 64 and managed.device_pointer.value


def test_a_bad_plugin_is_refused_clearly(cpu_device):
    class V2(NumpyPlugin):
        @property
        def interface_version(self):
            return 2

    with pytest.raises(RuntimeError, match="version 1 required"):
        cuda.set_memory_manager(V2)
    with pytest.raises(TypeError, match="BaseCUDAMemoryManager"):
        cuda.set_memory_manager(object)
    assert _emm._memory_manager is None


@pytest.mark.parametrize("result, err, match", [
    (lambda self, size: cuda.MemoryPointer(self.context, ctypes.c_void_p(None), size),
     RuntimeError, "NULL device pointer"),
    (lambda self, size: 12345, TypeError, "not a MemoryPointer"),
])
def test_a_bad_memalloc_result_is_an_error(cpu_device, result, err, match):
    Bad = type("Bad", (NumpyPlugin,), {"memalloc": result})
    cuda.close()
    cuda.set_memory_manager(Bad)
    try:
        with pytest.raises(err, match=match):
            cuda.device_array(4)
    finally:
        _emm._memory_manager = None
        _emm._managers.clear()


def test_the_environment_variable_installs_a_plugin(tmp_path):
    (tmp_path / "myplugin.py").write_text(textwrap.dedent('''
        import ctypes, numpy as np
        from ember import cuda
        calls = []
        class Plugin(cuda.HostOnlyCUDAMemoryManager):
            def initialize(self): pass
            def memalloc(self, size):
                calls.append(size)
                buf = np.empty(size, np.uint8)
                return cuda.MemoryPointer(self.context, ctypes.c_void_p(buf.ctypes.data),
                                          size, owner=buf)
            def get_memory_info(self): return cuda.MemoryInfo(0, 0)
            def get_ipc_handle(self, memory): raise NotImplementedError
            @property
            def interface_version(self): return 1
        _numba_memory_manager = Plugin
    '''))
    code = '''
        import numpy as np, myplugin
        from ember import cuda
        cuda.select_device("cpu")
        d = cuda.to_device(np.arange(5.0))
        print(myplugin.calls, d.copy_to_host().sum())
    '''
    path = {"PYTHONPATH": f"{ROOT / 'python'}:{tmp_path}"}
    for var in ("EMBER_CUDA_MEMORY_MANAGER", "NUMBA_CUDA_MEMORY_MANAGER"):
        out = run_python(code, dict(path, **{var: "myplugin"}))
        assert out.stdout.split() == ["[40]", "10.0"], out.stdout
    bad = run_python('''
        import numpy as np
        from ember import cuda
        cuda.select_device("cpu")
        for _ in range(2):   # every allocation says so, not only the first
            try:
                cuda.device_array(3)
            except RuntimeError as e:
                print(e)
    ''', dict(path, EMBER_CUDA_MEMORY_MANAGER="no_such_plugin_module"))
    lines = bad.stdout.splitlines()
    assert len(lines) == 2 and all(
        "Failed to use memory manager from no_such_plugin_module (EMBER_CUDA_MEMORY_MANAGER): "
        "ModuleNotFoundError" in line for line in lines), bad.stdout


def test_cuda_device_uses_the_plugins_driver_memory_not_the_pool(env, tmp_path):
    # A plugin that allocates with the driver itself, as RMM does; ember's
    # pool must make no cuMemAlloc of its own for these arrays.
    script = tmp_path / "emm.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_count.restype = ctypes.c_long
drv_alloc, drv_free = fake.cuMemAlloc_v2, fake.cuMemFree_v2
freed = []

class DriverPlugin(cuda.HostOnlyCUDAMemoryManager):
    def initialize(self):  # as the CUDA runtime does: the primary context, current
        ctx = ctypes.c_void_p()
        assert fake.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) == 0
        assert fake.cuCtxSetCurrent(ctx) == 0
    def memalloc(self, size):
        p = ctypes.c_uint64()
        assert drv_alloc(ctypes.byref(p), ctypes.c_size_t(size)) == 0
        addr = p.value
        def fin():
            assert drv_free(ctypes.c_uint64(addr)) == 0
            freed.append(addr)
        return cuda.MemoryPointer(self.context, ctypes.c_uint64(addr), size, finalizer=fin)
    def get_memory_info(self): return cuda.MemoryInfo(0, 0)
    def get_ipc_handle(self, memory): raise NotImplementedError
    @property
    def interface_version(self): return 1

cuda.set_memory_manager(DriverPlugin)
x = np.arange(256, dtype=np.float32)
before = fake.fake_cuda_count(b"cuMemAlloc")
d = cuda.to_device(x)
out = cuda.device_array_like(d)
out.copy_to_device(d)
back = out.copy_to_host()
allocs = fake.fake_cuda_count(b"cuMemAlloc") - before
live = fake.fake_cuda_live(b"mem")
addrs = {d.device_pointer, out.device_pointer}
del d, out
print(allocs, live, np.array_equal(back, x), sorted(freed) == sorted(addrs),
      fake.fake_cuda_live(b"mem"))
''')
    out = run_script(script, env).split()
    # two cuMemAlloc, both the plugin's; both freed through its finalizers
    assert out == ["2", "2", "True", "True", "0"], out


def test_context_allocates_ember_memory_without_a_plugin(cpu_device):
    ctx = cuda.current_context()
    assert ctx.memory_manager is None
    for mem in (ctx.memhostalloc(64), ctx.memhostalloc(64, mapped=True)):
        view = np.ctypeslib.as_array((ctypes.c_double * 8).from_address(mem.host_pointer.value))
        view[:] = np.arange(8)                       # the memory is real and writable
        assert view.sum() == 28 and mem.size == 64
    managed = ctx.memallocmanaged(32)
    assert isinstance(managed, cuda.ManagedMemory) and managed.device_pointer.value
    host_attached = ctx.memallocmanaged(32, attach_global=False)
    view = np.ctypeslib.as_array((ctypes.c_int32 * 8).from_address(host_attached._bufptr_))
    view[:] = 7                                      # host-addressable on the cpu device
    assert view.sum() == 56
    host = np.zeros(4)
    pin = ctx.mempin(host, host.ctypes.data, host.nbytes, mapped=True)
    assert pin.device_pointer.value == host.ctypes.data
    dev_mem = ctx.memalloc(24)
    assert dev_mem.size == 24 and dev_mem.device_pointer.value
    s = ctx.create_stream()
    d = cuda.to_device(np.arange(3.0), stream=s)
    s.synchronize()
    np.testing.assert_array_equal(d.copy_to_host(), [0, 1, 2])
    ctx.create_event(timing=False).record(s)


def test_numbas_driver_module_names():
    from ember.cuda.cudadrv import driver
    assert driver.AutoFreePointer is cuda.AutoFreePointer
    assert driver.HostOnlyCUDAMemoryManager is cuda.HostOnlyCUDAMemoryManager
    assert driver.IpcHandle is cuda.IpcHandle and driver.MemoryInfo is cuda.MemoryInfo
    assert cuda.cudadrv.devicearray.DeviceNDArray is cuda.DeviceNDArray
    assert driver.Stream is cuda.Stream and driver.Event is cuda.Event
