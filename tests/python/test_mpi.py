"""mpi4py with ember device arrays, under a real ``mpirun -np 2``.

On the cpu device a DeviceNDArray exports the buffer protocol
(python/ext/array_buffer.c), so mpi4py's buffer methods (Send/Recv,
Sendrecv, Bcast, Allreduce, Gatherv) read and write device arrays in
place; its pickle methods (send/recv) carry kernels and device arrays
(python/ember/_pickle.py). Each run is bounded in time and its whole
process group killed afterwards. Results are compared with NumPy."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("mpi4py")
MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="no mpirun (Debian: openmpi-bin)")


def mpirun(args, cwd, timeout=120):
    """`mpirun -np 2 ... python3 args` in a session of its own; (status, output)."""
    cmd = [MPIRUN, "-np", "2", "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, *map(str, args)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_DEVICE="cpu",
               EMBER_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    env.pop("EMBER_CUDA_DRIVER", None)
    p = subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"mpirun ran past {timeout} s:\n{out}")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)   # any rank left behind
        except ProcessLookupError:
            pass
    return p.returncode, out


SCRIPT = r'''
import numpy as np
from mpi4py import MPI
from ember import cuda

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
assert size == 2
other = 1 - rank


@cuda.jit
def fill(a, v):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = v * (i + 1)


# Send / Recv between device arrays, several dtypes, C and F order
for dt in ("float64", "float32", "int32", "int64", "uint8", "complex128", "bool"):
    host = (np.arange(12) % 7).astype(dt).reshape(3, 4)
    if rank == 0:
        comm.Send(cuda.to_device(host), dest=1, tag=1)
        comm.Send(cuda.to_device(np.asfortranarray(host)), dest=1, tag=2)
    else:
        d = cuda.device_array((3, 4), dtype=dt)
        comm.Recv(d, source=0, tag=1)
        assert np.array_equal(d.copy_to_host(), host), dt
        f = cuda.device_array((3, 4), dtype=dt, order="F")
        comm.Recv(f, source=0, tag=2)
        assert np.array_equal(f.copy_to_host(), host), dt

# Sendrecv of rows (views) written by a kernel
a = cuda.device_array(8, dtype=np.float64)
fill[1, 8](a, float(rank + 1))
b = cuda.device_array(8, dtype=np.float64)
comm.Sendrecv(a, dest=other, recvbuf=b, source=other)
assert np.array_equal(b.copy_to_host(), (other + 1) * np.arange(1.0, 9.0))

# Allreduce of device arrays
x = cuda.to_device(np.arange(5, dtype=np.int64) * (rank + 1))
s = cuda.device_array(5, dtype=np.int64)
comm.Allreduce(x, s, op=MPI.SUM)
assert np.array_equal(s.copy_to_host(), np.arange(5) * 3)
m = cuda.device_array(5, dtype=np.int64)
comm.Allreduce(x, m, op=MPI.MAX)
assert np.array_equal(m.copy_to_host(), np.arange(5) * 2)

# Bcast into a device array
z = cuda.to_device(np.full(4, 7.5)) if rank == 0 else cuda.device_array(4)
comm.Bcast(z, root=0)
assert np.array_equal(z.copy_to_host(), np.full(4, 7.5))

# a strided view cannot be a contiguous MPI buffer: mpi4py says why
try:
    comm.Send(cuda.to_device(np.arange(10.0))[::2], dest=other)
except BufferError as exc:
    assert "contiguous" in str(exc)
else:
    raise AssertionError("a strided device view was sent as a contiguous buffer")

# pickle-based send: a kernel defined here and a device array travel to rank 1
if rank == 0:
    comm.send((fill, cuda.to_device(np.arange(3.0))), dest=1, tag=9)
else:
    k, d = comm.recv(source=0, tag=9)
    assert isinstance(d, cuda.DeviceNDArray)
    assert np.array_equal(d.copy_to_host(), np.arange(3.0))
    out = cuda.device_array(6)
    k[1, 8](out, 0.5)
    assert np.array_equal(out.copy_to_host(), 0.5 * np.arange(1.0, 7.0))
comm.Barrier()
print(f"rank {rank}: all mpi checks passed", flush=True)
'''


def test_mpi4py_moves_device_arrays(tmp_path):
    script = tmp_path / "mpi_checks.py"
    script.write_text(SCRIPT)
    status, out = mpirun([script], tmp_path)
    assert status == 0, out
    assert "rank 0: all mpi checks passed" in out and "rank 1: all mpi checks passed" in out


def test_mpi_heat_example_matches_one_process(tmp_path):
    status, out = mpirun([ROOT / "examples" / "mpi_heat.py", "--n", "96", "--steps", "60"],
                         tmp_path)
    assert status == 0, out
    assert "on 2 rank(s)" in out
    assert "0 of 9604 values differ, total heat matches" in out
    assert "the ranks' plate equals the one-process plate" in out


def test_mpi_heat_example_detects_a_mismatch(tmp_path):
    """The example's check can fail: a halo exchange that sends nothing (a
    rank's edge rows never reach its neighbour) must be reported."""
    wrapper = tmp_path / "broken_heat.py"
    wrapper.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'examples')!r})\n"
        "import mpi_heat\n"
        "mpi_heat.exchange = lambda *args: None\n"
        "sys.exit(mpi_heat.main(sys.argv[1:]))\n")
    status, out = mpirun([wrapper, "--n", "64", "--steps", "40"], tmp_path)
    assert status == 1, out
    assert "MISMATCH" in out
