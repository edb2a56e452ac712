"""The fuzzer (tests/fuzz/fuzz.py) at a small fixed budget: 150 random
ember.jit functions and kernels, seed 1, compared with CPython; any crash,
hang or unexplained mismatch fails. Also checks that the harness itself
counts a crash and a hang instead of dying with them, and tells a wrong
value from an explained one. A long run: tools/dev python tests/fuzz/fuzz.py
--count 20000 --seed 1.
"""

import os
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz")
sys.path.insert(0, FUZZ)

import fuzz  # noqa: E402


def test_fixed_budget_has_no_crash_hang_or_mismatch():
    counts, explained, bad = fuzz.run(150, seed=1, batch=75, timeout=120)
    assert sum(counts.values()) == 150
    assert not bad, "\n".join(f"#{i} {cls}: {detail}" for i, cls, detail in bad)
    # the budget exercises each outcome: compiled and compared, and refused
    assert counts["same"] >= 50 and counts["clean"] >= 5


def test_harness_counts_crashes_and_hangs(monkeypatch):
    monkeypatch.setenv("EMBER_FUZZ_SELFTEST_CRASH", "1")
    monkeypatch.setenv("EMBER_FUZZ_SELFTEST_HANG", "3")
    counts, _, bad = fuzz.run(5, seed=1, batch=5, timeout=10)
    assert counts["crash"] == 1 and counts["hang"] == 1
    assert sum(counts.values()) == 5            # 0, 2 and 4 still ran
    assert {(i, cls) for i, cls, _ in bad} == {(1, "crash"), (3, "hang")}


def test_classify():
    ok = ("ok", [1.0, 2.0])
    assert fuzz.classify(ok, set(), ("ok", [1.0, 2.0]), "x.py", False)[0] == "same"
    assert fuzz.classify(ok, set(), ("ok", [1.0, 2.5]), "x.py", False)[0] == "mismatch"
    assert fuzz.classify(ok, {"bigint"}, ("ok", [1.0, 2.5]), "x.py", False) == \
        ("explained", "int-overflow")
    zero = ("err", "ZeroDivisionError", "division by zero")
    assert fuzz.classify(zero, set(), ("ok", 0), "x.py", False) == ("explained", "zero-division")
    located = ("err", "TypingError", "x.py:3:4: no", "ember.errors")
    assert fuzz.classify(ok, set(), located, "x.py", False)[0] == "clean"
    bare = ("err", "RuntimeError", "internal", "builtins")
    assert fuzz.classify(ok, set(), bare, "x.py", False)[0] == "mismatch"
    assert fuzz.classify(("ok", [float("nan")]), set(), ("ok", [float("nan")]), "x.py",
                         False)[0] == "same"
    # CPython stops at a division by zero; ember goes on (NumPy's model) to the
    # function's own raise: explained. Another exception from ember is not.
    own = ("err", "ValueError", "no", "builtins")
    assert fuzz.classify(zero, set(), own, "x.py", False, own_raises={"ValueError"}) == \
        ("explained", "zero-division")
    assert fuzz.classify(zero, set(), own, "x.py", False)[0] == "mismatch"


@pytest.mark.parametrize("seed", [3, 4])
def test_generator_is_deterministic(seed):
    from gen import gen_function
    assert gen_function(seed, "f") == gen_function(seed, "f")
    assert gen_function(seed, "f") != gen_function(seed + 1, "f")
