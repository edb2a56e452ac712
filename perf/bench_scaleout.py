"""Beyond one process: ember kernels on Dask worker processes and MPI ranks.

* Mandelbrot tiles (examples/dask_mandelbrot.py's kernel and tile function)
  computed by a LocalCluster of 1 and of 2 worker processes (one Dask
  thread and one ember thread each), against the same kernel over the whole
  image in one process with one ember thread: the ratio is the speed-up
  over that one process. The clusters are started, and the kernel compiled
  on every worker, before the clock starts.
* The heat equation (examples/mpi_heat.py) on 1 and 2 MPI ranks
  (``mpirun -np N``, one ember thread per rank), its own timing of the
  steps; the ratio is to the 1-rank run.
* The cost of shipping a kernel: ``pickle.dumps`` of a kernel defined in
  __main__ (by value: function, source, options), ``pickle.loads`` where
  the process knows it already (what a worker does from the second task
  on), and a Dask task that launches a kernel on 1,000 floats against one
  that only calls NumPy, per task, on 2 worker processes.

Nothing here fails on a time. ``--quick`` uses small sizes and single runs.

    PYTHONPATH=python /usr/bin/python3 perf/bench_scaleout.py [--quick]

Writes perf/results/scaleout.json.
"""

import os
import pickle
import re
import shutil
import subprocess
import sys
import time

os.environ["EMBER_NUM_THREADS"] = "1"   # the one-process baseline: one ember thread

import numpy as np  # noqa: E402

import _common as C  # noqa: E402

sys.path.insert(0, str(C.ROOT / "examples"))


def timed(fn, repeat):
    """Median-of-`repeat` summary of fn() in ms (after one warm-up call)."""
    return C.measure(fn, 1, repeat, warmup=1, scale=1e3)


def mandelbrot_rows(quick):
    import dask
    from dask.distributed import Client, LocalCluster
    import dask_mandelbrot as m
    w, h, t, iters = (480, 360, 120, 50) if quick else (3000, 2000, 250, 200)
    repeat = 1 if quick else 3
    import dask.array as da
    fresh = iter(range(10**6))

    def image():
        """The tiled picture under a new name: a graph the scheduler has not
        computed yet (the same keys would come from its memory)."""
        return da.empty((h, w), chunks=t, dtype=np.int32).map_blocks(
            m.tile, w, h, iters, dtype=np.int32, name=f"mandelbrot-{next(fresh)}")
    one = timed(lambda: m.render(np.empty((h, w), np.int32), 0, 0, w, h, iters), repeat)
    results = {"one process": one}
    reference = m.render(np.empty((h, w), np.int32), 0, 0, w, h, iters)
    for n in (1, 2):
        with dask.config.set({"distributed.worker.daemon": True}), \
                LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                             dashboard_address=None,
                             env={"EMBER_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
            got = client.compute(image()).result()   # warm-up: every worker compiles
            assert np.array_equal(got, reference)
            results[f"{n} worker process{'es' if n > 1 else ''}"] = timed(
                lambda: client.compute(image()).result(), repeat)
    rows = [C.row(f"mandelbrot {w}x{h}, {iters} iterations, {image().npartitions} tiles of "
                  f"{t}x{t}", "ms", results, base="one process")]
    return rows


def heat_rows(quick):
    sizes = [(128, 40)] if quick else [(512, 300), (1024, 300)]
    return [heat_row(n, steps, quick) for n, steps in sizes]


def heat_row(n, steps, quick):
    mpirun = shutil.which("mpirun")
    case = f"heat equation {n}x{n}, {steps} steps"
    if mpirun is None:
        return C.row(case, "ms", {"1 rank": C.absent("no mpirun (openmpi-bin)")},
                     base="1 rank")
    repeat = 1 if quick else 3
    results = {}
    for ranks in (1, 2):
        cmd = [mpirun, "-np", str(ranks), "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd += [sys.executable, str(C.ROOT / "examples" / "mpi_heat.py"), "--n", str(n),
                "--steps", str(steps), "--no-check"]
        env = dict(os.environ, EMBER_NUM_THREADS="1", PYTHONPATH=str(C.ROOT / "python"))
        samples = []
        for _ in range(repeat):
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            found = re.search(r"\): ([0-9.]+) ms", p.stdout)
            if p.returncode != 0 or not found:
                raise RuntimeError(f"mpi_heat.py on {ranks} rank(s) failed:\n{p.stdout}"
                                   f"{p.stderr}")
            samples.append(float(found.group(1)))
        results[f"{ranks} rank{'s' if ranks > 1 else ''}"] = C.summarize(samples)
    return C.row(case, "ms", results, base="1 rank")


SHIP = '''
import pickle, sys, time
import numpy as np
from ember import cuda


@cuda.jit
def twice(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = 2.0 * a[i]


def with_kernel(seed):
    a = np.full(1000, float(seed))
    out = np.empty_like(a)
    twice[4, 256](a, out)
    return float(out[0])


def numpy_only(seed):
    a = np.full(1000, float(seed))
    return float((2.0 * a)[0])


if __name__ == "__main__":
    import json
    from dask.distributed import Client, LocalCluster
    quick = sys.argv[1] == "quick"
    reps = 200 if quick else 5000
    t = time.perf_counter()
    for _ in range(reps):
        blob = pickle.dumps(twice)
    dumps_us = (time.perf_counter() - t) / reps * 1e6
    t = time.perf_counter()
    for _ in range(reps):
        assert pickle.loads(blob) is twice
    loads_us = (time.perf_counter() - t) / reps * 1e6
    ntasks = 100 if quick else 2000
    per_task = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"EMBER_NUM_THREADS": "1"}) as cluster, \\
            Client(cluster) as client:
        for fn in (with_kernel, numpy_only):
            client.gather(client.map(fn, range(-4, 0), pure=False))      # warm-up
            best = None
            for _ in range(1 if quick else 3):
                t = time.perf_counter()
                r = client.gather(client.map(fn, range(ntasks), pure=False))
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            assert r == [2.0 * i for i in range(ntasks)]
            per_task[fn.__name__] = best / ntasks * 1e6
    print(json.dumps({"dumps_us": dumps_us, "loads_us": loads_us, "bytes": len(blob),
                      "tasks": ntasks, **per_task}))
'''


def shipping_rows(quick, tmp):
    script = tmp / "ship.py"
    script.write_text(SHIP)
    env = dict(os.environ, EMBER_NUM_THREADS="1", PYTHONPATH=str(C.ROOT / "python"))
    p = subprocess.run([sys.executable, str(script), "quick" if quick else "full"], env=env,
                       capture_output=True, text=True, timeout=600, cwd=tmp)
    if p.returncode != 0:
        raise RuntimeError(f"the shipping benchmark failed:\n{p.stdout}{p.stderr}")
    r = C.last_json(p.stdout)
    one = lambda v: {"median": v, "q1": v, "q3": v, "n": 1}   # noqa: E731
    return [
        C.row(f"pickle.dumps of a kernel by value ({r['bytes']} bytes)", "us",
              {"ember": one(r["dumps_us"])}),
        C.row("pickle.loads of a kernel the process knows (a worker's second task on)", "us",
              {"ember": one(r["loads_us"])}),
        C.row(f"Dask task on 2 worker processes, {r['tasks']} tasks: launches a kernel on "
              "1000 floats vs NumPy only", "us/task",
              {"ember": one(r["with_kernel"]), "NumPy only": one(r["numpy_only"])}),
    ]


def main():
    args = C.parse_args(__doc__)
    import tempfile
    from pathlib import Path
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("dask.distributed is not installed (python3-distributed): nothing to measure")
        C.write_results("scaleout", "Dask worker processes and MPI ranks", args.quick, [],
                        ["dask.distributed absent"])
        return
    rows = mandelbrot_rows(args.quick) + heat_rows(args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        rows += shipping_rows(args.quick, Path(tmp))
    notes = [f"{len(os.sched_getaffinity(0))} cores; each process runs one ember thread "
             "(EMBER_NUM_THREADS=1) and one Dask thread; ratios are to one process",
             "the heat equation times only the steps, halo exchanges included; at 1024x1024 "
             "the two arrays of one rank (17 MB) outgrow this VM's cache and a rank's half "
             "does not, hence more than 2x there"]
    C.print_table("Dask and MPI", rows, None)
    C.write_results("scaleout", "Dask worker processes and MPI ranks", args.quick, rows, notes)


if __name__ == "__main__":
    main()
