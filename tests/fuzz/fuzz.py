"""The fuzzer: random functions (tests/fuzz/gen.py) compiled with ember.jit
and, every other one, called as a device function from a kernel on the CPU
device; each result (return value and the array it may write) is compared
with CPython running the same source. Every function is classified:

  same      the same value (floats within a tolerance, NaN == NaN) or the
            same exception type
  clean     ember refused it with a located error (an ember.errors error,
            or an exception naming the generated file): unsupported
            constructs, typing limits
  explained a difference documented below (EXPLAINED)
  mismatch  anything else: a wrong value, or an unlocated error
  crash     the process died (a signal, a fatal error)
  hang      no answer within --timeout seconds

Batches run in child processes, so a crash or a hang is counted and the
run goes on with the next function.

    tools/dev python tests/fuzz/fuzz.py --count 20000 --seed 1     # a long run
    tools/dev python tests/fuzz/fuzz.py --count 200 --seed 1 -v    # show each mismatch

(tests/python/test_fuzz.py runs a small fixed budget in CI.)
"""

import argparse
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# The differences that are ember's (and numba's) semantics, not bugs:
EXPLAINED = {
    "zero-division": "division or modulo by zero: ember.jit follows NumPy's error model "
                     "(inf, nan or 0; README 'Behaves differently: the language') where "
                     "CPython raises ZeroDivisionError",
    "math-domain": "math.sqrt(-1), math.log(0), math.exp(1000), int(nan) ...: CPython raises "
                   "ValueError / OverflowError, compiled code (numba too) returns nan / inf or "
                   "an undefined integer; or NumPy warned 'invalid value' (np.int64(nan) ...: "
                   "an undefined integer that then decides indices and branches)",
    "int-overflow": "an integer outgrew 64 bits in CPython (arbitrary precision) where ember "
                    "wraps as numba does, or a NumPy scalar operation overflowed (NumPy warned) "
                    "where numba's typing computes in a wider type",
    "scalar-typing": "a result within 1e-3 relative where float32 takes part: NumPy's scalar "
                     "promotion (value-based) and numba's typing pick different precisions",
    "weak-literal": "a narrow or unsigned integer (int8..int32, uint8..uint64) takes part and "
                    "the values differ: ember types Python literals weakly (NEP 50, README "
                    "'Behaves differently: the language': np.uint64(2) * -5 wraps in uint64) "
                    "where NumPy 1.24's scalars and numba widen",
    "nan-sign": "math.copysign(x, nan): the sign of a NaN NumPy computed (nan % 0.0 ...) "
                "differs between NumPy's loops and compiled code; the magnitudes agree",
    "numpy-bool": "arithmetic on NumPy bools: NumPy's bool_ + bool_ is a logical or (True), "
                  "numba and ember add them as integers (2), as Python's bools do",
    "bool-negative": "-x or x - y of NumPy bools: NumPy refuses (TypeError), numba and ember "
                     "compute with them as integers, as Python's own bools do",
}

NARROW = ("int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64")


# --------------------------------------------------------------------------
# The child: runs functions [start, stop) and prints one line per function
# --------------------------------------------------------------------------

def _load(path, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _py_run(fn, args):
    """CPython's result: ('ok', value, arr, flags) or ('err', type name, msg, flags)."""
    import warnings
    flags = set()

    def tracer(frame, event, arg):
        if frame.f_code is fn.__code__:
            for v in frame.f_locals.values():
                if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 63:
                    flags.add("bigint")
        return tracer

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sys.settrace(tracer)
        try:
            v = fn(*args)
            out = ("ok", v)
        except Exception as e:  # noqa: BLE001 - any error is a result
            out = ("err", type(e).__name__, str(e))
        finally:
            sys.settrace(None)
    if any("overflow" in str(x.message) for x in w):
        flags.add("overflow-warning")
    if any("divide" in str(x.message) for x in w):
        flags.add("divide-warning")
    if any("invalid value" in str(x.message) for x in w):
        flags.add("invalid-warning")
    if isinstance(out[1] if out[0] == "ok" else None, int) and abs(out[1]) >= 2 ** 63:
        flags.add("bigint")
    return out, flags


def _em_run(call):
    try:
        return ("ok", call())
    except Exception as e:  # noqa: BLE001
        return ("err", type(e).__name__, str(e), type(e).__module__)


def _close(x, y, rel):
    import numpy as np
    x, y = complex(x), complex(y)
    for p, q in ((x.real, y.real), (x.imag, y.imag)):
        if np.isnan(p) and np.isnan(q):
            continue
        if np.isinf(p) or np.isinf(q):
            if p != q:
                return False
            continue
        if abs(p - q) > 1e-9 + rel * max(abs(p), abs(q)):
            return False
    return True


def _values_close(a, b, rel):
    import numpy as np
    a, b = np.atleast_1d(np.asarray(a)), np.atleast_1d(np.asarray(b))
    if a.shape != b.shape:
        return False
    return all(_close(x, y, rel) for x, y in zip(a.ravel(), b.ravel()))


def _explained_cpython_error(py, narrow):
    """The explained class of an error CPython raised where compiled code
    (NumPy's error model) goes on, or None."""
    if py[1] == "ZeroDivisionError":
        return "zero-division"
    if py[1] in ("ValueError", "OverflowError") and (
            "math" in py[2] or "convert" in py[2] or "range" in py[2] or "NaN" in py[2]
            or "infinity" in py[2] or "too large" in py[2]):
        return "math-domain"
    if py[1] == "TypeError" and "numpy boolean" in py[2]:
        return "bool-negative"
    if narrow and py[1] in ("IndexError", "OverflowError"):  # another branch taken
        return "weak-literal"
    return None


def classify(py, flags, em, path, f32, narrow=False, copysign=False, own_raises=()):
    """(class, detail). `own_raises`: the exception classes the function's
    own `raise` statements name."""
    import numpy as np
    if em[0] == "err":
        clean = em[3] == "ember.errors" or path in em[2]
        if py[0] == "err" and py[1] == em[1]:
            return "same", em[1]
        if clean:
            return "clean", em[1] + ": " + em[2].splitlines()[0][:160]
        if py[0] == "err" and em[1] in own_raises:
            # CPython stopped at an error compiled code goes past (NumPy's
            # model), and ember went on to the function's own raise
            kind = _explained_cpython_error(py, narrow)
            if kind:
                return "explained", kind
        if py[0] == "err":
            return "mismatch", f"CPython {py[1]}: {py[2][:80]} / ember {em[1]}: {em[2][:120]}"
        return "mismatch", f"ember raised {em[1]}: {em[2][:160]}"
    if py[0] == "err":
        kind = _explained_cpython_error(py, narrow)
        if kind:
            return "explained", kind
        if py[1] == "IndexError":
            return "mismatch", f"CPython IndexError ({py[2][:60]}), ember returned"
        return "mismatch", f"CPython {py[1]}: {py[2][:100]}, ember returned {em[1]!r}"[:240]
    if _values_close(py[1], em[1], 1e-6 if f32 else 1e-9):
        return "same", ""
    if flags & {"bigint", "overflow-warning"}:
        return "explained", "int-overflow"
    diff = [(p, q) for p, q in zip(np.atleast_1d(np.asarray(py[1], object)).ravel(),
                                   np.atleast_1d(np.asarray(em[1], object)).ravel())
            if not _close(p, q, 1e-9)]
    if "divide-warning" in flags and all(not np.isfinite(complex(p)) for p, _ in diff):
        return "explained", "zero-division"
    if "invalid-warning" in flags:  # np.int64(nan) and the like: then anything
        return "explained", "math-domain"
    if all(isinstance(p, (bool, np.bool_)) for p, _ in diff):
        return "explained", "numpy-bool"
    if f32 and _values_close(py[1], em[1], 1e-3):
        return "explained", "scalar-typing"
    if narrow:
        return "explained", "weak-literal"
    if copysign and _values_close(np.abs(np.asarray(py[1], complex)),
                                  np.abs(np.asarray(em[1], complex)), 1e-9):
        return "explained", "nan-sign"
    return "mismatch", f"CPython {py[1]!r} / ember {em[1]!r}"[:240]


def _own_raises(src):
    return set(re.findall(r"raise (\w+)\(", src))


def run_one(idx, seed, tmp):
    import numpy as np

    import ember
    from ember import cuda
    from gen import N_ARR, gen_args, gen_function
    fseed = seed * 1_000_003 + idx
    name = f"f{idx}"
    src, types, raw, _ = gen_function(fseed, name)
    kernel = idx % 2 == 1
    path = os.path.join(tmp, f"fz_{seed}_{idx}.py")
    head = "import math\nimport numpy as np\nfrom ember import cuda\n\n"
    if kernel:
        src += (f"\n\ndef k_{name}(A, B, C, arrs, out):\n"
                f"    i = cuda.grid(1)\n"
                f"    if i < out.size:\n"
                f"        out[i] = {name}_dev(A[i], B[i], C[i], arrs[i])\n")
    with open(path, "w") as fh:
        fh.write(head + src)
    mod = _load(path, f"fz_{seed}_{idx}")
    fn = getattr(mod, name)
    f32 = "float32" in src or "float32" in types
    narrow = any(t in NARROW for t in types) or any(f"np.{t}" in src for t in NARROW)
    if not kernel:
        args, arr = gen_args(fseed, types)
        a_py, a_em = arr.copy(), arr.copy()
        py, flags = _py_run(fn, (*args, a_py))
        em = _em_run(lambda: ember.jit(boundscheck=raw)(fn)(*args, a_em))
        if py[0] == "ok" and em[0] == "ok":
            py = ("ok", [py[1]] + list(a_py))
            em = ("ok", [em[1]] + list(a_em))
        return classify(py, flags, em, path, f32, narrow, "copysign" in src, _own_raises(src))
    # a kernel over 4 threads, each with its own row of the array
    nthreads = 4
    cols = [[] for _ in range(3)]
    rows = []
    for t in range(nthreads):
        args, arr = gen_args(fseed + t, types)
        for c in range(3):
            cols[c].append(args[c])
        rows.append(arr)
    A, B, C = (np.array(c, dtype=type(c[0])) for c in cols)
    arrs = np.array(rows)
    a_py = arrs.copy()
    py_vals, flags, py_err = [], set(), None
    for t in range(nthreads):
        r, fl = _py_run(fn, (A[t], B[t], C[t], a_py[t]))
        flags |= fl
        if r[0] == "err":
            py_err = r
            break
        py_vals.append(r[1])
    if py_err is None and any(isinstance(v, (complex, np.complexfloating)) for v in py_vals):
        return "same", "skipped: a complex result (the kernel's output is float64)"
    out = np.zeros(nthreads)
    a_em = arrs.copy()
    setattr(mod, f"{name}_dev", cuda.jit(device=True)(fn))
    k = cuda.jit(boundscheck=raw)(getattr(mod, f"k_{name}"))
    em = _em_run(lambda: k[1, nthreads](A, B, C, a_em, out))
    if py_err is not None:
        return classify(py_err, flags, em if em[0] == "err" else ("ok", list(out)), path, f32,
                        narrow, "copysign" in src, _own_raises(src))
    if em[0] == "ok":
        py = ("ok", [v if isinstance(v, (bool, np.bool_)) else float(np.real(v))
                     for v in py_vals] + list(a_py.ravel()))
        em = ("ok", list(out) + list(a_em.ravel()))
    else:
        py = ("ok", py_vals)
    assert N_ARR == arrs.shape[1]
    return classify(py, flags, em, path, f32, narrow, "copysign" in src, _own_raises(src))


def _warm(x):
    return x + 1


def child(seed, start, stop):
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from ember import cuda, jit
    cuda.select_device("cpu")
    jit(_warm)(np.int64(1))  # LLVM's start-up, not counted in a function's time
    print("READY", flush=True)
    with tempfile.TemporaryDirectory(prefix="ember_fuzz_") as tmp:
        crash_at = int(os.environ.get("EMBER_FUZZ_SELFTEST_CRASH", -1))  # the harness's test
        hang_at = int(os.environ.get("EMBER_FUZZ_SELFTEST_HANG", -1))
        for idx in range(start, stop):
            print(f"S {idx}", flush=True)
            if idx == crash_at:
                os.abort()
            if idx == hang_at:
                time.sleep(3600)
            try:
                cls, detail = run_one(idx, seed, tmp)
            except Exception as e:  # noqa: BLE001 - the harness's own failure
                cls, detail = "mismatch", f"harness: {type(e).__name__}: {e}"[:240]
            print("R " + json.dumps([idx, cls, detail]), flush=True)


# --------------------------------------------------------------------------
# The parent: batches in children, crashes and hangs counted
# --------------------------------------------------------------------------

def run(count, seed, batch=100, timeout=60.0, start=0, verbose=False, log=None):
    """{class: count} and the list of (index, class, detail) that are not
    same / clean / explained."""
    counts = {k: 0 for k in ("same", "clean", "explained", "mismatch", "crash", "hang")}
    explained = {}
    bad = []
    idx = start
    stop_all = start + count
    env = dict(os.environ, EMBER_DEVICE="cpu")
    while idx < stop_all:
        stop = min(idx + batch, stop_all)
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child",
                              "--seed", str(seed), "--start", str(idx), "--stop", str(stop)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)
        current, deadline = None, time.monotonic() + max(timeout * 3, 300)  # start-up
        next_idx = idx
        buf = ""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                p.wait()
                hung = current if current is not None else idx
                counts["hang"] += 1
                bad.append((hung, "hang", f"no answer in {timeout:.0f} s"))
                idx = hung + 1
                break
            if "\n" not in buf:  # read what the child wrote (unbuffered: select sees it all)
                ready, _, _ = select.select([p.stdout], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                buf += chunk.decode(errors="replace")
                if chunk:
                    continue
            line, _, buf = buf.partition("\n") if "\n" in buf else (buf, "", "")
            if not line:  # the child ended
                rc = p.wait()
                if current is None and rc != 0:  # before its first function, or between
                    current = next_idx
                if current is not None:
                    err = p.stderr.read()[-300:].decode(errors="replace")
                    counts["crash"] += 1
                    bad.append((current, "crash", f"exit status {rc}: {err.strip()}"))
                    idx = current + 1
                else:
                    idx = stop
                break
            if line.startswith("S "):
                current = int(line.split()[1])
                deadline = time.monotonic() + timeout
            elif line.startswith("R "):
                i, cls, detail = json.loads(line[2:])
                next_idx = i + 1
                counts[cls] += 1
                if cls == "explained":
                    explained[detail] = explained.get(detail, 0) + 1
                elif cls not in ("same", "clean"):
                    bad.append((i, cls, detail))
                if log:
                    log.write(f"{i}\t{cls}\t{detail}\n")
                current = None
                deadline = time.monotonic() + timeout * 3
        if p.poll() is None:
            p.kill()
            p.wait()
        for s in (p.stdout, p.stderr):
            s.close()
        if verbose:
            print(f"{idx - start}/{count}: {counts}", file=sys.stderr, flush=True)
    return counts, explained, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--stop", type=int)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per function")
    ap.add_argument("--log", help="write every function's class to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.child:
        child(a.seed, a.start, a.stop)
        return 0
    log = open(a.log, "w") if a.log else None
    t = time.monotonic()
    counts, explained, bad = run(a.count, a.seed, a.batch, a.timeout, a.start, a.verbose, log)
    print(f"{a.count} functions, seed {a.seed}, {time.monotonic() - t:.0f} s: " +
          ", ".join(f"{k} {v}" for k, v in counts.items()))
    for k, v in sorted(explained.items()):
        print(f"  explained {k}: {v} ({EXPLAINED[k]})")
    for i, cls, detail in bad:
        print(f"  #{i} {cls}: {detail}")
        if a.verbose:
            from gen import gen_function
            print("    " + gen_function(a.seed * 1_000_003 + i, f"f{i}")[0].replace("\n", "\n    "))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
