"""The low-level module bindings (_ember.Module, ModuleKernel) against the
stand-in driver (tests/fake_cuda) in a subprocess: PTX loads, kernels are
found by name, a launch hands the driver the packed argument buffer and the
configuration (read back from the fake through ctypes), errors arrive as
the numba-style exceptions, and the fault record reads and clears. The fake
runs no kernels; real execution is for the `gpu`-marked tests."""

import pytest

from conftest import run_python

PTX = r'''
.version 8.0
.target sm_90
.address_size 64
.visible .global .align 4 .b8 ember_fault[8];
.visible .entry axpy(
    .param .u64 axpy_param_0,
    .param .u64 axpy_param_1,
    .param .u64 axpy_param_2
)
{
    ret;
}
.visible .entry tiny(
    .param .u64 tiny_param_0
) .maxntid 64, 1, 1
{
    ret;
}
'''

# Reads the fake's record of the last launch (fake_cuda_last_launch).
PRELUDE = '''
import ctypes, os, struct
from ember import _ember
from ember.errors import CudaAPIError
PTX = %r
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_last_launch.restype = ctypes.c_long
fake.fake_cuda_live.restype = ctypes.c_long
fake.fake_cuda_live.argtypes = [ctypes.c_char_p]

def last_launch():
    dims = (ctypes.c_uint * 7)()
    stream = ctypes.c_void_p()
    params = ctypes.create_string_buffer(4096)
    size = ctypes.c_size_t()
    name = ctypes.create_string_buffer(256)
    n = fake.fake_cuda_last_launch(dims, ctypes.byref(stream), params, ctypes.c_size_t(4096),
                                   ctypes.byref(size), name, ctypes.c_size_t(256))
    return dict(count=n, grid=tuple(dims[0:3]), block=tuple(dims[3:6]), shared=dims[6],
                stream=stream.value, params=params.raw[:size.value], name=name.value.decode())
''' % PTX


@pytest.fixture
def fake_env(fake_cuda_lib):
    return {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"}


def test_load_and_launch(fake_env):
    run_python(PRELUDE + '''
m = _ember.Module('cuda', 0, PTX)
assert m.device == ('cuda', 0)
k = m.get_kernel('axpy')
assert k.name == 'axpy' and k.max_threads == 1024 and k.module is m
args = struct.pack('<dQq', 2.5, 0x7e0000001000, 1000)
k.launch((8, 2, 1), (128, 1, 1), args, shared=512)
rec = last_launch()
assert rec['count'] == 1, rec
assert rec['grid'] == (8, 2, 1) and rec['block'] == (128, 1, 1) and rec['shared'] == 512
assert rec['params'] == args and rec['name'] == 'axpy' and rec['stream'] is None

s = _ember.Stream('cuda', 0)
k.launch([1, 1, 1], [32, 1, 1], bytearray(args), stream=s)
rec = last_launch()
assert rec['count'] == 2 and rec['stream'] is not None and rec['params'] == args
s.synchronize()

assert k.max_block_size() == (1024, 264)
t = m.get_kernel('tiny')
assert t.max_threads == 64 and t.max_block_size(shared=128)[0] == 64
m2 = _ember.Module('cuda', 0, PTX.encode())      # bytes work too
assert m2.get_kernel('tiny').name == 'tiny'
del k, t, m, m2, s
import gc; gc.collect()
assert fake.fake_cuda_live(b"module") == 0
''', fake_env)


def test_errors(fake_env):
    run_python(PRELUDE + '''
try:
    _ember.Module('cuda', 0, '.version 8.0\\n.target sm_90\\n')
except CudaAPIError as e:
    assert e.code == 218 and e.name == 'CUDA_ERROR_INVALID_PTX', e
    assert 'fake_cuda JIT: no .entry directive' in str(e), e
else:
    raise AssertionError('bad PTX loaded')

m = _ember.Module('cuda', 0, PTX)
try:
    m.get_kernel('axpyy')
except ValueError as e:
    assert "no kernel named 'axpyy'" in str(e), e
else:
    raise AssertionError('unknown kernel found')

k = m.get_kernel('axpy')
args = bytes(24)
n = last_launch()['count']
for grid, block, a, shared, says in [
        ((1, 1, 1), (2048, 1, 1), args, 0, "above the device's limit of 1024"),
        ((1, 1, 1), (32, 32, 2), args, 0, "threads per block"),
        ((1, 70000, 1), (32, 1, 1), args, 0, "grid dimension y is 70000"),
        ((1, 1, 1), (32, 1, 1), bytes(12), 0, "not a multiple of 8"),
        ((1, 1, 1), (32, 1, 1), bytes(32768), 0, "32764 bytes of kernel parameter space"),
        ((1, 1, 1), (32, 1, 1), args, 1 << 20, "dynamic shared memory")]:
    try:
        k.launch(grid, block, a, shared=shared)
    except ValueError as e:
        assert says in str(e), (says, str(e))
    else:
        raise AssertionError('launch %r %r accepted' % (grid, block))
try:
    m.get_kernel('tiny').launch((1, 1, 1), (128, 1, 1), bytes(8))
except ValueError as e:
    assert 'at most 64 threads' in str(e), e
for bad in [lambda: k.launch((0, 1, 1), (1, 1, 1), args),
            lambda: k.launch((1, 1), (1, 1, 1), args),
            lambda: k.launch((1, 1, 1), (1, 1, 1), args, shared=-1)]:
    try:
        bad()
    except ValueError:
        pass
    else:
        raise AssertionError('accepted')
try:
    k.launch((1, 1, 1), (1, 1, 1), 'not bytes')
except TypeError:
    pass
else:
    raise AssertionError('str accepted as args')
try:
    k.launch((1, 1, 1), (1, 1, 1), args, stream=_ember.Stream('cpu', 0))
except ValueError as e:
    assert 'another device' in str(e), e
assert last_launch()['count'] == n          # nothing reached the driver

# The driver's own refusal (2 parameters for a kernel of 3) is a CudaAPIError.
try:
    k.launch((1, 1, 1), (1, 1, 1), bytes(16))
except CudaAPIError as e:
    assert e.name == 'CUDA_ERROR_INVALID_VALUE' and 'cuLaunchKernel' in str(e), e
else:
    raise AssertionError('wrong parameter size accepted')

try:
    _ember.Module('cpu', 0, PTX)
except NotImplementedError as e:
    assert 'does not load device code' in str(e), e
try:
    type(k)()
except TypeError:
    pass
''', fake_env)


def test_fault_record(fake_env):
    run_python(PRELUDE + '''
fake.fake_cuda_fault_next_launch.argtypes = [ctypes.c_int, ctypes.c_int]
m = _ember.Module('cuda', 0, PTX)
k = m.get_kernel('axpy')
assert m.take_fault() == (0, 0)
fake.fake_cuda_fault_next_launch(2, 5)
k.launch((1, 1, 1), (32, 1, 1), bytes(24))
_ember.synchronize('cuda', 0)
assert m.take_fault() == (2, 5)
assert m.take_fault() == (0, 0)
''', fake_env)
