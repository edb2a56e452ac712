"""Long expressions and deep nesting compile or give a located error
(issue 14): a 900-term sum, a 700-branch elif chain and 60 nested ifs
compile (the front end builds left-nested sums and elif chains in a loop,
not by recursion); code nested deeper than the compiler can follow on the
thread's stack (the C passes recurse once per level) or than the front
end's recursion allows is a TypingError naming file:line:col, never a bare
RecursionError, "tree nested too deeply" or a crash. The functions are
written to files, since ember reads a function's source."""

import hashlib
import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda, njit
from ember.errors import TypingError


def load(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"deep_{name}_{os.getpid()}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(path)


def long_sum(n, var="a"):
    return " + ".join([var] * n)


def test_900_term_sum_compiles(tmp_path):
    mod, _ = load(tmp_path, "sum900", textwrap.dedent(f"""\
        from ember import cuda

        def f(a):
            return {long_sum(900)}

        @cuda.jit
        def k(out, a):
            out[0] = {long_sum(900)}
        """))
    assert njit(mod.f)(1.5) == 1350.0
    assert njit(mod.f)(3) == 2700
    out = np.zeros(1)
    mod.k[1, 1](out, 2.0)
    assert out[0] == 1800.0


def test_long_elif_chain_compiles(tmp_path):
    branches = "".join(f"    elif a == {i}:\n        x = {i * 3}\n" for i in range(1, 700))
    mod, _ = load(tmp_path, "elif700", "def f(a):\n    x = -1\n    if a == 0:\n        x = 0\n"
                  f"{branches}    else:\n        x = -2\n    return x\n")
    f = njit(mod.f)
    assert [f(0), f(1), f(350), f(699), f(700)] == [0, 3, 1050, 2097, -2]


def test_60_nested_ifs_compile(tmp_path):
    body = "".join("    " * (i + 1) + f"if a > {i}:\n" for i in range(60))
    src = ("from ember import cuda\n\ndef f(a):\n    x = 0\n" + body + "    " * 61 +
           "x = 1\n    return x\n\n@cuda.jit\ndef k(out, a):\n    x = 0\n" + body +
           "    " * 61 + "x = 1\n    out[0] = x\n")
    mod, _ = load(tmp_path, "ifs60", src)
    f = njit(mod.f)
    assert f(60) == 1 and f(59) == 0
    out = np.zeros(1)
    mod.k[1, 1](out, 100)
    assert out[0] == 1


TOO_DEEP = {
    # past what the C passes may recurse on an 8 MiB stack: their limit
    "sum": (long_sum(2500), 11),
    # the front end recurses on these: its RecursionError, located
    "neg": ("-" * 900 + "a", None),
    "ifexp": ("a if a > 0 else " * 500 + "a", None),
    "pow": (" ** ".join(["a"] * 900), None),
}


@pytest.mark.parametrize("name", sorted(TOO_DEEP))
def test_too_deep_is_a_located_typing_error(tmp_path, name):
    expr, col = TOO_DEEP[name]
    mod, path = load(tmp_path, name, f"def f(a):\n    return {expr}\n")
    with pytest.raises(TypingError) as ei:
        njit(mod.f)(1.0)
    msg = str(ei.value)
    assert f"{path}:2:" in msg and "nested" in msg and "levels deep" in msg, msg
    assert ei.value.line == 2 and ei.value.filename == path
    if col is not None:
        assert ei.value.col == col
    assert not isinstance(ei.value.__cause__, RecursionError)


def test_small_thread_stack_gives_a_typing_error_not_a_crash(tmp_path):
    # the depth allowed follows the stack the compiling thread has left
    (tmp_path / "sum300.py").write_text(f"def f(a):\n    return {long_sum(300)}\n")
    code = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        from ember import njit
        from ember.errors import TypingError
        import sum300
        out = []
        def run():
            try:
                njit(sum300.f)(1.0)
                out.append("compiled")
            except TypingError as e:
                out.append(str(e).splitlines()[0])
        threading.stack_size(256 * 1024)
        t = threading.Thread(target=run)
        t.start()
        t.join()
        print(out[0])
        print(njit(sum300.f)(1.0))   # the main thread's 8 MiB stack: compiles
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert "sum300.py:2:11:" in first and "thread's stack" in first, first
    assert second == "300.0"


def test_cache_key_of_a_tree_deeper_than_marshal_goes():
    from ember._compiler.cache import _hash_tree

    def deep(n, leaf):
        t = ("load", 1, 4, 0)
        for _ in range(n):
            t = ("binary", 1, 4, "add", t, (leaf, 1, 8, 0))
        return ("function", "f", "f.py", False, ["a"], [], ("block", 1, 0, [t]))

    def key(tree):
        h = hashlib.sha256()
        _hash_tree(h, tree)
        return h.digest()

    a, b = deep(5000, "load"), deep(5000, "param")
    assert key(a) == key(deep(5000, "load"))   # no RecursionError, deterministic
    assert key(a) != key(b)
    assert key(deep(10, "load")) != key(deep(11, "load"))


def test_cache_of_a_900_term_sum(tmp_path):
    src = tmp_path / "cached900.py"
    src.write_text("import ember\n\n@ember.jit(cache=True)\n"
                   f"def f(a):\n    return {long_sum(900)}\n")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import cached900
        assert cached900.f(2.0) == 1800.0
        print(sum(cached900.f.stats.cache_hits.values()))
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("EMBER_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_DIR", None)
    hits = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        hits.append(int(proc.stdout.strip().splitlines()[-1]))
    assert hits == [0, 1]
