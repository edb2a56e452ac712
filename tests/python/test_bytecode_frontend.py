"""Functions without source (exec'd text, python -c, stdin, the interactive
interpreter) go through the bytecode front end (python/ember/_compiler/
bytecode.py): the same kernels compiled from a file and from exec'd text
give the same IR and results; errors name the file and line; numba's
exec-generated atomics kernels compile and run; the kernels of the test
suite rebuild from bytecode to the same tree as from source."""

import ast
import importlib.util
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import cuda
from ember._compiler import frontend
from ember.errors import TypingError, UnsupportedError

from conftest import ROOT


@pytest.fixture
def rng():
    return np.random.default_rng(20261206)

SNIPPET = textwrap.dedent('''
    import math
    import numpy as np
    import ember
    from ember import cuda

    SCALE = 3.0


    def make_scaled(factor, offset):
        @cuda.jit
        def scaled(a, out):
            i = cuda.grid(1)
            if i < a.size:
                out[i] = a[i] * factor + offset + SCALE
        return scaled


    scaled = make_scaled(2.0, 0.5)


    @cuda.jit(device=True)
    def clamp(x, lo=0.0, hi=1.0):
        if x < lo:
            return lo
        elif x > hi:
            return hi
        return x


    @cuda.jit
    def control(a, out):
        i = cuda.grid(1)
        if i >= a.size:
            return
        v = a[i]
        acc = 0.0
        for k in range(0, 10, 3):
            if k == 3:
                continue
            acc += k * v
        n = 0
        while True:
            n += 1
            if n > 4 or v < 0:
                break
        m = 7
        while m > 1 and m != 4:
            m = m // 2 if m % 2 == 0 else 3 * m + 1
        lo = 0.0 if v > 0 else -1.0
        hi = lo + 1.0
        lo, hi = hi, lo
        u = not (0.0 <= v < 0.5) or i == 3
        out[i] = acc + n + m + clamp(v, lo=-0.5) + (1.0 if u else 2.0) + lo - hi + \\
            math.sqrt(abs(v))


    @cuda.jit
    def stencil(a, out):
        i, j = cuda.grid(2)
        if 0 < i < a.shape[0] - 1 and 0 < j < a.shape[1] - 1:
            out[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4 * a[i, j]
        elif i < a.shape[0] and j < a.shape[1]:
            out[i, j] = a[i, j]


    @cuda.jit
    def rows(x, out):
        buf = cuda.local.array(shape=4, dtype=np.float64)
        i = cuda.grid(1)
        if i < x.shape[0]:
            for k in range(4):
                buf[k] = 0.0
            for k, v in enumerate(x[i]):
                buf[k % 4] += v
            out[i, :] = 0.0
            out[i, 0] = buf[0] + buf[1]
            out[i, 1] = buf[2] - buf[3]


    @ember.jit
    def jit_sum(a, n):
        s = 0.0
        for v in a:
            if v != v:
                continue
            s += v if v > 0 else -v
        i = 0
        while i < n:
            s -= 1
            i += 1
        return s
''')

SIGS = {
    "scaled": "void(float64[:], float64[:])",
    "control": "void(float64[:], float64[:])",
    "stencil": "void(float64[:, :], float64[:, :])",
    "rows": "void(float64[:, :], float64[:, :])",
}


def control_ref(v, i):
    acc = sum(k * v for k in range(0, 10, 3) if k != 3)
    n = 0
    while True:
        n += 1
        if n > 4 or v < 0:
            break
    m = 7
    while m > 1 and m != 4:
        m = m // 2 if m % 2 == 0 else 3 * m + 1
    lo = 0.0 if v > 0 else -1.0
    hi = lo + 1.0
    lo, hi = hi, lo
    u = not (0.0 <= v < 0.5) or i == 3
    return acc + n + m + min(max(v, -0.5), 1.0) + (1.0 if u else 2.0) + lo - hi + \
        math.sqrt(abs(v))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The snippet as a module from a file, and as exec'd text."""
    path = tmp_path_factory.mktemp("src") / "snippet_from_file.py"
    path.write_text(SNIPPET)
    spec = importlib.util.spec_from_file_location("snippet_from_file", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ns = {"__name__": "snippet_exec"}
    exec(compile(SNIPPET, "<generated>", "exec"), ns)
    return vars(mod), ns


def _norm(text):
    return re.sub(r"\bember_(\w*?)_\d+\b", r"ember_\1_N", text)


@pytest.mark.parametrize("name", sorted(SIGS))
def test_same_ir_from_file_and_from_exec(both, name):
    from_file, from_exec = both
    with pytest.raises(OSError):
        import inspect
        inspect.getsource(from_exec[name].py_func)   # really no source
    sig = SIGS[name]
    assert _norm(from_exec[name].inspect_llvm(sig)) == _norm(from_file[name].inspect_llvm(sig))
    assert from_exec[name].inspect_ir(sig) == from_file[name].inspect_ir(sig)


def test_same_trees_with_lines(both):
    """The front end's trees (lines included) are the same."""
    from_file, from_exec = both
    for name in ("control", "stencil", "rows", "scaled"):
        a, info = frontend.build_tree(from_file[name].py_func, True)
        b, _ = frontend.build_tree(from_exec[name].py_func, True)
        # only the file name differs (in device functions' trees too)
        assert repr(a).replace(repr(info.filename), "'<generated>'") == repr(b), name


def test_exec_kernels_compute(both, rng):
    _, ns = both
    a = rng.uniform(-2, 6, 64)
    out = np.zeros_like(a)
    ns["control"][2, 32](a, out)
    np.testing.assert_allclose(out, [control_ref(v, i) for i, v in enumerate(a)])
    out = np.zeros_like(a)
    ns["scaled"][2, 32](a, out)
    np.testing.assert_allclose(out, a * 2.0 + 0.5 + 3.0)
    g = rng.standard_normal((9, 11))
    out = np.zeros_like(g)
    ns["stencil"][(2, 2), (8, 8)](g, out)
    ref = g.copy()
    ref[1:-1, 1:-1] = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    np.testing.assert_allclose(out, ref)
    x = rng.standard_normal((5, 7))
    out = np.ones((5, 3))
    ns["rows"][1, 8](x, out)
    bufs = np.zeros((5, 4))
    for k in range(7):
        bufs[:, k % 4] += x[:, k]
    np.testing.assert_allclose(out[:, 0], bufs[:, 0] + bufs[:, 1])
    np.testing.assert_allclose(out[:, 1], bufs[:, 2] - bufs[:, 3])
    assert (out[:, 2] == 0).all()
    v = np.array([1.5, -2.0, np.nan, 4.0])
    assert ns["jit_sum"](v, 3) == pytest.approx(1.5 + 2.0 + 4.0 - 3)


def test_generated_closures_and_globals(rng):
    """Code generators: exec'd factories whose kernels close over
    arguments, read globals of the exec namespace and call an exec'd device
    function; each kernel freezes its own values."""
    src = textwrap.dedent('''
        def make(op_name, bias):
            text = (
                "def outer(bias):\\n"
                "    def k(a, out):\\n"
                "        i = cuda.grid(1)\\n"
                "        if i < a.size:\\n"
                f"            out[i] = helper(a[i]) {op_name} bias + OFFSET\\n"
                "    return k\\n")
            ns = {}
            exec(text, globals(), ns)
            return cuda.jit(ns["outer"](bias))

        @cuda.jit(device=True)
        def helper(x):
            return x * x if x > 0 else -x
    ''')
    g = {"cuda": cuda, "OFFSET": 10.0}
    exec(compile(src, "<factory>", "exec"), g)
    a = rng.uniform(-3, 3, 40)
    helper = np.where(a > 0, a * a, -a)
    for op, bias, ref in (("+", 1.5, helper + 1.5), ("*", -2.0, helper * -2.0),
                          ("-", 4.0, helper - 4.0)):
        k = g["make"](op, bias)
        out = np.zeros_like(a)
        k[1, 64](a, out)
        np.testing.assert_allclose(out, ref + 10.0)


RUN = textwrap.dedent('''
    import numpy as np
    from ember import cuda
    @cuda.jit
    def k(a, out):
        i = cuda.grid(1)
        if i < a.size and a[i] > 2:
            out[i] = a[i] * 10 if a[i] < 6 else -a[i]
    a = np.arange(8.0)
    out = np.zeros(8)
    k[1, 8](a, out)
    print("RESULT", out.tolist())
''')


def _expected():
    a = np.arange(8.0)
    return [(v * 10 if v < 6 else -v) if v > 2 else 0.0 for v in a]


def _run(args, stdin=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    proc = subprocess.run([sys.executable, *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=120)
    m = re.search(r"RESULT (\[.*\])", proc.stdout)
    assert m, f"{proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return ast.literal_eval(m.group(1))


def test_python_dash_c():
    assert _run(["-c", RUN]) == _expected()


def test_stdin():
    assert _run(["-"], stdin=RUN) == _expected()


def test_interactive_interpreter():
    # typed line by line: the function's body ends at the blank line
    typed = RUN.replace("    out[i] = a[i] * 10 if a[i] < 6 else -a[i]\n",
                        "    out[i] = a[i] * 10 if a[i] < 6 else -a[i]\n\n")
    assert _run(["-i", "-q"], stdin=typed) == _expected()


def _exec_kernel(text, name="k"):
    ns = {"cuda": cuda, "np": np}
    exec(compile(textwrap.dedent(text), "<generated>", "exec"), ns)
    return cuda.jit(ns[name])


def test_unsupported_construct_names_file_and_line():
    k = _exec_kernel('''
        def k(out):
            i = cuda.grid(1)
            with open("x"):
                out[i] = 1
    ''')
    with pytest.raises(UnsupportedError, match=r"<generated>:4: a 'with' statement"):
        k.compile("void(float64[:])")
    k = _exec_kernel('''
        def k(out):
            d = {1: 2}
            out[0] = d[1]
    ''')
    with pytest.raises(UnsupportedError, match=r"<generated>:3: a dict"):
        k.compile("void(float64[:])")
    k = _exec_kernel('''
        def k(out):
            global G
            G = 2
            out[0] = G
    ''')
    with pytest.raises(UnsupportedError, match=r"<generated>:4: 'global'"):
        k.compile("void(float64[:])")
    k = _exec_kernel('''
        def outer():
            n = 1
            def k(out):
                nonlocal n
                n = 2
                out[0] = n
            return k
    ''', "outer")
    with pytest.raises(UnsupportedError, match=r"<generated>:6: 'nonlocal'"):
        cuda.jit(k.py_func()).compile("void(float64[:])")


def test_raise_and_assert_rebuilt_from_bytecode(cpu_device):
    """raise and assert are rebuilt, so they raise as the same text in a
    file does: the exception class, its message and <generated>:line."""
    k = _exec_kernel('''
        def k(out, n):
            assert n > 0, "n must be positive"
            out[0] = n
    ''')
    out = np.zeros(1)
    k[1, 1](out, 2)
    assert out[0] == 2
    with pytest.raises(AssertionError, match=r"n must be positive") as info:
        k[1, 1](out, 0)
    assert "<generated>" in str(info.value) and "line 3" in str(info.value)
    k = _exec_kernel('''
        def k(out, n):
            out[0] = n
            if n > 3:
                raise ValueError("too big")
    ''')
    with pytest.raises(ValueError, match=r"too big") as info:
        k[1, 1](out, 5)
    assert "line 5" in str(info.value)


def test_typing_error_names_file_and_line():
    k = _exec_kernel('''
        def k(out):
            i = cuda.grid(1)
            x = 1.5
            out[i] = x.no_such_attribute
    ''')
    with pytest.raises((TypingError, UnsupportedError), match=r"<generated>:5"):
        k.compile("void(float64[:])")
    k = _exec_kernel('''
        def k(out):
            return 3
    ''')
    with pytest.raises(TypingError, match=r"<generated>:3:.*cannot return a value"):
        k.compile("void(float64[:])")


def _numba_atomics_generator():
    """numba's gen_atomic_extreme_funcs (cudapy/test_atomics.py): kernels
    made by exec from text."""
    path = "/usr/lib/python3/dist-packages/numba/cuda/tests/cudapy/test_atomics.py"
    if not os.path.exists(path):
        pytest.skip("numba's test suite is not installed")
    text = open(path).read()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == "gen_atomic_extreme_funcs":
            return ast.get_source_segment(text, node)
    pytest.skip("gen_atomic_extreme_funcs not found")


@pytest.mark.parametrize("op", ["max", "min", "nanmax", "nanmin"])
def test_numba_exec_generated_atomics(op, rng):
    ns = {"dedent": textwrap.dedent, "cuda": cuda, "float64": ember.float64,
          "uint64": ember.uint64}
    exec(_numba_atomics_generator(), ns)
    plain, normalized, oneindex, shared = ns["gen_atomic_extreme_funcs"](f"cuda.atomic.{op}")
    pick = {"max": np.max, "min": np.min, "nanmax": np.nanmax, "nanmin": np.nanmin}[op]
    start = -1e9 if "max" in op else 1e9
    vals = rng.integers(0, 65535, size=(32, 32)).astype(np.float64)
    for fn, sig, grid, data in (
            (plain, "void(float64[:], float64[:,:])", (32, 32), vals),
            (normalized, "void(float64[:], float64[:,:])", (32, 32), vals),
            (oneindex, "void(float64[:], float64[:])", (1, 32), vals[0]),
            (shared, "void(float64[:], float64[:])", (1, 32), vals[1])):
        res = np.array([start])
        cuda.jit(sig)(fn)[grid](res, data)
        assert res[0] == pick(data), fn.__name__


# -- the kernels of the test suite, rebuilt from bytecode --

def _strip(t, cols=False, lines=False):
    """A tree with columns (and lines) set to 0."""
    if isinstance(t, tuple):
        if len(t) >= 3 and isinstance(t[0], str) and isinstance(t[1], int) and \
                isinstance(t[2], int):
            return (t[0], 0 if lines else t[1], 0 if cols else t[2]) + \
                tuple(_strip(x, cols, lines) for x in t[3:])
        return tuple(_strip(x, cols, lines) for x in t)
    if isinstance(t, list):
        return [_strip(x, cols, lines) for x in t]
    return t


# Rebuilt unlike the source, with the same meaning: the compiler folds
# constant expressions (2 ** 40, 1 + 2j) before the bytecode exists.
_FOLDED = {"seeded_draws", "seed_2_40", "local_by_name_and_keywords", "prints"}
# and among the helpers and kernels compiled in tests: folded constants, and
# one `return None` ending a function (dropped: the same)
_FOLDED_HELPERS = {"shfl_bad_type", "complex_points", "int_reductions", "py_int_reductions",
                   "_tools_missing",
                   # 3.13 folds 2 ** 32, 2.0 ** -133, 10 ** 5 ... into their values
                   "_float32_cases", "_operands", "_fill",
                   # 3.13: `return a if c else b` comes back as `if c: return a` then
                   # `return b`, `assert a and b and c` as `(a and b) and c`, `assert a
                   # or b` as `if not a: assert b`, and `return None` ending a function
                   # is dropped: the same meaning
                   "clip", "_same", "_check", "maybe", "numba_message",
                   # `not (a and b)` rebuilt as `not a or not b`
                   "same_special"}


@pytest.mark.parametrize("module", ["test_kernels_cpu", "test_device_functions",
                                    "test_block_cpu", "test_atomics", "test_jit"])
def test_suite_kernels_rebuild_from_bytecode(module, monkeypatch):
    """Each kernel and ember.jit function of a test module: the tree from
    its code object alone equals the tree from its source (columns aside:
    the position table does not have every column the parser has)."""
    mod = importlib.import_module(module)
    counts = {"identical": 0, "folded": 0, "no tree from source": 0}
    for name, obj in sorted(vars(mod).items()):
        fn = getattr(obj, "py_func", None)
        if fn is None or getattr(fn, "__module__", None) != mod.__name__:
            continue
        jit = not hasattr(obj, "signatures") or type(obj).__name__ == "JitDispatcher"
        kernel = type(obj).__name__ == "Dispatcher"
        try:
            src_tree, _ = frontend.build_tree(fn, kernel, jit=jit and not kernel)
        except (TypingError, UnsupportedError, TypeError):
            counts["no tree from source"] += 1
            continue
        with monkeypatch.context() as m:
            def no_source(f):
                raise UnsupportedError("no source")
            m.setattr(frontend, "source_info", no_source)
            bc_tree, _ = frontend.build_tree(fn, kernel, jit=jit and not kernel)
        if name in _FOLDED:
            counts["folded"] += 1
            continue
        assert _strip(bc_tree, cols=True) == _strip(src_tree, cols=True), name
        counts["identical"] += 1
    assert counts["identical"] >= 3, counts


def test_readme_first_example_pasted_into_the_interpreter():
    """README's first example, pasted into `python3` (interactive)."""
    text = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    proc = subprocess.run([sys.executable, "-i", "-q"], input=example, env=env,
                          capture_output=True, text=True, timeout=300)
    x = np.arange(4, dtype=np.float32)
    expected = str(np.float32(2.0) * x + np.float32(1.0))      # [1. 3. 5. 7.]
    assert expected in proc.stdout, f"{proc.stdout}\n{proc.stderr}"
    assert "Error" not in proc.stderr, proc.stderr


# The decompiler on another Python (3.12, 3.13, found on PATH) without
# ember's extension: its three modules in a stand-in package, the errors
# module as is; each decorated function of the suite's test files is
# exec'd alone and rebuilt, and compared with the parser's tree.
_OTHER_PYTHON = textwrap.dedent('''
    import ast, json, os, shutil, sys, tempfile
    root, files = sys.argv[1], sys.argv[2:]
    stub = tempfile.mkdtemp()
    os.makedirs(os.path.join(stub, "ember", "_compiler"))
    open(os.path.join(stub, "ember", "__init__.py"), "w").close()
    open(os.path.join(stub, "ember", "_compiler", "__init__.py"), "w").close()
    shutil.copy(os.path.join(root, "python/ember/errors.py"), os.path.join(stub, "ember"))
    for m in ("bytecode", "bytecode_exprs", "bytecode_ops"):
        shutil.copy(os.path.join(root, f"python/ember/_compiler/{m}.py"),
                    os.path.join(stub, "ember", "_compiler"))
    with open(os.path.join(stub, "ember", "_compiler", "frontend.py"), "w") as f:
        f.write("class SourceInfo:\\n    def __init__(self, *a):\\n        self.a = a\\n")
    sys.path.insert(0, stub)
    from ember._compiler import bytecode
    out = {"same": [], "differ": [], "fail": []}
    for path in files:
        text = open(path).read()
        for node in ast.parse(text).body:
            # kernels, device and jit functions, and the plain helpers
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("test_") or \\
                    any("fixture" in ast.unparse(d) for d in node.decorator_list):
                continue
            seg = "\\n".join(text.splitlines()[node.lineno - 1:node.end_lineno])
            ns = {}
            try:        # a default value may name the module's globals
                exec(compile("\\n" * (node.lineno - 1) + seg, path, "exec"), ns)
            except NameError:
                continue
            node.decorator_list, node.returns = [], None
            try:
                _, fdef = bytecode.function_def(ns[node.name])
            except Exception as exc:
                out["fail"].append(node.name + ": " + str(exc)[:200])
                continue
            doc = ast.get_docstring(node, clean=False)
            if doc is not None and fdef.body and isinstance(fdef.body[0], ast.Expr):
                node.body[0] = fdef.body[0]       # 3.13 dedents docstrings
            same = ast.dump(fdef) == ast.dump(node)
            out["same" if same else "differ"].append(node.name)
    print(json.dumps(out))
''')


@pytest.mark.parametrize("python", ["python3.12", "python3.13"])
def test_other_pythons_rebuild_suite_kernels(python, tmp_path):
    import json
    import shutil
    exe = shutil.which(python)
    if exe is None or subprocess.run([exe, "-c", "pass"], capture_output=True).returncode:
        pytest.skip(f"no {python} on PATH")
    script = tmp_path / "other_python.py"
    script.write_text(_OTHER_PYTHON)
    files = [str(p) for p in sorted((ROOT / "tests/python").glob("test_*.py"))
             if p.name != "test_bytecode_frontend.py"]
    proc = subprocess.run([exe, str(script), str(ROOT), *files], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 and "SyntaxError" in proc.stderr:
        pytest.skip(f"{python} cannot read the test files: {proc.stderr[-200:]}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # what fails is a construct kernels cannot have (the helpers use them),
    # never control flow this module did not follow
    known = ("a dict", "f-string", "'with'", "'try'", "'import'", "comprehension",
             "defining a function", "*args", "a generator", "*items", "a set")
    for f in out["fail"]:
        assert "is not supported when compiling without source" in f and \
            any(k in f for k in known), f
    total = len(out["same"]) + len(out["differ"]) + len(out["fail"])
    # the helpers that import, use dicts ... grow with the suite: a fifth at most
    assert len(out["fail"]) < max(50, total // 5), (len(out["fail"]), total)
    assert set(out["differ"]) <= _FOLDED | _FOLDED_HELPERS, out["differ"]
    assert len(out["same"]) > 250


def test_inspect_types_without_source():
    """The annotated listing shows the rebuilt statements at their lines."""
    import io
    ns = {"np": np}
    exec(compile("def foo(x):\n    y = x + 1\n    return np.sin(y)\n", "<generated>", "exec"), ns)
    foo = ember.jit(ns["foo"])
    assert foo(2) == pytest.approx(np.sin(3), rel=1e-15)
    out = io.StringIO()
    foo.inspect_types(file=out)
    text = out.getvalue()
    assert "# File: <generated>" in text
    assert "x = arg(0, name=x)  :: int64" in text
    assert "y = x + 1  :: int64" in text
    assert "return np.sin(y)  :: float64" in text
    assert "# --- LINE 3 ---" in text and "    return np.sin(y)" in text
