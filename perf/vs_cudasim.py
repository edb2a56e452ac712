"""The CPU device against numba's CUDA simulator, side by side: the same
numba.cuda saxpy kernel launched on ember's CPU device and under
NUMBA_ENABLE_CUDASIM=1 (each in its own process, since the simulator is
chosen at import). Reports microseconds per launch and the ratio; numba
absent is reported as absent. Writes perf/results/vs_cudasim.json.

    PYTHONPATH=python python3 perf/vs_cudasim.py [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r'''
import os, sys, time
import numpy as np
if sys.argv[1] == "numba-sim":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba import cuda
else:
    from ember import cuda

@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]

n, reps = int(sys.argv[2]), int(sys.argv[3])
x = np.arange(n, dtype=np.float32); y = np.ones(n, np.float32)
dx, dy, dout = cuda.to_device(x), cuda.to_device(y), cuda.to_device(np.zeros(n, np.float32))
saxpy[(n + 255) // 256, 256](np.float32(2), dx, dy, dout)
t = time.perf_counter()
for _ in range(reps):
    saxpy[(n + 255) // 256, 256](np.float32(2), dx, dy, dout)
cuda.synchronize()
dt = (time.perf_counter() - t) / reps
assert np.allclose(dout.copy_to_host(), 2 * x + y)
print(dt * 1e6)
'''


def run(which, n, reps):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "python"))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"  # ember reads kernel source from a file
        script.write_text(CHILD)
        proc = subprocess.run([sys.executable, str(script), which, str(n), str(reps)],
                              env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        if "No module named 'numba'" in proc.stderr:
            return None
        raise RuntimeError(f"{which} failed:\n{proc.stderr}")
    return float(proc.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = 256 if args.quick else 4096
    ember_us = run("ember", n, 50 if args.quick else 3000)
    sim_us = run("numba-sim", n, 1 if args.quick else 3)
    print(f"saxpy on {n} float32, per launch: ember cpu device {ember_us:.1f} us", end="")
    if sim_us is None:
        print("; numba's simulator: absent (python3-numba not installed)")
    else:
        print(f"; numba's CUDA simulator {sim_us:.0f} us: ember {sim_us / ember_us:,.0f}x faster")
    if not args.quick:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "vs_cudasim.json").write_text(json.dumps(
            {"n": n, "ember_us": ember_us, "numba_cudasim_us": sim_us}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
