"""A local name reused for values that never meet is one variable per use
(_compiler/_webs.py), as in numba's SSA form: each may have its own type.
Where the values do meet (after an if, around a loop) they stay one
variable and unify as before. Kernels are compared with the same function
run in Python; the renaming itself is checked on parsed functions."""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import ember
from ember import cuda
from ember._compiler._webs import split_variables
from ember.errors import TypingError


def _run_both(body, n, dtype=np.float64, args=()):
    want = np.zeros(n, dtype)
    body(want, *args)
    res = np.zeros(n, dtype)
    cuda.jit(body)[1, 1](res, *args)
    np.testing.assert_array_equal(res, want)
    return res


def test_name_rebound_to_another_type(cpu_device):
    def body(res):
        x = 1.5              # a float
        res[0] = x * 2
        x = (3, 4, 5)        # then a tuple
        res[1] = x[0] + x[2]
        x = res[:2]          # then an array
        res[2] = x[0] + x[1]
    _run_both(body, 3)


def test_loop_variable_reused_for_tuples_of_other_lengths(cpu_device):
    def body(res, a):
        j = 0
        for t in ((a[0], a[1]), (a[2], a[3])):
            res[j] = t[0] - t[1]
            j += 1
        for t in ((a[0], a[1], a[2]),):
            res[j] = t[0] + t[1] * t[2]
            j += 1
        for t in range(3):           # and a number
            res[j] += t
    _run_both(body, 4, args=(np.array([2.0, 7.0, -1.5, 0.25]),))


def test_parameter_rebound(cpu_device):
    def body(res, n):
        res[0] = n + 1
        n = (n, n * 2.5)             # the parameter's name, a tuple from here on
        res[1] = n[0] + n[1]
    _run_both(body, 2, args=(3,))


def test_values_that_meet_still_unify(cpu_device):
    def body(res, a):
        s = 0
        for i in range(a.size):      # around the loop: one variable, int then float
            if a[i] > 0:
                s = s + a[i]
        res[0] = s
        s = (s, 1)                   # after its last read: another one
        res[1] = s[0] * 2 + s[1]
        k = 1
        if a[0] > 1:
            k = 2.5                  # meets k = 1 after the if: float64
        res[2] = k
        while k < 10:
            k = k * 2
            if k > 6:
                break
            continue
        res[3] = k
    _run_both(body, 4, args=(np.array([2.0, -1.0, 3.5]),))
    _run_both(body, 4, args=(np.array([0.5, -1.0, 3.5]),))


def test_values_that_meet_with_two_types_are_an_error(cpu_device):
    @cuda.jit
    def k(res, c):
        x = 1.0
        if c > 0:
            x = (1.0, 2.0)
        res[0] = x[0]

    with pytest.raises(TypingError, match=r"test_variable_webs.py:\d+.*variable 'x' is "
                       r"assigned .* here but holds"):
        k[1, 1](np.zeros(1), 1)


def test_ember_jit_and_device_functions(cpu_device):
    def twice_py(v):
        w = v * 2
        first = w
        w = (w, w + 1)
        return first + w[1]

    twice = cuda.jit(device=True)(twice_py)

    @cuda.jit
    def k(res):
        res[0] = twice(3)

    res = np.zeros(1)
    k[1, 1](res)
    assert res[0] == twice_py(3)

    @ember.jit
    def f(a):
        t = a.sum()
        u = t
        t = (t, t)
        return u + t[0] + t[1]

    a = np.arange(4.0)
    assert f(a) == 3 * a.sum()


# --- the renaming --------------------------------------------------------------

def _split(src):
    fdef = ast.parse(textwrap.dedent(src)).body[0]
    split_variables(fdef)
    return fdef


def _names(fdef):
    """(line, name, 'load'/'store') of each Name, in source order."""
    out = [(n.lineno, n.col_offset, n.id, type(n.ctx).__name__.lower())
           for n in ast.walk(fdef) if isinstance(n, ast.Name)]
    return [(line, name, ctx) for line, _, name, ctx in sorted(out)]


def test_split_straight_line_and_loops():
    fdef = _split("""
        def f(a, n):
            x = 1
            a[0] = x
            x = 2
            for i in range(n):
                x = x + i
            a[1] = x
            n = 5
            a[2] = n
        """)
    names = _names(fdef)
    assert (3, "x", "store") in names and (4, "x", "load") in names
    # from line 5 on, x's values meet (loop): all x.1
    assert {nm for line, nm, _ in names if nm.startswith("x") and line >= 5} == {"x.1"}
    # a parameter keeps its name for its own value only
    assert (9, "n.1", "store") in names and (10, "n.1", "load") in names
    assert (6, "n", "load") in names


def test_split_breaks_continues_and_else():
    fdef = _split("""
        def f(a):
            y = 0
            while a[0] > 0:
                if a[1] > 0:
                    y = 1
                    break
                y = 2
                continue
            else:
                a[2] = y
            a[3] = y
            y = 3
        """)
    ys = {(line, nm) for line, nm, _ in _names(fdef) if nm.startswith("y")}
    # the break's y=1 and the loop's y=2 reach the read after the loop
    assert {nm for line, nm in ys if line <= 12} == {"y"}
    assert (13, "y.1") in ys


def test_left_alone():
    # an augmented assignment reads the old value: one variable
    fdef = _split("""
        def f(a):
            x = 1
            x += 2.5
            a[0] = x
        """)
    assert {n for _, n, _ in _names(fdef)} == {"x", "a"}
    # constructs the front end does not translate: nothing renamed
    fdef = _split("""
        def f(a):
            x = 1
            a[0] = x
            x = 2
            with a:
                a[1] = x
        """)
    assert {n for _, n, _ in _names(fdef)} == {"x", "a"}


def test_source_of_these_tests_unchanged():
    """The split works on the compiler's copy of the tree, not on anything
    the user sees (the function still runs in Python as written)."""
    def g(a):
        x = 1
        a[0] = x
        x = (2, 3)
        a[1] = x[1]
    before = inspect.getsource(g)
    cuda.jit(g)[1, 1](np.zeros(2))
    assert inspect.getsource(g) == before


def test_without_source(cpu_device):
    """A function with no source (exec'd text) is rebuilt from bytecode
    (bytecode.py): its variables are split the same way."""
    src = textwrap.dedent("""
        def body(res, a):
            x = a[0] * 2
            res[0] = x
            x = (a[1], a[0], 3)
            for v in ((a[0], a[1]),):
                res[1] = v[0] - v[1]
            for v in ((x[0], x[1], x[2]),):
                res[2] = v[0] + v[1] * v[2]
            while x[2] < 10:
                x = (x[0], x[1], x[2] * 2)
            res[3] = x[2]
        """)
    ns = {}
    exec(compile(src, "<generated>", "exec"), ns)
    with pytest.raises(OSError):
        inspect.getsource(ns["body"])    # really no source
    _run_both(ns["body"], 4, args=(np.array([1.5, -4.0]),))


def test_split_long_elif_chain():
    """An elif chain is walked in a loop (700 branches, as test_deep_nesting
    compiles): every branch's x meets the read after the chain."""
    branches = "".join(f"    elif a == {i}:\n        x = {i}\n" for i in range(1, 700))
    fdef = _split("def f(a):\n    x = -1\n    if a == 0:\n        x = 0\n" + branches +
                  "    a[0] = x\n    x = (1, 2)\n    a[1] = x[0]\n")
    xs = {(line, nm) for line, nm, _ in _names(fdef) if nm.startswith("x")}
    last = max(line for line, _ in xs)
    assert {nm for line, nm in xs if line < last - 1} == {"x"}
    assert {nm for line, nm in xs if line >= last - 1} == {"x.1"}
