"""What every benchmark here shares: timing (warm-up, repeats, median and
interquartile range), the machine and versions a result was measured on,
which peers are present (numba, numba-cuda, CuPy, a GPU, nvcc), running a
child Python (the front ends read kernel source from files, and import
times and cold starts need fresh processes), tables on stdout and the JSON
in perf/results/.

A results file: {"benchmark", "title", "quick", "machine": {...}, "rows":
[{"case", "unit", "results": {tool: {"median", "q1", "q3", ...} or
{"absent": why}}, "ratios": {"tool/ember": x}}], "notes": [...]}.
perf/plot.py draws any such file (and tolerates others).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BUILD = ROOT / "build" / "perf"


def parse_args(doc):
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats: a smoke test, never judged on time")
    return p.parse_args()


# ---- timing ---------------------------------------------------------------

def summarize(samples, scale=1.0):
    """median, quartiles, min, max and count of `samples` (times `scale`)."""
    xs = sorted(s * scale for s in samples)
    if len(xs) >= 4:
        q = statistics.quantiles(xs, n=4)
        q1, q3 = q[0], q[2]
    else:
        q1, q3 = xs[0], xs[-1]
    return {"median": statistics.median(xs), "q1": q1, "q3": q3, "min": xs[0], "max": xs[-1],
            "n": len(xs)}


def measure(fn, number=1, repeat=7, warmup=1, sync=None, scale=1e6):
    """Runs fn `warmup` times, then `repeat` batches of `number` calls (with
    `sync()` before and after each batch); summary of the time per call
    (microseconds by default)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    for _ in range(repeat):
        if sync:
            sync()
        t = time.perf_counter()
        for _ in range(number):
            fn()
        if sync:
            sync()
        samples.append((time.perf_counter() - t) / number)
    return summarize(samples, scale)


def ratio(a, b):
    """median(a) / median(b), None when either is missing."""
    if not a or not b or "median" not in a or "median" not in b or not b["median"]:
        return None
    return a["median"] / b["median"]


# ---- machine, versions, peers ---------------------------------------------

def _git(*args):
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numba_version():
    try:
        import numba
        return numba.__version__
    except ImportError:
        return None


def cupy_version():
    try:
        import cupy
        return cupy.__version__
    except ImportError:
        return None


def gpu_info():
    """(name, (major, minor)) of CUDA device 0, or None without a GPU."""
    from ember import _ember
    if _ember.device_count("cuda") == 0:
        return None
    from ember import cuda
    cuda.select_device(0)
    dev = cuda.get_current_device()
    return dev.name, tuple(dev.compute_capability)


def no_gpu_reason():
    from ember import _ember
    if _ember.device_count("cuda") > 0:
        return None
    return "not run: no GPU lent (" + _ember.kind_unavailable_reason("cuda") + ")"


def nvcc_path():
    for p in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if p and os.path.exists(p):
            return p
    return None


def machine():
    import numpy as np
    import ember
    from ember import _ember
    dirty = "+dirty" if _git("status", "--porcelain", "--untracked-files=no") else ""
    gpu = None
    try:
        gpu = gpu_info()
    except Exception as e:  # a broken driver is reported, not fatal
        gpu = f"error: {e}"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": (_git("rev-parse", "--short", "HEAD") or "?") + dirty,
        "cpu": cpu_model(), "cores": os.cpu_count(), "ember_cpu": repr(ember.cpu),
        "python": platform.python_version(), "numpy": np.__version__,
        "ember": ember.__version__, "llvm": _ember.host_target().rsplit("LLVM", 1)[-1].strip(),
        "numba": numba_version(), "cupy": cupy_version(),
        "gpu": None if gpu is None else (gpu if isinstance(gpu, str) else
                                         f"{gpu[0]} (cc {gpu[1][0]}.{gpu[1][1]})"),
        "os": platform.platform(),
        # other jobs on the machine skew times (and core scaling): the load says how busy
        "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# ---- child processes and builds -------------------------------------------

def run_python(code, *args, env=None, timeout=600):
    """Runs `code` as a script file in a fresh interpreter (this one) with
    ember importable; returns its stdout. A failure raises with its stderr."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "python") + (os.pathsep + e["PYTHONPATH"]
                                              if e.get("PYTHONPATH") else "")
    e.update(env or {})
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench_child.py"
        script.write_text(code)
        p = subprocess.run([sys.executable, str(script), *map(str, args)], env=e,
                           capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"child failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return p.stdout


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


# the GPUs the CUDA C programs are built for: A100 and H100 machine code, and
# PTX the driver can JIT for newer ones
GENCODE = ("-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=sm_90",
           "-gencode=arch=compute_90,code=compute_90")


def nvcc_build(source, output, *flags):
    """Builds perf/cuda/`source` with nvcc into build/perf/`output`; returns
    (path, None) or (None, why)."""
    nvcc = nvcc_path()
    if nvcc is None:
        return None, "nvcc not found (set NVCC or put it on PATH)"
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / output
    src = HERE / "cuda" / source
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out, None
    p = subprocess.run([nvcc, *flags, str(src), "-o", str(out)], capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        return None, f"nvcc failed: {(p.stderr or p.stdout)[-2000:]}"
    return out, None


# ---- output ---------------------------------------------------------------

def fmt(stat, unit):
    if stat is None:
        return "-"
    if "absent" in stat:
        return "absent"
    spread = stat.get("q3", stat["median"]) - stat.get("q1", stat["median"])
    return f"{stat['median']:.3g} ±{spread / 2:.2g} {unit}"


def print_table(title, rows, tools=None):
    """rows as in the results file, one table per run of rows with the same
    tools (columns in the order of `tools`, then any others), then ratios."""
    print(f"\n{title}")
    groups = []
    for r in rows:
        names = list(r["results"])
        if groups and groups[-1][0] == names:
            groups[-1][1].append(r)
        else:
            groups.append((names, [r]))
    for names, group in groups:
        order = [t for t in (tools or []) if t in names] + \
            [t for t in names if t not in (tools or [])]
        head = ["case"] + order + ["ratios"]
        lines = []
        for r in group:
            cells = [r["case"]] + [fmt(r["results"].get(t), r["unit"]) for t in order]
            cells.append(", ".join(f"{k} {v:.3g}x" for k, v in r.get("ratios", {}).items()
                                   if v is not None))
            lines.append(cells)
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
        print()
        for cells in [head] + lines:
            print("  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
    seen = set()
    for r in rows:
        for t, s in r["results"].items():
            if s and "absent" in s and (t, s["absent"]) not in seen:
                seen.add((t, s["absent"]))
                print(f"  absent: {t}: {s['absent'][:300]}")


def row(case, unit, results, base="ember"):
    """A results row; ratios of every present tool to `base`."""
    ratios = {}
    for t, s in results.items():
        if t != base and s and "absent" not in s and results.get(base) and \
                "absent" not in results[base]:
            ratios[f"{t}/{base}"] = ratio(s, results[base])
    return {"case": case, "unit": unit, "results": results, "ratios": ratios}


def absent(why):
    return {"absent": why}


def write_results(name, title, quick, rows, notes=(), extra=None, path=None):
    """Writes perf/results/<name>[-quick].json, or `path` when given."""
    data = {"benchmark": name, "title": title, "quick": quick, "machine": machine(),
            "rows": rows, "notes": list(notes)}
    if extra:
        data.update(extra)
    if path is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    path = Path(path).resolve()
    path.write_text(json.dumps(data, indent=2, default=str))
    for n in notes:
        print(f"  note: {n}")
    print(f"  -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
