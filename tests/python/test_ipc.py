"""CUDA IPC: DeviceNDArray.get_ipc_handle, IpcHandle (pickles),
cuda.open_ipc_array (cuda/_ipc.py, memory/ipc.c).

The CPU device cannot share its memory with another process, and says so.
With the stand-in driver (tests/fake_cuda), which plays the importing
process inside the exporting one (it maps the same bytes at a new device
address), the handle travels through pickle, opens, reads exactly the
exported slice (compared with NumPy), refuses a second open, and is closed
again; the driver calls are counted. A real second process needs a GPU:
the `gpu` test does that with multiprocessing's spawn.
"""

import multiprocessing as mp
import pickle

import numpy as np
import pytest

from ember import cuda
from test_cuda_launch_fake import PRELUDE, env, run_script  # noqa: F401 (env: a fixture)


def test_cpu_device_says_ipc_needs_a_gpu(cpu_device):
    d = cuda.to_device(np.arange(4))
    with pytest.raises(NotImplementedError, match="IPC needs a CUDA GPU"):
        d.get_ipc_handle()
    with pytest.raises(NotImplementedError, match="IPC needs a CUDA GPU"):
        with cuda.open_ipc_array(bytes(64), 4, np.int64):
            pass


def test_handles_pickle_and_check_their_bytes():
    h = cuda.IpcHandle(None, bytes(range(64)), 80, {"kind": "cuda", "id": 0}, offset=16)
    r = pickle.loads(pickle.dumps(h))
    assert r.base is None and r.size == 80 and r.offset == 16
    assert tuple(r.handle) == tuple(h.handle) == tuple(range(64))
    with pytest.raises(ValueError, match="64 bytes, not 3"):
        with cuda.open_ipc_array(b"abc", 4, np.int64):
            pass
    with pytest.raises(ValueError, match="IpcHandle not opened"):
        r.close()
    with pytest.raises(ValueError, match="from original process"):
        cuda.IpcHandle(object(), bytes(64), 8).open()
    with pytest.raises(TypeError, match="from a memory manager plugin"):
        cuda.IpcHandle(None, "a plugin's handle", 8).open()


def test_fake_driver_shares_slices_through_pickled_handles(env, tmp_path):
    script = tmp_path / "ipc.py"
    script.write_text(PRELUDE + r'''
import pickle
fake.fake_cuda_count.restype = ctypes.c_long
n = lambda what: fake.fake_cuda_count(what.encode())
host = np.arange(10, dtype=np.intp)
d = cuda.to_device(host)
out = []
for index in (slice(None), slice(3, None), slice(3, 8), slice(None, 8)):
    view = d[index]
    h = pickle.loads(pickle.dumps(view.get_ipc_handle()))
    with h as opened:
        out.append(np.array_equal(opened.copy_to_host(), host[index]))
        out.append(opened.device_pointer != view.device_pointer)   # mapped anew
        try:
            with h:
                pass
        except ValueError as e:
            out.append(str(e) == "IpcHandle is already opened")
    out.append(fake.fake_cuda_live(b"ipc") == 0)
# the raw bytes, as numba's test sends them
ipch = cuda.current_context().get_ipc_handle(d.gpu_data)
with cuda.open_ipc_array(bytes(ipch.handle), shape=10, dtype=np.intp) as arr:
    out.append(np.array_equal(arr.copy_to_host(), host))
# too large an array for the handle's memory
try:
    pickle.loads(pickle.dumps(ipch)).open_array(None, shape=11, dtype=np.intp)
except ValueError as e:
    out.append("needs 88 bytes; the handle shares 80" in str(e))
out.append((n("cuIpcGetMemHandle"), n("cuIpcOpenMemHandle"), n("cuIpcCloseMemHandle")))
# a handle of freed memory no longer opens
h = pickle.loads(pickle.dumps(cuda.to_device(np.ones(4)).get_ipc_handle()))
cuda.get_default_memory_pool().free_all_blocks()   # the array is gone: cuMemFree
try:
    with h:
        pass
except cuda.CudaAPIError as e:
    out.append("CUDA_ERROR_INVALID_HANDLE" in str(e))
print(out)
''')
    out = run_script(script, env).strip()
    assert out == str([True] * 16 + [True, True, (5, 5, 5), True]), out


def _child(ipch, queue):
    try:
        with ipch as darr:
            queue.put(darr.copy_to_host())
    except BaseException as e:  # noqa: BLE001 - sent back to the test
        queue.put(repr(e))


@pytest.mark.gpu
def test_another_process_reads_the_array():
    host = np.random.default_rng(1).random(1000)
    d = cuda.to_device(host)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(d[100:900].get_ipc_handle(), queue))
    proc.start()
    got = queue.get(timeout=120)
    proc.join(30)
    np.testing.assert_array_equal(got, host[100:900])
