"""@cuda.jit kernels launched on a CUDA device, end to end except execution:
the kernel is compiled for the device's compute capability with libNVVM, its
PTX loaded through the stand-in driver (tests/fake_cuda), and the launch the
driver receives is read back (grid, block, shared memory, the packed
arguments: device pointers, shapes, strides, scalars). Host arrays are
copied in, and back only when written. The fake runs no kernels: results on
real hardware are the gpu-marked tests' job."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT


def run_script(path, env_extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), **env_extra)
    env.pop("EMBER_DEVICE", None)
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout

PRELUDE = r'''
import ctypes, os, struct
import numpy as np
from ember import cuda, runtime
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_last_launch.restype = ctypes.c_long

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

cuda.select_device(0)
'''


@pytest.fixture
def env(fake_cuda_lib, nvvm):
    return {"EMBER_CUDA_DRIVER": fake_cuda_lib, "FAKE_CUDA_DEVICES": "1"}


def test_kernel_launch_reaches_the_driver(env, tmp_path):
    script = tmp_path / "launch.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]

x = cuda.to_device(np.arange(1000, dtype=np.float32))
y = cuda.to_device(np.ones(1000, dtype=np.float32))
out = cuda.device_array(1000, np.float32)
saxpy[4, 256](np.float32(2.5), x, y, out)
rec = last_launch()
assert rec["count"] == 1 and rec["grid"] == (4, 1, 1) and rec["block"] == (256, 1, 1), rec
assert rec["name"].startswith("ember_saxpy_"), rec
# a: float32 in an 8-byte slot; each array: data pointer, shape, stride
slots = struct.unpack("<10q", rec["params"])
assert struct.unpack("<f", rec["params"][:4])[0] == 2.5
assert slots[1:4] == (x.device_pointer, 1000, 4)
assert slots[4:7] == (y.device_pointer, 1000, 4)
assert slots[7:10] == (out.device_pointer, 1000, 4)
assert saxpy._cpu_overloads == {}      # compiled for the GPU only, not for the cpu device
(sig, k), = saxpy.overloads.items()    # numba's view: the signature, its compiled kernel
assert k.target[0] == "cuda" and saxpy.signatures == [sig], (k.target, saxpy.signatures)

s = cuda.stream()
saxpy[(2, 1), (128, 2), s, 64](np.float32(1), x[::2], y[::2], out[::2])
rec = last_launch()
assert rec["count"] == 2 and rec["grid"] == (2, 1, 1) and rec["block"] == (128, 2, 1)
assert rec["shared"] == 64 and rec["stream"] is not None
assert struct.unpack("<10q", rec["params"])[1:4] == (x.device_pointer, 500, 8)

# host arrays: copied in, and back only when the kernel writes them
hx, hy, hout = np.ones(8, np.float32), np.ones(8, np.float32), np.zeros(8, np.float32)
before = runtime.stats()
saxpy[1, 8](np.float32(1), hx, hy, hout)
after = runtime.stats()
assert after["htod_copies"] - before["htod_copies"] == 3, (before, after)
assert after["dtoh_copies"] - before["dtoh_copies"] == 1, (before, after)
print("ok")
''')
    assert run_script(script, env).strip().endswith("ok")


def test_kernel_faults_are_raised_after_the_launch(env, tmp_path):
    script = tmp_path / "faults.py"
    script.write_text(PRELUDE + r'''
@cuda.jit(boundscheck=True)
def copy(src, dst):
    i = cuda.grid(1)
    dst[i] = src[i]

@cuda.jit("int64(int64)", device=True)
def down(n):
    return n if n <= 0 else down(n - 1)

@cuda.jit
def recurse(out):
    out[0] = down(out[0])

src = cuda.to_device(np.ones(4))
dst = cuda.device_array(4)
copy[1, 4](src, dst)                         # no fault reported: fine
fake.fake_cuda_fault_next_launch(2, 0)       # the kernel reports check 0 failed
try:
    copy[1, 4](src, dst)
except IndexError as e:
    msg = str(e)
    assert "faults.py:" in msg and "index out of bounds in thread (0, 0, 0) of block" in msg, msg
else:
    raise AssertionError("no IndexError")
copy[1, 4](src, dst)                         # the record was cleared

fake.fake_cuda_fault_next_launch(1, 0)
try:
    recurse[1, 1](cuda.device_array(1, np.int64))
except RuntimeError as e:
    assert "deeper than 1000 calls" in str(e), e
else:
    raise AssertionError("no RuntimeError")

@cuda.jit
def plain(a):
    a[0] = 1
fake.fake_cuda_fault_next_launch(2, 0)       # a kernel without checks is not waited for
plain[1, 1](cuda.device_array(1))
print("ok")
''')
    assert run_script(script, env).strip().endswith("ok")


def test_cuda_launches_take_the_c_fast_path(env, tmp_path):
    script = tmp_path / "fast.py"
    script.write_text(PRELUDE + r'''
import timeit
@cuda.jit
def scale(a, x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i]

x = cuda.to_device(np.arange(64, dtype=np.float32))
out = cuda.device_array(64, np.float32)
for n in range(5):
    scale[1, 64](np.float32(n), x, out)
assert scale._fastpath_hits == 4, scale._fastpath_hits
rec = last_launch()
assert rec["count"] == 5 and struct.unpack("<f", rec["params"][:4])[0] == 4.0
assert struct.unpack("<7q", rec["params"])[1:4] == (x.device_pointer, 64, 4)
scale[2, 32, 0, 128](np.float32(1), x, out)          # sharedmem reaches the driver
assert last_launch()["shared"] == 128 and scale._fastpath_hits == 5
y = cuda.to_device(np.arange(8, dtype=np.float64))    # new types: the slow path, then C
scale[1, 8](2.0, y, cuda.device_array(8))
scale[1, 8](2.0, y, cuda.device_array(8))
assert scale._fastpath_hits == 6
cuda.select_device("cpu")                             # same dispatcher, the cpu device
hx = cuda.to_device(np.ones(4, np.float32))
ho = cuda.device_array(4, np.float32)
scale[1, 4](np.float32(3), hx, ho)
scale[1, 4](np.float32(3), hx, ho)
np.testing.assert_array_equal(ho.copy_to_host(), 3.0)
cuda.select_device(0)
try:
    scale[1, 4](np.float32(3), hx, ho)                # cpu arrays on the GPU: refused
except ValueError as e:
    assert "lives on cpu:0" in str(e), e
else:
    raise AssertionError("cpu arrays launched on a CUDA device")
n = 20000
t = min(timeit.repeat(lambda: scale[1, 64](np.float32(1), x, out), number=n, repeat=3)) / n
print("launch_us", round(t * 1e6, 2))
print("ok")
''')
    out = run_script(script, env)
    assert out.strip().endswith("ok")
    print(out)


def test_forall_uses_the_occupancy_calculator(env, tmp_path):
    script = tmp_path / "forall.py"
    script.write_text(PRELUDE + r'''
@cuda.jit
def fill(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = i

out = cuda.device_array(10000, np.int64)
fill.forall(10000)(out)
rec = last_launch()
block = rec["block"][0]
assert block >= 32 and block % 32 == 0, rec            # the fake's occupancy answer
assert rec["grid"][0] * block >= 10000 and (rec["grid"][0] - 1) * block < 10000, rec
fill.forall(10, tpb=4)(out)
assert last_launch()["block"] == (4, 1, 1) and last_launch()["grid"] == (3, 1, 1)
print("ok")
''')
    assert run_script(script, env).strip().endswith("ok")


def test_a_kernel_fault_names_the_kernel(env, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(PRELUDE + r'''
fake.fake_cuda_crash_next_launch.argtypes = [ctypes.c_int]

@cuda.jit
def wild(a):
    a[0] = 1

a = cuda.device_array(4)
fake.fake_cuda_crash_next_launch(700)          # CUDA_ERROR_ILLEGAL_ADDRESS at the next sync
wild[1, 1](a)                                  # launches are asynchronous: no error yet
try:
    cuda.synchronize()
except cuda.CudaAPIError as e:
    msg = str(e)
    assert "CUDA_ERROR_ILLEGAL_ADDRESS" in msg and "ember_wild_" in msg, msg
    assert "restart the process" in msg, msg
else:
    raise AssertionError("no CudaAPIError")
try:                                           # the error is sticky: still reported, no crash
    cuda.synchronize()
except cuda.CudaAPIError as e:
    assert "ILLEGAL_ADDRESS" in str(e)
print("ok")
''')
    assert run_script(script, env).strip().endswith("ok")


def test_cuda_ufunc_on_large_host_arrays_is_staged_and_overlapped(env, tmp_path):
    """A cuda-target ufunc on a GPU with large host operands: each chunk goes
    through pinned staging buffers with asynchronous copies, alternating
    between two streams, so one stream's copies and kernel overlap the
    other's; every input byte moves in once and the result once back."""
    script = tmp_path / "staged.py"
    script.write_text(PRELUDE + r'''
import warnings
from ember import vectorize
fake.fake_cuda_log_text.restype = ctypes.c_long

@vectorize(["float32(float32, float32)"], target="cuda")
def scaled(x, s):
    return x * s

n = 3 * 1024 * 1024 + 5            # 3 chunks of 1M float32, and 5 elements
x = np.arange(n, dtype=np.float32)
scaled(x[:10], np.float32(2))      # compile and load first
runtime.reset_stats()
fake.fake_cuda_log(1)
r = scaled(x, np.float32(2))

buf = ctypes.create_string_buffer(1 << 16)
fake.fake_cuda_log_text(buf, ctypes.c_size_t(1 << 16))
print("LOG")
print(buf.value.decode())
s = runtime.stats()
print("BYTES", s["htod_bytes"], s["dtoh_bytes"], r.shape, r.dtype)
''')
    out = run_script(script, env).split("LOG\n", 1)[1]
    log, tail = out.split("BYTES")
    lines = [l.split() for l in log.strip().splitlines()]
    n = 3 * 1024 * 1024 + 5
    assert tail.split()[:2] == [str(2 * 4 * n), str(4 * n)]
    assert "(3145733,) float32" in tail
    launches = [l for l in lines if l[0] == "launch"]
    assert len(launches) == 4                          # 3 full chunks and the rest
    streams = [l[1] for l in launches]
    assert streams[0] != streams[1] and streams[0] == streams[2] and streams[1] == streams[3]
    assert "0" not in streams                          # not the default stream
    copies = [l for l in lines if l[0] in ("htod", "dtoh")]
    assert copies and all(l[3] == "pinned" for l in copies)
    # chunk 1 is sent before chunk 0's result is waited for: they overlap
    first_sync = next(i for i, l in enumerate(lines) if l[0] == "sync")
    assert [l[0] for l in lines[:first_sync]].count("launch") == 2


def test_dynamic_shared_memory_above_48_kib_opts_the_kernel_in(env, tmp_path):
    """Above the default 48 KiB per block, ember sets the function's
    MAX_DYNAMIC_SHARED_SIZE_BYTES before the launch (numba-cuda cannot; the
    stand-in driver refuses such a launch without it, as a GPU does); past
    the device's opt-in limit (227 KiB) the launch is refused naming it."""
    script = tmp_path / "optin.py"
    script.write_text(PRELUDE + r'''
from ember import float32

@cuda.jit
def fill(out):
    s = cuda.shared.array(0, float32)
    s[cuda.threadIdx.x] = 1.0
    cuda.syncthreads()
    out[0] = s[0]

out = cuda.device_array(1, np.float32)
for nbytes in (1024, 100 * 1024, 227 * 1024, 64 * 1024):
    fill[1, 32, 0, nbytes](out)
    print(last_launch()["shared"])
try:
    fill[1, 32, 0, 227 * 1024 + 4](out)
except ValueError as e:
    print("refused", "232448 bytes per block" in str(e))
''')
    assert run_script(script, env).split() == ["1024", "102400", "232448", "65536",
                                               "refused", "True"]
