"""The compat runner (tests/compat): the stand-in only renames, its
assertPreciseEqual compares as numba documents, and one real numba test file
is scored on both sides."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

COMPAT = Path(__file__).resolve().parents[1] / "compat"
ROOT = COMPAT.parents[1]


def run_in_standin(code):
    prog = ("import sys; sys.path.insert(0, %r); import numba_standin; "
            "numba_standin.install()\n" % str(COMPAT / "standin")) + code
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin"},
                          timeout=120)


def test_standin_forwards_ember_objects():
    out = run_in_standin(
        "import ember, ember.cuda\n"
        "from numba import cuda, float32\n"
        "import numba.core.errors as e\n"
        "assert cuda.jit is ember.cuda.jit and float32 is ember.float32\n"
        "assert e.TypingError is ember.errors.TypingError\n"
        "print('ok')\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_standin_has_nothing_ember_lacks():
    out = run_in_standin(
        "import ember.cuda\n"
        "try:\n"
        "    import numba.core.typing.templates\n"
        "except ImportError:\n"
        "    print('no module')\n"
        "from numba import cuda\n"
        "print(hasattr(cuda, 'no_such_api'))\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["no", "module", "False"]


@pytest.fixture(scope="module")
def support():
    sys.path.insert(0, str(COMPAT / "standin"))
    try:
        import harness_support
        yield harness_support
    finally:
        sys.path.remove(str(COMPAT / "standin"))


def test_precise_equal_kinds_and_precision(support):
    import numpy as np

    class T(support.TestCase):
        def runTest(self):
            pass

    t = T()
    t.assertPreciseEqual(1.0, 1.0)
    t.assertPreciseEqual(np.array([1, 2]), np.array([1, 2]))
    t.assertPreciseEqual(float("nan"), float("nan"))
    t.assertPreciseEqual(1.0, 1.0 + 2 ** -30, prec="single")
    for a, b, kw in [(1, 1.0, {}),                                   # int vs float
                     (np.float32(1), np.float64(1), {}),             # dtypes
                     (np.array([1, 2]), np.array([1.0, 2.0]), {}),   # array dtypes
                     (1.0, 1.0 + 2 ** -30, {}),                      # exact
                     (1.0, 1.0 + 2 ** -20, {"prec": "single"}),
                     (0.0, -0.0, {})]:
        with pytest.raises(AssertionError):
            t.assertPreciseEqual(a, b, **kw)
    t.assertPreciseEqual(0.0, -0.0, ignore_sign_on_zero=True)


def test_precise_equal_tolerance_is_numbas(support):
    """The stand-in accepts and refuses the same near-equal values as
    numba's own assertPreciseEqual (its tolerance scales with the whole
    values, a complex number's modulus, not each part)."""
    pytest.importorskip("numba")
    import numpy as np
    from numba.tests.support import TestCase as NumbaCase

    class T(support.TestCase):
        def runTest(self):
            pass

    class N(NumbaCase):
        def runTest(self):
            pass

    ours, theirs = T(), N()
    c = np.complex64
    cases = [(1.0, 1.0 + 2 ** -23, "single", 1), (1.0, 1.0 + 2 ** -22, "single", 1),
             (1.0, 1.0 + 2 ** -22, "single", 2), (1e10, 1e10 * (1 + 2 ** -52), "double", 1),
             (c(1e3 + 1e-3j), c(1e3 + 1.0001e-3j), "single", 1),
             (c(1 + 1j), c(1 + 1.001j), "single", 1), (c(1e-8 + 1j), c(2e-8 + 1j), "single", 2),
             (np.float32(3.0), np.float32(3.0000002), "single", 1),
             (complex(1.5, float("nan")), complex(1.5, float("nan")), "double", 1),   # NaN delta
             (complex(1.5, float("nan")), complex(1.6, float("nan")), "double", 1)]
    for a, b, prec, ulps in cases:
        outcome = []
        for case in (ours, theirs):
            try:
                case.assertPreciseEqual(a, b, prec=prec, ulps=ulps)
                outcome.append(True)
            except AssertionError:
                outcome.append(False)
        assert outcome[0] == outcome[1], (a, b, prec, ulps, outcome)


def test_runner_scores_a_numba_file(tmp_path):
    pytest.importorskip("numba")
    out = subprocess.run(
        [sys.executable, str(COMPAT / "run.py"), "--files", "cudapy/test_boolean.py",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ember: 1 passed, 0 failed of 1 scored (simulator passes 1)" in out.stdout
    scored = json.loads((tmp_path / "results.json").read_text())["scored"]
    assert scored == {"cudapy/test_boolean.py::TestCudaBoolean.test_boolean":
                      {"ember": "pass", "sim": "pass", "why": ""}}
