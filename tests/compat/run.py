"""The compatibility measure: numba's own CUDA tests (numba/cuda/tests/cudapy
and cudadrv from Debian's python3-numba), run unchanged against ember through
the stand-in `numba` package (standin/), and against numba's simulator on the
same files in the same run.

    tools/dev python tests/compat/run.py [--jobs N] [--files PAT] [--verbose]
                                         [--check | --record] [--rescore]

Each test file runs in its own process, once per side (a crash or a hang
costs that file's unfinished tests, not the run). Prints

    ember: P passed, F failed of N scored (simulator passes B)

where N is every test ember ran (not skipped, not excluded by name in
excluded.py), P those that passed, and B how many of the same N the simulator
passes. --check fails if P is below tests/compat/baseline.json; --record
writes P there. Per-test outcomes and the first line of each failure go to
build/compat/results.json.
"""

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
import traceback
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BASELINE = HERE / "baseline.json"
SUITES = ("cudapy", "cudadrv")
FILE_TIMEOUT_S = {"ember": 150, "sim": 150}
PASSED = ("pass", "xfail")


def numba_tests_dir():
    import numpy
    return Path(numpy.__file__).resolve().parent.parent / "numba" / "cuda" / "tests"


# ---------------------------------------------------------------- child side

class RecordingResult(unittest.TestResult):
    """Writes one JSON line per finished test, so a crash keeps the rest."""

    def __init__(self, out, short_id):
        super().__init__()
        self._out, self._short = out, short_id
        self._failed_subtests = {}

    def _emit(self, test, outcome, detail=""):
        self._failed_subtests.pop(test.id(), None)  # one outcome per test
        line = {"test": self._short(test), "outcome": outcome, "detail": detail[-2000:]}
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()

    def _err_text(self, err):
        return "".join(traceback.format_exception(*err))

    def addSuccess(self, test):
        if test.id() in self._failed_subtests:
            self._emit(test, "fail", self._failed_subtests[test.id()])
        else:
            self._emit(test, "pass")

    def addFailure(self, test, err):
        self._emit(test, "fail", self._err_text(err))

    def addError(self, test, err):
        self._emit(test, "error", self._err_text(err))

    def addSkip(self, test, reason):
        self._emit(test, "skip", str(reason))

    def addExpectedFailure(self, test, err):
        self._emit(test, "xfail")

    def addUnexpectedSuccess(self, test):
        self._emit(test, "fail", "unexpected success")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._failed_subtests.setdefault(test.id(), self._err_text(err))

    def stopTest(self, test):
        # a failed subtest makes unittest skip addSuccess and report nothing
        # else for the test: record it as failed with the subtest's error
        if test.id() in self._failed_subtests:
            self._emit(test, "fail", self._failed_subtests[test.id()])
        super().stopTest(test)


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def child(mode, suite_name, file_name, out_path):
    if mode == "sim":
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        sys.path.insert(0, str(HERE / "standin"))
        import numba_standin
        numba_standin.install()
    module_name = f"numba.cuda.tests.{suite_name}.{file_name[:-3]}"
    prefix = module_name + "."

    def short_id(test):
        tid = test.id()
        rest = tid[len(prefix):] if tid.startswith(prefix) else tid
        return f"{suite_name}/{file_name}::{rest}"

    with open(out_path, "w", buffering=1) as out:
        try:
            import importlib
            module = importlib.import_module(module_name)
            suite = unittest.TestLoader().loadTestsFromModule(module)
        except BaseException as exc:  # the file does not even import
            out.write(json.dumps({"import_error": "".join(
                traceback.format_exception_only(type(exc), exc)).strip()}) + "\n")
            return
        tests = list(iter_tests(suite))
        out.write(json.dumps({"collected": [short_id(t) for t in tests]}) + "\n")
        result = RecordingResult(out, short_id)
        for test in tests:
            if isinstance(test, unittest.loader._FailedTest):
                result._emit(test, "error", "could not load")
                continue
            test(result)


# --------------------------------------------------------------- parent side

def run_file(mode, suite_name, file_name, workdir, rescore=False):
    out = workdir / f"{mode}-{suite_name}-{file_name}.jsonl"
    log = workdir / f"{mode}-{suite_name}-{file_name}.log"
    started = time.monotonic()
    status = "done"
    if not rescore:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT / "python") + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if mode == "ember":  # processes the tests start import the stand-in too
            env["PYTHONPATH"] = str(HERE / "standin" / "child_site") + os.pathsep + env["PYTHONPATH"]
        env.setdefault("EMBER_NUM_THREADS", "2")
        with open(log, "w") as logf:
            try:
                proc = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--child", mode,
                     suite_name, file_name, str(out)],
                    stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, cwd=workdir, timeout=FILE_TIMEOUT_S[mode])
                if proc.returncode != 0:
                    status = f"crashed (exit status {proc.returncode})"
            except subprocess.TimeoutExpired:
                status = f"hung (killed after {FILE_TIMEOUT_S[mode]} s)"
        (workdir / f"{mode}-{suite_name}-{file_name}.status").write_text(status)
    else:
        status_file = workdir / f"{mode}-{suite_name}-{file_name}.status"
        status = status_file.read_text() if status_file.exists() else "not run"
    collected, outcomes, import_error = [], {}, None
    if out.exists():
        for line in out.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "import_error" in rec:
                import_error = rec["import_error"]
            elif "collected" in rec:
                collected = rec["collected"]
            else:
                outcomes[rec["test"]] = (rec["outcome"], rec["detail"])
    if status != "done" and not out.exists():
        import_error = status
    for test in collected:
        outcomes.setdefault(test, ("error", status))
    return {"mode": mode, "file": f"{suite_name}/{file_name}", "status": status,
            "import_error": import_error, "outcomes": outcomes,
            "seconds": round(time.monotonic() - started, 1)}


def load_exclusions():
    sys.path.insert(0, str(HERE))
    from excluded import EXCLUDED
    return EXCLUDED


def excluded_reason(test_id, exclusions):
    file_part, _, name = test_id.partition("::")
    cls = name.split(".")[0]
    for key in (test_id, f"{file_part}::{cls}", file_part):
        if key in exclusions:
            return exclusions[key]
    return None


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt)\b")


def first_line(detail):
    """The exception's own line of a traceback (the last one that names an
    exception class), else its last line."""
    lines = [l for l in detail.strip().splitlines() if l.strip()]
    named = [l for l in lines if EXCEPTION_LINE.match(l)]
    return (named or lines or [""])[-1][:300]


def score(results, exclusions):
    sim, ember = {}, {}
    ember_import_errors = {}
    for res in results:
        side = sim if res["mode"] == "sim" else ember
        side.update(res["outcomes"])
        if res["mode"] == "ember" and res["import_error"]:
            ember_import_errors[res["file"]] = res["import_error"]
    # a file ember cannot import fails every test the simulator collected there
    for test, outcome in sim.items():
        file_part = test.partition("::")[0]
        if file_part in ember_import_errors and test not in ember:
            ember[test] = ("error", "import: " + ember_import_errors[file_part])
    scored = {}
    for test, (outcome, detail) in ember.items():
        if outcome == "skip" or excluded_reason(test, exclusions):
            continue
        scored[test] = {"ember": outcome, "sim": sim.get(test, ("absent", ""))[0],
                        "why": "" if outcome in PASSED else first_line(detail)}
    return scored


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--files", default="*", help="glob over suite/file names")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--rescore", action="store_true",
                    help="score the files of an earlier run in --out again, running nothing")
    ap.add_argument("--out", default=str(ROOT / "build" / "compat"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0

    tests_dir = numba_tests_dir()
    if not tests_dir.is_dir():
        print(f"compat: numba's CUDA tests are not installed ({tests_dir}); "
              "install python3-numba", file=sys.stderr)
        return 1
    files = [(s, p.name) for s in SUITES for p in sorted((tests_dir / s).glob("test_*.py"))
             if fnmatch.fnmatch(f"{s}/{p.name}", args.files)]
    workdir = Path(args.out)
    workdir.mkdir(parents=True, exist_ok=True)
    exclusions = load_exclusions()
    jobs = [(mode, s, f) for s, f in files for mode in ("ember", "sim")
            if f"{s}/{f}" not in exclusions]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda j: run_file(*j, workdir, args.rescore), jobs))
    scored = score(results, exclusions)
    passed = sum(1 for t in scored.values() if t["ember"] in PASSED)
    sim_passed = sum(1 for t in scored.values() if t["sim"] in PASSED)
    both = sum(1 for t in scored.values() if t["ember"] in PASSED and t["sim"] in PASSED)
    (workdir / "results.json").write_text(json.dumps(
        {"scored": scored, "files": [{k: r[k] for k in ("mode", "file", "status",
                                                          "import_error", "seconds")}
                                     for r in results]}, indent=1, sort_keys=True))
    if args.verbose:
        by_file = {}
        for test, t in scored.items():
            f = by_file.setdefault(test.partition("::")[0], [0, 0, 0])
            f[0] += t["ember"] in PASSED
            f[1] += 1
            f[2] += t["sim"] in PASSED
        for f, (p, n, b) in sorted(by_file.items()):
            print(f"  {f:45s} ember {p:4d}/{n:<4d} simulator {b:4d}")
        for r in results:
            if r["mode"] == "ember" and (r["import_error"] or r["status"] != "done"):
                print(f"  {r['file']}: {r['import_error'] or r['status']}")
    print(f"ember: {passed} passed, {len(scored) - passed} failed of {len(scored)} scored "
          f"(simulator passes {sim_passed})")
    print(f"compat: ember passes {both} of the simulator's {sim_passed} "
          f"({100.0 * both / max(sim_passed, 1):.1f}%); {len(files)} files, "
          f"{time.monotonic() - started:.0f} s; details in {workdir / 'results.json'}")
    if args.record:
        BASELINE.write_text(json.dumps({"passed": passed, "scored": len(scored),
                                        "simulator_passes": sim_passed}, indent=1) + "\n")
    if args.check:
        floor = json.loads(BASELINE.read_text())["passed"]
        if passed < floor:
            print(f"compat: FAILED: {passed} passed is below the recorded {floor}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
