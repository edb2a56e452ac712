"""The caching allocator from Python: the pool statistics API (CuPy's
MemoryPool methods), the out-of-memory garbage collection, and
``cuda.pinned``. CUDA paths run against the stand-in driver (tests/fake_cuda)
in a subprocess, with its device memory limited by FAKE_CUDA_MEMORY so that
out-of-memory is reachable; it is a test double, not a GPU."""

import numpy as np
import pytest

from conftest import run_python
from ember import cuda


@pytest.fixture
def fake_env(fake_cuda_lib):
    return {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1",
            "FAKE_CUDA_MEMORY": str(64 << 20)}


def test_pool_stats_and_reuse(fake_env):
    run_python("""
        import numpy as np
        from ember import cuda
        pool = cuda.current_context().memory_pool
        assert pool is not None and pool.memkind == 'device'
        assert pool.used_bytes() == 0 and pool.free_bytes() == 0
        a = cuda.device_array(1000, np.uint8)
        ptr = a.device_pointer
        assert pool.used_bytes() == 1024          # rounded up to its size class
        del a
        assert pool.used_bytes() == 0 and pool.free_bytes() == 1024 and pool.n_free_blocks() == 1
        b = cuda.device_array(1024, np.uint8)     # same class: the same block, no cuMemAlloc
        assert b.device_pointer == ptr
        s = pool.stats()
        assert s['hits'] == 1 and s['misses'] == 1 and s['driver_allocs'] == 1, s
        assert pool.total_bytes() == 1024
        c = cuda.device_array(3 << 20, np.uint8)  # large: 2 MiB granularity
        assert pool.used_bytes() == 1024 + (4 << 20)
        del b, c
        ctx = cuda.current_context()
        assert len(ctx.deallocations) == 0          # numba's queue: ember frees at once
        ctx.deallocations.clear()                   # ... and clear() trims the pool
        assert pool.free_bytes() == 0
        pool.free_all_blocks()
        assert pool.total_bytes() == 0 and pool.stats()['driver_frees'] == 2
        free, total = cuda.current_context().get_memory_info()
        assert free == total == 64 << 20
        x = cuda.device_array((4, 6), np.float32)
        x.copy_to_device(np.ones((4, 6), np.float32))
        with cuda.pinned(np.zeros((4, 6), np.float32)[::-1, ::2]):   # negative strides
            x.copy_to_host()
        # CuPy's names
        assert cuda.get_default_memory_pool().used_bytes() == 512   # x: 96 bytes
        p = cuda.pinned_array(100)
        pp = cuda.get_default_pinned_memory_pool()
        assert pp.memkind == 'pinned' and pp.used_bytes() == 896   # 800 bytes: the 896 class
        del p
        assert pp.used_bytes() == 0 and pp.free_bytes() == 896
        assert 'cached' in repr(pp)
        """, fake_env)


def test_pool_disabled_by_env(fake_env):
    run_python("""
        import numpy as np
        from ember import cuda
        pool = cuda.current_context().memory_pool
        for _ in range(3):
            a = cuda.device_array(1000, np.uint8)
            del a
        s = pool.stats()
        assert s['hits'] == 0 and s['driver_allocs'] == 3 and s['driver_frees'] == 3, s
        assert pool.free_bytes() == 0
        """, dict(fake_env, EMBER_CUDA_POOL="0"))


def test_out_of_memory_collects_garbage(fake_env):
    # An unreachable cycle holds 40 MiB of the 64; a 40 MiB request fails
    # in the driver, the pool collects garbage, and the retry succeeds.
    run_python("""
        import gc
        import numpy as np
        from ember import cuda
        gc.disable()                          # only the pool's collection may free the cycle
        pool = cuda.current_context().memory_pool

        class Node:
            pass
        n1, n2 = Node(), Node()
        n1.other, n2.other = n2, n1
        n1.arr = cuda.device_array(40 << 20, np.uint8)
        del n1, n2
        assert pool.used_bytes() == 40 << 20
        b = cuda.device_array(40 << 20, np.uint8)
        assert pool.used_bytes() == 40 << 20
        assert pool.stats()['oom_recoveries'] == 1
        b.copy_to_device(np.ones(40 << 20, np.uint8))
        """, dict(fake_env, EMBER_CUDA_POOL="1"))


def test_out_of_memory_collection_with_gc_enabled(fake_env):
    # gc.collect() runs with the GIL from the allocating call (which released
    # it): also when the allocation comes from another Python thread.
    run_python("""
        import threading
        import numpy as np
        from ember import cuda

        class Node:
            pass
        def make_cycle():
            n = Node(); n.self = n
            n.arr = cuda.device_array(40 << 20, np.uint8)
        make_cycle()
        out = []
        def worker():
            out.append(cuda.device_array(40 << 20, np.uint8))
        t = threading.Thread(target=worker); t.start(); t.join()
        assert len(out) == 1 and out[0].size == 40 << 20
        assert cuda.current_context().memory_pool.stats()['oom_recoveries'] == 1
        """, fake_env)


def test_out_of_memory_error_names_the_size(fake_env):
    run_python("""
        import numpy as np
        from ember import cuda
        keep = cuda.device_array(16 << 20, np.uint8)
        try:
            cuda.device_array(100 << 20, np.uint8)
        except cuda.CudaAPIError as e:
            msg = str(e)
            assert e.code == 2 and 'CUDA_ERROR_OUT_OF_MEMORY' in msg, msg
            assert 'allocating 100.00 MiB (104857600 bytes' in msg, msg
            assert 'ember holds 16.00 MiB in 1 live device block(s)' in msg, msg
            assert 'the device has 48.00 MiB free of 64.00 MiB' in msg, msg
        else:
            raise AssertionError('no CudaAPIError')
        assert cuda.current_context().memory_pool.stats()['oom_failures'] == 1
        d = cuda.to_device(np.arange(10.0))           # still usable
        assert d.copy_to_host().sum() == 45.0
        """, fake_env)


def test_pinned_context_manager_on_fake_gpu(fake_env):
    run_python("""
        import ctypes, os
        import numpy as np
        from ember import cuda
        fake = ctypes.CDLL(os.environ['EMBER_CUDA_DRIVER'])
        fake.fake_cuda_live.restype = ctypes.c_long
        live = lambda: fake.fake_cuda_live(b'registered')
        a = np.arange(1000.0)
        b = np.zeros((10, 10), np.float32)
        with cuda.pinned(a, a[::3], b) as ctx:      # a's view is locked with a, once
            assert live() == 2
            d = cuda.to_device(a)
            d.copy_to_host(a)
        assert live() == 0
        try:
            with cuda.pinned(a):
                assert live() == 1
                raise KeyError('inside')
        except KeyError:
            pass
        assert live() == 0                           # unlocked on the way out of an error
        with cuda.pinned(a):
            try:
                with cuda.pinned(a):                # locking twice is the driver's error
                    pass
            except cuda.CudaAPIError as e:
                assert 'ALREADY_REGISTERED' in str(e), str(e)
            else:
                raise AssertionError('double registration accepted')
        assert live() == 0
        with cuda.pinned():
            pass
        """, fake_env)


def test_pinned_and_pool_on_the_cpu_device(cpu_device):
    a = np.arange(12.0)
    with cuda.pinned(a, np.empty(0)):
        d = cuda.to_device(a)
        assert np.array_equal(d.copy_to_host(), a)
    with pytest.raises(TypeError, match="NumPy arrays"):
        with cuda.pinned([1, 2]):
            pass
    pool = cuda.current_context().memory_pool
    before = pool.stats()
    x = cuda.device_array(1000, np.uint8)
    assert pool.used_bytes() >= before["bytes_in_use"] + 1024
    del x
    assert pool.free_bytes() == 0          # the cpu device does not cache
    pool.free_all_blocks()
    with pytest.raises(ValueError, match="memkind"):
        cuda.MemoryPool(cuda.get_current_device(), "unified")


def test_defer_cleanup_frees_nothing_synchronously(fake_cuda_lib, tmp_path):
    """Inside cuda.defer_cleanup() (as everywhere) freeing device arrays calls
    no cuMemFree: the buffers go back to the caching pool."""
    from test_cuda_launch_fake import PRELUDE, run_script
    script = tmp_path / "defer.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_count.argtypes = [ctypes.c_char_p]
fake.fake_cuda_count.restype = ctypes.c_long
before = fake.fake_cuda_count(b"cuMemFree")
with cuda.defer_cleanup():
    for n in range(1, 20):
        a = cuda.device_array(n * 1000)
        del a
print(fake.fake_cuda_count(b"cuMemFree") - before)
''')
    out = run_script(script, {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"})
    assert out.split() == ["0"]
