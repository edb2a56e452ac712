"""The 2-D heat equation on a plate split between MPI ranks, with halo exchange.

Each rank holds a band of rows of the plate as a device array, with one
halo row above and one below. Every step, neighbouring ranks swap their
edge rows into each other's halos (``comm.Sendrecv`` straight from and
into device arrays: they export the buffer protocol on the CPU device) and
a kernel advances the band by one explicit Euler step of

    du/dt = alpha * (d2u/dx2 + d2u/dy2),    u = 0 on the plate's edge.

At the end the bands are gathered on rank 0 (``comm.Gatherv`` from device
arrays), the total heat is summed with ``comm.Allreduce`` (device arrays
again), and rank 0 checks the plate against the same kernel run on the
whole plate in one process: the arithmetic is the same, so every value
must be equal. It exits with status 1 on a mismatch.

Run (2 ranks; ``--allow-run-as-root`` only as root):

    mpirun -np 2 --oversubscribe python3 examples/mpi_heat.py [--n 512] [--steps 200]

and without mpirun it runs as one rank. On a GPU the halos are device
memory: ``--cuda-aware`` hands the device arrays to a CUDA-aware MPI (mpi4py
reads their ``__cuda_array_interface__``); otherwise each halo is staged
through a host array.
"""

import argparse
import sys
import time

import numpy as np
from mpi4py import MPI

from ember import cuda

ALPHA = 0.2      # dt * diffusivity / dx^2; below 0.25 the explicit scheme is stable


@cuda.jit
def heat_step(u, out, alpha):
    i, j = cuda.grid(2)
    if 1 <= i < u.shape[0] - 1 and 1 <= j < u.shape[1] - 1:
        out[i, j] = u[i, j] + alpha * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] +
                                       u[i, j + 1] - 4.0 * u[i, j])


def initial(n):
    """The plate with its edge (n + 2 square): a hot square off the centre."""
    u = np.zeros((n + 2, n + 2))
    u[n // 4: n // 2, n // 3: 2 * n // 3] = 100.0
    return u


def launch(u, out):
    threads = (16, 16)
    blocks = ((u.shape[0] + 15) // 16, (u.shape[1] + 15) // 16)
    heat_step[blocks, threads](u, out, ALPHA)


def run_one_process(n, steps):
    """The whole plate in this process: the reference."""
    a = cuda.to_device(initial(n))
    b = cuda.to_device(initial(n))
    for _ in range(steps):
        launch(a, b)
        a, b = b, a
    return a.copy_to_host()


def bands(n, size):
    """(first row, row count) of each rank's band of the n interior rows."""
    counts = [n // size + (1 if r < n % size else 0) for r in range(size)]
    starts = [1 + sum(counts[:r]) for r in range(size)]
    return list(zip(starts, counts))


def exchange(comm, u, up, down, cuda_aware):
    """Swaps edge rows with the neighbours: row 1 goes up and the halo row 0
    comes from above; row -2 goes down and halo row -1 comes from below.
    MPI.PROC_NULL neighbours (the plate's edge) leave the halo at 0."""
    if u.device.kind == "cpu" or cuda_aware:
        comm.Sendrecv(u[1], dest=up, recvbuf=u[0], source=up)
        comm.Sendrecv(u[u.shape[0] - 2], dest=down, recvbuf=u[u.shape[0] - 1], source=down)
        return
    # a GPU without CUDA-aware MPI: through host copies of the rows
    send, recv = np.empty(u.shape[1]), np.empty(u.shape[1])
    for src, dst, peer in ((1, 0, up), (u.shape[0] - 2, u.shape[0] - 1, down)):
        u[src].copy_to_host(send)
        comm.Sendrecv(send, dest=peer, recvbuf=recv, source=peer)
        if peer != MPI.PROC_NULL:
            u[dst].copy_to_device(recv)


def run_ranks(comm, n, steps, cuda_aware):
    """This rank's share of the iteration; returns (plate on rank 0 or
    None, total heat, seconds spent stepping)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    start, count = bands(n, size)[rank]
    plate = initial(n)
    band = plate[start - 1: start + count + 1]           # own rows and both halos
    a, b = cuda.to_device(band), cuda.to_device(band)
    up = rank - 1 if rank > 0 else MPI.PROC_NULL
    down = rank + 1 if rank < size - 1 else MPI.PROC_NULL
    launch(cuda.to_device(band), cuda.to_device(band))   # compiles before the clock starts
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        exchange(comm, a, up, down, cuda_aware)
        launch(a, b)
        a, b = b, a
    comm.Barrier()
    elapsed = time.perf_counter() - t0
    # total heat: each rank's sum in a device array, reduced by MPI
    local = cuda.to_device(np.array([a[1: count + 1].copy_to_host().sum()]))
    total = cuda.device_array(1, dtype=np.float64)
    comm.Allreduce(local, total, op=MPI.SUM)
    # the plate on rank 0: the interior rows of every band, straight from device memory
    width = n + 2
    full = np.zeros((n + 2, width)) if rank == 0 else None
    rows = a[1: count + 1]
    counts = [c * width for _, c in bands(n, size)]
    displs = [s * width for s, _ in bands(n, size)]
    recv = [full, counts, displs, MPI.DOUBLE] if rank == 0 else None
    comm.Gatherv(rows, recv, root=0)
    return full, float(total[0]), elapsed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256, help="interior points per side")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--cuda-aware", action="store_true",
                   help="give device arrays to MPI on a GPU (needs a CUDA-aware MPI)")
    p.add_argument("--no-check", action="store_true", help="skip the one-process run")
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if args.n < size:
        if rank == 0:
            print(f"--n {args.n} is smaller than the {size} ranks", file=sys.stderr)
        return 2
    plate, total, elapsed = run_ranks(comm, args.n, args.steps, args.cuda_aware)
    if rank != 0:
        return 0
    dev = cuda.get_current_device()
    print(f"heat equation {args.n}x{args.n}, {args.steps} steps on {size} rank(s) "
          f"({dev.kind} device): {elapsed * 1e3:.1f} ms, total heat {total:.6f}")
    status = 0
    if not args.no_check:
        t0 = time.perf_counter()
        ref = run_one_process(args.n, args.steps)
        one = time.perf_counter() - t0
        bad = int(np.count_nonzero(plate != ref))
        heat_ok = abs(total - ref.sum()) <= 1e-9 * max(1.0, abs(ref.sum()))
        print(f"one process: {one * 1e3:.1f} ms; {bad} of {ref.size} values differ, "
              f"total heat {'matches' if heat_ok else 'DIFFERS'}")
        status = 0 if bad == 0 and heat_ok else 1
        print("the ranks' plate equals the one-process plate" if status == 0 else "MISMATCH")
    return status


if __name__ == "__main__":
    sys.exit(main())
