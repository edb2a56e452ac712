"""ember in Dask (python/ember/_dask.py, _pickle.py): kernels and jitted
functions inside dask.array's map_blocks / blockwise with the threaded,
process and distributed schedulers, DeviceNDArrays as dask chunks and
through distributed's serialisers, one worker pool per process.

The distributed test starts a real LocalCluster of 2 worker processes in a
child process of its own session, bounded in time; the whole process group
is killed afterwards whatever happened, so no worker outlives the test.
Every result is compared with NumPy."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda, jit, vectorize, cpu

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.usefixtures("cpu_device")


def run_bounded(script, cwd, timeout=240, args=(), status=0):
    """Runs `script` in a new session; kills its whole process group on a
    timeout and after it ends (a worker left behind is a failure)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_DEVICE="cpu")
    env.pop("EMBER_CUDA_DRIVER", None)
    p = subprocess.Popen([sys.executable, str(script), *map(str, args)], cwd=cwd, env=env,
                         text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{script.name} ran past {timeout} s:\n{out}")
    finally:
        left = _group_members(p.pid, wait=10.0)
        if left:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == status, out
    assert not left, f"processes of the cluster still ran 10 s after it closed: {left}\n{out}"
    return out


def _group_members(pgid, wait):
    """The command lines of the processes still in group `pgid`, after
    waiting up to `wait` seconds for them to exit (multiprocessing's helper
    processes leave a moment after their parent)."""
    import time
    deadline = time.monotonic() + wait
    while True:
        members = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        members.append(f.read().replace(b"\0", b" ").decode()[:200])
            except (OSError, IndexError, ValueError):
                continue
        if not members or time.monotonic() > deadline:
            return members
        time.sleep(0.1)


@cuda.jit
def _scale(a, out):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        out[i, j] = 3.0 * a[i, j] + i


def _scale_block(a):
    out = np.empty_like(a)
    _scale[((a.shape[0] + 7) // 8, (a.shape[1] + 7) // 8), (8, 8)](a, out)
    return out


def _expect_scale(blocks, chunk):
    """3 a + (row index within its chunk), from NumPy."""
    rows = np.arange(blocks.shape[0]) % chunk
    return 3.0 * blocks + rows[:, None]


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_map_blocks_in_process(scheduler):
    a = np.random.default_rng(1).random((90, 70))
    x = da.from_array(a, chunks=(30, 35))
    r = x.map_blocks(_scale_block).compute(scheduler=scheduler)
    assert np.allclose(r, _expect_scale(a, 30))


def test_blockwise_with_jit_and_vectorize():
    @jit
    def clip_sum(a, b, lo):
        out = np.empty_like(a)
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                out[i, j] = max(a[i, j] + b[i, j], lo)
        return out

    @vectorize(["float64(float64, float64)"], target="parallel")
    def hyp(x, y):
        return (x * x + y * y) ** 0.5

    a = np.random.default_rng(2).normal(size=(64, 48))
    b = np.random.default_rng(3).normal(size=(64, 48))
    x, y = da.from_array(a, chunks=16), da.from_array(b, chunks=16)
    r1 = da.blockwise(clip_sum, "ij", x, "ij", y, "ij", 0.25, None, dtype=a.dtype)
    r2 = hyp(x, y)        # a ufunc on dask arrays: dask maps it over the blocks
    got1, got2 = dask.compute(r1, r2, scheduler="threads")
    assert np.array_equal(got1, np.maximum(a + b, 0.25))
    assert np.allclose(got2, np.hypot(a, b))


def test_threads_share_one_worker_pool():
    """Dask's threads launch kernels concurrently through the one pool of the
    process: no thread beyond Dask's own appears."""
    def count():
        return len(os.listdir("/proc/self/task"))
    a = np.arange(200_000.0).reshape(400, 500)
    _scale_block(a[:8, :8].copy())   # the pool exists now
    before, peak, stop = count(), [0], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], count())
            stop.wait(0.0005)
    t = threading.Thread(target=watch)
    t.start()
    try:
        with dask.config.set(num_workers=4):
            r = da.from_array(a, chunks=(50, 500)).map_blocks(_scale_block).compute(
                scheduler="threads")
    finally:
        stop.set()
        t.join()
    assert np.allclose(r, _expect_scale(a, 50))
    assert peak[0] <= before + 4 + 1, (before, peak[0])   # Dask's 4 and the watcher


def test_device_array_chunks():
    host = np.arange(120.0).reshape(10, 12)
    d = cuda.to_device(host)
    x = da.from_array(d, chunks=(4, 5), asarray=False)    # views of d, no copies
    assert x.blocks[1, 1].compute(scheduler="sync").__class__ is cuda.DeviceNDArray

    def negate(blk):
        out = cuda.device_array_like(blk)
        _neg[1, 64](blk, out)
        return out
    r = x.map_blocks(negate, dtype=host.dtype).compute(scheduler="sync")
    assert isinstance(r, cuda.DeviceNDArray)     # assembled on the device
    assert np.array_equal(r.copy_to_host(), -host)
    t = x.T.compute(scheduler="sync")
    assert isinstance(t, cuda.DeviceNDArray) and np.array_equal(t.copy_to_host(), host.T)
    h = da.from_array(d, chunks=(4, 5)).compute(scheduler="sync")   # the default: host chunks
    assert isinstance(h, np.ndarray) and np.array_equal(h, host)
    from dask.sizeof import sizeof
    assert sizeof(d) == host.nbytes


@cuda.jit
def _neg(a, out):
    for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        i, j = k // a.shape[1], k % a.shape[1]
        out[i, j] = -a[i, j]


def test_concatenate_errors():
    from ember._dask import concatenate
    a = cuda.to_device(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        concatenate([a, cuda.to_device(np.zeros((2, 4)))], axis=0)
    with pytest.raises(ValueError, match="at least one"):
        concatenate([])
    with pytest.raises(getattr(getattr(np, "exceptions", np), "AxisError", None) or np.AxisError):
        concatenate([a, a], axis=2)
    r = concatenate([a, cuda.to_device(np.ones((2, 2), np.float32))], axis=-1)
    assert r.dtype == np.float64 and np.array_equal(r.copy_to_host(),
                                                    np.hstack([np.zeros((2, 3)), np.ones((2, 2))]))


def test_distributed_serialisers_zero_copy():
    serialize = pytest.importorskip("distributed.protocol").serialize
    from distributed.protocol import deserialize
    host = np.arange(24, dtype=np.int32).reshape(4, 6)
    d = cuda.to_device(host)
    header, frames = serialize(d, serializers=["dask"])
    assert header["serializer"] == "dask" and len(frames) == 1
    assert np.frombuffer(frames[0], np.uint8).ctypes.data == d.device_pointer   # no copy out
    frame = bytearray(frames[0])
    r = deserialize(header, [frame])
    assert isinstance(r, cuda.DeviceNDArray) and np.array_equal(r.copy_to_host(), host)
    assert r.device_pointer == np.frombuffer(frame, np.uint8).ctypes.data      # no copy in
    ro = deserialize(header, [bytes(frames[0])])    # a read-only frame is copied
    assert np.array_equal(ro.copy_to_host(), host)
    v = cuda.to_device(host)[:, ::2]                # a strided view goes as a contiguous copy
    header, frames = serialize(v, serializers=["dask"])
    assert np.array_equal(deserialize(header, frames).copy_to_host(), host[:, ::2])
    # the cuda family declines cpu-device arrays, and distributed moves on
    header, frames = serialize(d, serializers=["cuda", "dask"])
    assert header["serializer"] == "dask"


def test_registration_when_ember_is_imported_first(tmp_path):
    script = tmp_path / "order.py"
    script.write_text(textwrap.dedent('''
        import sys
        import ember                                   # before any Dask module
        assert "distributed" not in sys.modules and "dask" not in sys.modules
        import numpy as np
        from distributed.protocol import serialize
        from dask.sizeof import sizeof
        d = ember.cuda.to_device(np.zeros(10))
        header, _ = serialize(d, serializers=["dask"])
        print(header["serializer"], header["sub-header"]["shape"], sizeof(d))
    '''))
    assert "dask (10,) 80" in run_bounded(script, tmp_path, timeout=120)


DISTRIBUTED = '''
import os, sys, time
import numpy as np
import dask, dask.array as da
from dask.distributed import Client, LocalCluster, wait
import ember
from ember import cuda, jit, _pickle


@cuda.jit
def mandel(out, r0, c0, iters):
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        cr = -2.0 + (c0 + j) * 0.01
        ci = -1.0 + (r0 + i) * 0.01
        zr = 0.0
        zi = 0.0
        n = 0
        while n < iters and zr * zr + zi * zi <= 4.0:
            zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
            n += 1
        out[i, j] = n


def tile(block, block_info=None):
    (r0, _), (c0, _) = block_info[None]["array-location"]
    out = np.empty(block.shape, np.int32)
    mandel[((block.shape[0] + 15) // 16, (block.shape[1] + 15) // 16), (16, 16)](
        out, r0, c0, 50)
    return out


def reference(h, w):
    """NumPy's escape counts, the same formula on whole arrays."""
    y, x = np.mgrid[0:h, 0:w]
    cr, ci = -2.0 + x * 0.01, -1.0 + y * 0.01
    zr, zi = np.zeros_like(cr), np.zeros_like(ci)
    n = np.zeros(cr.shape, np.int32)
    for _ in range(50):
        live = zr * zr + zi * zi <= 4.0
        zr, zi = (np.where(live, zr * zr - zi * zi + cr, zr),
                  np.where(live, 2.0 * zr * zi + ci, zi))
        n += live
    return n


def close_enough(img, ref):
    """At most 0.1% of the pixels differ (rounding at the set's edge), as
    examples/demo.py allows; a misplaced tile changes far more."""
    return img.shape == ref.shape and np.count_nonzero(img != ref) <= img.size // 1000


@jit
def row_sums(a):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i] += a[i, j]
    return out


def on_device(d):
    out = cuda.device_array_like(d)
    double[(d.size + 63) // 64, 64](d, out)
    return out


@cuda.jit
def double(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = 2 * a[i]


def worker_state():
    k = [r.obj for r in list(_pickle._live.values())
         if r.kind == "cuda.jit" and r.py_func.__name__ == "mandel"]
    return (os.getpid(), ember.cpu.workers, len(k), [len(x._cpu_overloads) for x in k])


if __name__ == "__main__":
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"EMBER_NUM_THREADS": "1"}) as cluster, \\
            Client(cluster) as client:
        print("cluster up in", round(time.perf_counter() - t0, 1), "s")
        shape = (160, 240)
        img = da.zeros(shape, chunks=(40, 60), dtype=np.int32).map_blocks(
            tile, dtype=np.int32).compute()
        assert close_enough(img, reference(*shape)), "mandelbrot tiles differ from NumPy"
        states = client.run(worker_state)
        pids = {s[0] for s in states.values()}
        assert len(pids) == 2, states
        for pid, workers, nk, overloads in states.values():
            assert workers == 1, states               # EMBER_NUM_THREADS reached the worker
            assert nk <= 1 and overloads in ([], [1]), states   # one kernel, compiled once
        assert sum(s[2] for s in states.values()) >= 1, states
        print("tiles ok on", len(pids), "workers:", sorted(states.values()))

        a = np.random.default_rng(0).random((300, 40))
        sums = da.from_array(a, chunks=(75, 40)).map_blocks(
            row_sums, drop_axis=1, dtype=a.dtype).compute()
        assert np.allclose(sums, a.sum(axis=1))
        print("jit ok")

        d = cuda.to_device(np.arange(1000, dtype=np.float32))
        fut = client.scatter(d)
        res = client.submit(on_device, fut).result()
        assert isinstance(res, cuda.DeviceNDArray)
        assert np.array_equal(res.copy_to_host(), 2 * np.arange(1000, dtype=np.float32))
        print("device arrays ok:", type(res).__name__)

        x = da.from_array(cuda.to_device(np.arange(64.0)), chunks=16, asarray=False)
        y = x.map_blocks(on_device, dtype=np.float64).compute()
        assert isinstance(y, cuda.DeviceNDArray), type(y)
        assert np.array_equal(y.copy_to_host(), 2 * np.arange(64.0))
        print("device chunks ok")
    print("processes scheduler:", end=" ")
    with dask.config.set(num_workers=2):
        img2 = da.zeros((80, 120), chunks=(40, 60), dtype=np.int32).map_blocks(
            tile, dtype=np.int32).compute(scheduler="processes")
    assert close_enough(img2, reference(80, 120))
    assert np.array_equal(img2, img[:80, :120])   # the same code: the same pixels
    print("ok")
'''


def test_local_cluster_two_worker_processes(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "cluster.py"
    script.write_text(DISTRIBUTED)
    out = run_bounded(script, tmp_path, timeout=240)
    for line in ("tiles ok on 2 workers", "jit ok", "device arrays ok: DeviceNDArray",
                 "device chunks ok", "processes scheduler: ok"):
        assert line in out, out


def test_dask_mandelbrot_example(tmp_path):
    pytest.importorskip("distributed")
    png = tmp_path / "m.png"
    out = run_bounded(ROOT / "examples" / "dask_mandelbrot.py", tmp_path, args=[
        "--width", "360", "--height", "240", "--tile", "120", "--iters", "60",
        "--out", png, "--no-progress"])
    assert "6 tiles on 2 worker process(es)" in out, out
    assert "0 of 86400 pixels differ" in out and "equals the one-process image" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[16:24] == (360).to_bytes(4, "big") + \
        (240).to_bytes(4, "big")


def test_dask_mandelbrot_example_detects_a_mismatch(tmp_path):
    """The example's check can fail: tiles placed at the wrong offset."""
    pytest.importorskip("distributed")
    wrapper = tmp_path / "broken_mandelbrot.py"
    wrapper.write_text(textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(ROOT / "examples")!r})
        import numpy as np
        import dask_mandelbrot as m

        def shifted(block, width, height, iters, block_info=None):
            (row0, _), (col0, _) = block_info[None]["array-location"]
            return m.render(np.empty(block.shape, np.int32), col0, row0, width, height, iters)
        m.tile = shifted
        if __name__ == "__main__":
            sys.exit(m.main(sys.argv[1:]))
    '''))
    out = run_bounded(wrapper, tmp_path, status=1, args=[
        "--width", "240", "--height", "120", "--tile", "60", "--iters", "40",
        "--out", tmp_path / "b.png", "--no-progress"])
    assert "MISMATCH" in out


def test_cuda_serialisers_pass_gpu_memory(tmp_path, fake_cuda_lib):
    """The 'cuda' family (dask-cuda with UCX) sends the GPU memory itself:
    checked against the stand-in driver (no GPU runs here)."""
    pytest.importorskip("distributed")
    script = tmp_path / "cuda_ser.py"
    script.write_text(textwrap.dedent('''
        import numpy as np
        from distributed.protocol import serialize, deserialize
        from ember import cuda
        cuda.select_device(0)
        host = np.arange(12, dtype=np.float32).reshape(3, 4)
        d = cuda.to_device(host)
        header, frames = serialize(d, serializers=["cuda"])
        (frame,) = frames
        assert header["serializer"] == "cuda"
        assert isinstance(frame, cuda.DeviceNDArray) and frame.dtype == np.uint8
        assert frame.device_pointer == d.device_pointer and frame.nbytes == host.nbytes
        r = deserialize(header, frames)
        assert r.device.kind == "cuda" and r.device_pointer == d.device_pointer
        assert r.shape == (3, 4) and r.dtype == np.float32
        assert np.array_equal(r.copy_to_host(), host)
        header, frames = serialize(d, serializers=["dask"])    # the host path: a copy
        assert np.array_equal(np.frombuffer(frames[0], np.float32), host.ravel())
        print("cuda family ok")
    '''))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_CUDA_DRIVER=fake_cuda_lib,
               FAKE_CUDA_DEVICES="1")
    env.pop("EMBER_DEVICE", None)
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "cuda family ok" in p.stdout
