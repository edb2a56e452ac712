"""The CUDA code paths of the package, run against the stand-in driver
(tests/fake_cuda) in a subprocess: enumeration, device arrays in "device"
memory that the host cannot dereference, copies, streams, events, errors
from the driver. This checks ember's side of the driver calls; real GPU
execution is covered by the `gpu`-marked tests."""

import pytest

from conftest import run_python


@pytest.fixture
def fake_env(fake_cuda_lib):
    return {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "2"}


def test_enumeration_and_default_device(fake_env):
    proc = run_python("""
        from ember import cuda
        assert cuda.is_available()
        assert len(cuda.gpus) == 2
        d = cuda.get_current_device()
        assert d.kind == 'cuda' and d.id == 0, d
        assert d.compute_capability == (9, 0)
        assert d.name.startswith('Fake CUDA Device')
        assert d.pci_bus_id
        assert cuda.select_device(1).id == 1
        with cuda.gpus[0]:
            assert cuda.get_current_device().id == 0
        assert cuda.get_current_device().id == 1
        try:
            cuda.select_device(2)
        except ValueError as e:
            assert 'there are 2 CUDA device(s)' in str(e)
        else:
            raise AssertionError('select_device(2) did not fail')
        assert cuda.detect() is True
        """, fake_env)
    assert "Found 2 CUDA devices" in proc.stdout


def test_arrays_on_the_fake_gpu(fake_env):
    run_python("""
        import numpy as np, ember
        from ember import cuda
        rng = np.random.default_rng(5)
        a = rng.standard_normal((30, 40)).astype(np.float32)
        ember.runtime.reset_stats()
        d = cuda.to_device(a)
        assert d.device.kind == 'cuda'
        assert np.array_equal(d.copy_to_host(), a)
        v = d[::3, 5:31:2]                         # strided device view
        assert np.array_equal(v.copy_to_host(), a[::3, 5:31:2])
        d[1:4, ::-7] = 2.0                         # strided write into device memory
        a[1:4, ::-7] = 2.0
        assert np.array_equal(d.copy_to_host(), a)
        e = cuda.device_array_like(d); e.copy_to_device(d)
        assert np.array_equal(e.copy_to_host(), a)
        cai = d.__cuda_array_interface__
        assert cai['version'] == 3 and cai['data'][0] == d.device_pointer and cai['strides'] is None
        assert v.__cuda_array_interface__['strides'] == v.strides
        s = cuda.stream(); e0, e1 = cuda.event(), cuda.event()
        e0.record(s); x = cuda.to_device(a, stream=s); e1.record(s); s.synchronize()
        assert e0.elapsed_time(e1) >= 0
        m = cuda.mapped_array(8, np.int32); m[:] = 3
        assert m.__cuda_array_interface__['data'][0] == m.device_pointer
        free, total = cuda.current_context().get_memory_info()
        assert total == 80 * 2**30 and free <= total
        st = ember.runtime.stats()
        assert st['htod_copies'] >= 2 and st['dtoh_copies'] >= 4
        """, fake_env)


def test_mixing_devices_is_an_error(fake_env):
    run_python("""
        import numpy as np
        from ember import cuda
        a = cuda.to_device(np.arange(4.0))
        cuda.select_device(1)
        b = cuda.device_array(4)
        try:
            b.copy_to_device(a)
        except ValueError as e:
            assert 'cuda:0' in str(e) and 'cuda:1' in str(e), e
        else:
            raise AssertionError('mixing devices did not fail')
        s1 = cuda.stream()
        try:
            a.copy_to_host(stream=s1)
        except ValueError as e:
            assert 'stream is on cuda:1' in str(e), e
        else:
            raise AssertionError('a stream of another device was accepted')
        """, fake_env)


def test_driver_out_of_memory_is_a_cuda_api_error(fake_env):
    run_python("""
        import numpy as np
        from ember import cuda
        from ember import _ember
        try:
            cuda.device_array(200 * 2**30, np.uint8)   # more than the fake 80 GiB
        except cuda.CudaAPIError as e:
            assert e.code == 2 and 'CUDA_ERROR_OUT_OF_MEMORY' in str(e), str(e)
        else:
            raise AssertionError('no CudaAPIError')
        d = cuda.device_array(10)                      # still usable afterwards
        d.copy_to_device(np.arange(10.0))
        assert d.copy_to_host().sum() == 45.0
        """, fake_env)
