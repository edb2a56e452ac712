"""Threads stress ember's runtime at once: each of --threads threads
compiles kernels and ember.jit functions (new dispatchers, so each compiles
again), launches them on the CPU device, allocates device arrays, copies to
and from them, and checks every result against NumPy. Meant to run under
ThreadSanitizer (tools/dev tsan; README "Testing notes"), and, short, as a
plain test (tests/python/test_thread_stress.py).

    tools/dev python tests/stress/thread_stress.py --threads 6 --iterations 30
"""

import argparse
import sys
import threading

import numpy as np


KERNEL_SRC = '''
def kernel(x, y, out, k):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] * k + y[i] + {c}
'''

JIT_SRC = '''
def total(a, k):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * k + {c}
    return s
'''


def make(src, name, c, tmpdir, tag):
    """A function compiled from a file of its own (ember reads the source)."""
    import importlib.util
    import os
    path = os.path.join(tmpdir, f"stress_{tag}.py")
    with open(path, "w") as fh:
        fh.write("from ember import cuda\n" + src.format(c=c))
    spec = importlib.util.spec_from_file_location(f"stress_{tag}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def worker(t, iterations, tmpdir, errors):
    import ember
    from ember import cuda
    rng = np.random.default_rng(t)
    try:
        for it in range(iterations):
            n = int(rng.integers(1, 5000))
            c = t * 1000 + it
            x = rng.random(n)
            y = rng.random(n)
            k = float(rng.random())
            kern = cuda.jit(make(KERNEL_SRC, "kernel", c, tmpdir, f"k{t}_{it}"))
            dx, dy = cuda.to_device(x), cuda.to_device(y)      # allocate + copy in
            dout = cuda.device_array(n)
            kern[(n + 127) // 128, 128](dx, dy, dout, k)       # compile + launch
            got = dout.copy_to_host()                           # copy out
            np.testing.assert_allclose(got, x * k + y + c, rtol=1e-12)
            host = np.zeros(n)
            kern[(n + 63) // 64, 64](x, y, host, k)             # host arrays in place
            np.testing.assert_allclose(host, x * k + y + c, rtol=1e-12)
            f = ember.jit(make(JIT_SRC, "total", c, tmpdir, f"j{t}_{it}"))
            np.testing.assert_allclose(f(x, k), float(np.sum(x * k + c)), rtol=1e-9)
            dx.copy_to_device(y)                                # copy between
            np.testing.assert_array_equal(dx.copy_to_host(), y)
            del dx, dy, dout
    except BaseException as e:  # noqa: BLE001 - reported by the main thread
        errors.append((t, repr(e)))


def run(threads, iterations, tmpdir=None):
    """The errors of the threads (thread, repr); the generated sources go to
    tmpdir (kept: a test's PTX check compiles the kernels again later), or
    to a temporary directory."""
    import tempfile
    from ember import cuda
    cuda.select_device("cpu")
    errors = []
    with tempfile.TemporaryDirectory(prefix="ember_stress_") as tmp:
        ts = [threading.Thread(target=worker, args=(t, iterations, tmpdir or tmp, errors))
              for t in range(threads)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--iterations", type=int, default=30)
    a = ap.parse_args()
    errors = run(a.threads, a.iterations)
    for t, e in errors:
        print(f"thread {t}: {e}")
    print(f"{a.threads} threads x {a.iterations} iterations: "
          f"{'FAILED' if errors else 'all results match NumPy'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
