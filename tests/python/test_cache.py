"""The disk cache (cache=True, python/ember/_compiler/cache.py), across
processes: a second process loads the compiled code instead of compiling
(stats.cache_hits), with results equal to NumPy's; editing the function or
a global it reads, or calling with other argument types, makes a new entry;
an unwritable __pycache__ falls back to the user cache directory;
EMBER_CACHE_DIR / NUMBA_CACHE_DIR move it; damaged files are recompiled and
replaced; functions without a source file are not cached. cuda.jit kernels
are cached for the cpu device and as PTX for a CUDA compute capability
(checked through the stand-in driver, tests/fake_cuda)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT

# The functions under test. FACTOR comes from the environment so that a test
# can change a global's value between processes; BODY_OFFSET is edited in
# the source by the tests that change the function.
MODULE = '''
import os
import numpy as np
import ember
from ember import cuda

FACTOR = float(os.environ.get("FACTOR", "2.0"))
OFFSET_IN_SOURCE = BODY_OFFSET   # for the driver; the function has the literal

@ember.jit(cache=True)
def mandel(x, y, max_iters):
    c = complex(x, y)
    z = 0.0j
    for i in range(max_iters):
        z = z * z + c
        if (z.real * z.real + z.imag * z.imag) >= 4:
            return i
    return max_iters

@ember.jit(cache=True)
def scaled_sum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * FACTOR + BODY_OFFSET
    return s

@cuda.jit(cache=True)
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]

@ember.jit(cache=True)
def draws(seed, n):
    np.random.seed(seed)
    s = 0.0
    for i in range(n):
        s += np.random.random()
    return s

@cuda.jit(cache=True)
def block_sums(x, out):
    buf = cuda.shared.array(64, np.float64)
    t = cuda.threadIdx.x
    buf[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    s = 32
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        out[cuda.blockIdx.x] = buf[0]

@ember.vectorize(["float64(float64, float64)"], cache=True)
def axpb(x, b):
    return x * FACTOR + b

@ember.guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->()", cache=True)
def dot(a, b, out):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    out[0] = s

@ember.jit(cache=True)
def ramp(n):
    a = np.zeros(n)
    for i in range(n):
        a[i] = i * 0.5
    return a
'''

# Runs the functions, checks them against NumPy / pure Python computed here,
# prints the cache statistics as JSON.
DRIVER = '''
import json, os, sys
import numpy as np
sys.path.insert(0, os.environ["SRC_DIR"])
import mod

def mandel_py(x, y, max_iters):
    c = complex(x, y)
    z = 0j
    for i in range(max_iters):
        z = z * z + c
        if abs(z) ** 2 >= 4:
            return i
    return max_iters

out = {}
calls = os.environ.get("CALLS", "mandel,scaled,saxpy").split(",")
if "mandel" in calls:
    for x, y in ((-0.5, 0.5), (0.3, 0.1), (-1.5, 0.0)):
        assert mod.mandel(x, y, 200) == mandel_py(x, y, 200), (x, y)
    out["mandel"] = [sum(mod.mandel.stats.cache_hits.values()),
                     sum(mod.mandel.stats.cache_misses.values())]
    out["path"] = mod.mandel.stats.cache_path
if "scaled" in calls:
    a = np.linspace(0.0, 1.0, 101)
    got = mod.scaled_sum(a)
    want = float(np.sum(a * mod.FACTOR + mod.OFFSET_IN_SOURCE))
    assert abs(got - want) < 1e-9 * max(1.0, abs(want)), (got, want)
    if os.environ.get("INT_ARGS"):
        ai = np.arange(50, dtype=np.int64)
        got = mod.scaled_sum(ai)
        want = float(np.sum(ai * mod.FACTOR + mod.OFFSET_IN_SOURCE))
        assert abs(got - want) < 1e-9 * abs(want), (got, want)
    out["scaled"] = [sum(mod.scaled_sum.stats.cache_hits.values()),
                     sum(mod.scaled_sum.stats.cache_misses.values())]
if "saxpy" in calls:
    x = np.arange(1000, dtype=np.float32)
    y = np.ones(1000, dtype=np.float32)
    res = np.zeros_like(x)
    mod.saxpy[8, 128](np.float32(2.5), x, y, res)
    np.testing.assert_allclose(res, np.float32(2.5) * x + y, rtol=1e-6)
    out["saxpy"] = [sum(mod.saxpy.stats.cache_hits.values()),
                    sum(mod.saxpy.stats.cache_misses.values())]
if "draws" in calls:
    np.random.seed(7)
    want = sum(np.random.random() for _ in range(1000))
    got = mod.draws(7, 1000)
    assert abs(got - want) < 1e-9, (got, want)
    out["draws"] = [sum(mod.draws.stats.cache_hits.values()),
                    sum(mod.draws.stats.cache_misses.values())]
if "block_sums" in calls:
    x = np.linspace(0.0, 1.0, 256)
    sums = np.zeros(4)
    mod.block_sums[4, 64](x, sums)
    np.testing.assert_allclose(sums, x.reshape(4, 64).sum(axis=1), rtol=1e-12)
    out["block_sums"] = [sum(mod.block_sums.stats.cache_hits.values()),
                         sum(mod.block_sums.stats.cache_misses.values())]
if "ufuncs" in calls:
    from ember._compiler import cache as disk_cache
    x = np.linspace(-1.0, 1.0, 33)
    np.testing.assert_allclose(mod.axpb(x, 0.25), x * mod.FACTOR + 0.25, rtol=1e-15)
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(mod.dot(a, a[::-1]), (a * a[::-1]).sum(axis=1), rtol=1e-15)
    st = disk_cache.process_stats
    out["ufuncs"] = [sum(st.cache_hits.values()), sum(st.cache_misses.values())]
if "ramp" in calls:
    np.testing.assert_array_equal(mod.ramp(37), np.arange(37) * 0.5)
    out["ramp"] = [sum(mod.ramp.stats.cache_hits.values()),
                   sum(mod.ramp.stats.cache_misses.values())]
print(json.dumps(out))
'''


def make_source(tmp_path, offset="0.0", module=MODULE):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "mod.py").write_text(module.replace("BODY_OFFSET", offset))
    return src


def run(tmp_path, src, timeout=300, **env_extra):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SRC_DIR=str(src),
               XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONDONTWRITEBYTECODE="1")
    for name in ("EMBER_CACHE_DIR", "NUMBA_CACHE_DIR", "EMBER_DEVICE", "FACTOR", "INT_ARGS",
                 "CALLS"):
        env.pop(name, None)
    env.update({k: str(v) for k, v in env_extra.items()})
    proc = subprocess.run([sys.executable, str(driver)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def entries(directory, stem):
    return sorted(p for p in os.listdir(directory) if p.startswith(stem) and
                  p.endswith(".embc")) if os.path.isdir(directory) else []


def test_second_process_loads_from_the_cache(tmp_path):
    src = make_source(tmp_path)
    first = run(tmp_path, src)
    assert first["mandel"] == [0, 1] and first["scaled"] == [0, 1] and first["saxpy"] == [0, 1]
    assert first["path"] == str(src / "__pycache__")
    cache = src / "__pycache__"
    assert len(entries(cache, "mod.mandel-")) == 1 and len(entries(cache, "mod.saxpy-")) == 1
    assert len(list(cache.glob("mod.mandel-*.embi"))) == 1
    second = run(tmp_path, src)
    assert second["mandel"] == [1, 0] and second["scaled"] == [1, 0] and \
        second["saxpy"] == [1, 0]


def test_np_random_functions_are_cached(tmp_path):
    # the code calls ember's generator by name, so it links in a new process
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="draws")["draws"] == [0, 1]
    assert run(tmp_path, src, CALLS="draws")["draws"] == [1, 0]


def test_functions_creating_arrays_are_cached(tmp_path):
    # the arena's functions are called by name too
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="ramp")["ramp"] == [0, 1]
    assert run(tmp_path, src, CALLS="ramp")["ramp"] == [1, 0]


def test_kernels_split_at_barriers_are_cached(tmp_path):
    # barrier fission's code (shared memory, thread contexts) reloads as is
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="block_sums")["block_sums"] == [0, 1]
    assert run(tmp_path, src, CALLS="block_sums")["block_sums"] == [1, 0]


def test_vectorize_and_guvectorize_are_cached(tmp_path):
    # their generated loops are filed under the user's function; each eager
    # signature compiles a strided and a contiguous loop
    src = make_source(tmp_path)
    hits, misses = run(tmp_path, src, CALLS="ufuncs")["ufuncs"]
    assert hits == 0 and misses >= 2
    assert run(tmp_path, src, CALLS="ufuncs")["ufuncs"] == [misses, 0]
    assert any(p.startswith("mod.axpb-") for p in os.listdir(src / "__pycache__"))
    # a global the function reads changes: compiled again
    assert run(tmp_path, src, CALLS="ufuncs", FACTOR="3.0")["ufuncs"][0] < misses


def test_editing_the_function_invalidates(tmp_path):
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="scaled")["scaled"] == [0, 1]
    make_source(tmp_path, offset="1.5")      # the driver checks the new result
    assert run(tmp_path, src, CALLS="scaled")["scaled"] == [0, 1]
    assert run(tmp_path, src, CALLS="scaled")["scaled"] == [1, 0]
    # the replaced entry was deleted (the index knows it)
    assert len(entries(src / "__pycache__", "mod.scaled_sum-")) == 1


def test_changing_a_global_invalidates(tmp_path):
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="scaled", FACTOR=2.0)["scaled"] == [0, 1]
    assert run(tmp_path, src, CALLS="scaled", FACTOR=2.0)["scaled"] == [1, 0]
    assert run(tmp_path, src, CALLS="scaled", FACTOR=3.0)["scaled"] == [0, 1]
    assert run(tmp_path, src, CALLS="scaled", FACTOR=3.0)["scaled"] == [1, 0]


def test_argument_types_have_separate_entries(tmp_path):
    src = make_source(tmp_path)
    assert run(tmp_path, src, CALLS="scaled", INT_ARGS=1)["scaled"] == [0, 2]
    assert len(entries(src / "__pycache__", "mod.scaled_sum-")) == 2
    assert run(tmp_path, src, CALLS="scaled", INT_ARGS=1)["scaled"] == [2, 0]


FUNCTION_ARGS = '''
import json
import numpy as np
from ember import cuda

@cuda.jit(device=True)
def square(x):
    return x * x

@cuda.jit(device=True)
def cube(x):
    return x * x * x

@cuda.jit(cache=True)
def apply(f, x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = f(x[i])

x = np.arange(7.0)
out = np.zeros(7)
apply[1, 8](square, x, out)
assert (out == x ** 2).all(), out
apply[1, 8](cube, x, out)
assert (out == x ** 3).all(), out
st = apply.stats
print(json.dumps([sum(st.cache_hits.values()), sum(st.cache_misses.values())]))
'''


def test_function_arguments_have_separate_entries(tmp_path):
    """A function argument packs as nothing: each function passed still has
    its own entry (one did replace the other's in the index)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "fnargs.py").write_text(FUNCTION_ARGS)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), XDG_CACHE_HOME=str(tmp_path / "x"),
               PYTHONDONTWRITEBYTECODE="1")
    for name in ("EMBER_CACHE_DIR", "NUMBA_CACHE_DIR", "EMBER_DEVICE"):
        env.pop(name, None)
    counts = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(src / "fnargs.py")], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        counts.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert counts == [[0, 2], [2, 0]]
    assert len(entries(src / "__pycache__", "fnargs.apply-")) == 2


def test_unwritable_pycache_falls_back_to_the_user_cache(tmp_path):
    src = make_source(tmp_path)
    (src / "__pycache__").write_text("a file where the directory would be")
    out = run(tmp_path, src, CALLS="mandel")
    fallback = tmp_path / "xdg" / "ember" / str(src).lstrip(os.sep)
    assert out["mandel"] == [0, 1] and out["path"] == str(fallback)
    assert len(entries(fallback, "mod.mandel-")) == 1
    assert run(tmp_path, src, CALLS="mandel")["mandel"] == [1, 0]


@pytest.mark.parametrize("var", ["EMBER_CACHE_DIR", "NUMBA_CACHE_DIR"])
def test_cache_dir_variable(tmp_path, var):
    src = make_source(tmp_path)
    where = tmp_path / "elsewhere"
    out = run(tmp_path, src, CALLS="mandel", **{var: where})
    assert out["path"] == str(where / str(src).lstrip(os.sep))
    assert not (src / "__pycache__").exists()
    assert run(tmp_path, src, CALLS="mandel", **{var: where})["mandel"] == [1, 0]


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "index"])
def test_damaged_files_are_recompiled(tmp_path, damage):
    src = make_source(tmp_path)
    run(tmp_path, src, CALLS="mandel")
    cache = src / "__pycache__"
    data = cache / entries(cache, "mod.mandel-")[0]
    blob = bytearray(data.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
        data.write_bytes(bytes(blob))
    elif damage == "truncate":
        data.write_bytes(bytes(blob[:len(blob) // 3]))
    elif damage == "empty":
        data.write_bytes(b"")
    else:
        for index in cache.glob("*.embi"):
            index.write_text("{not json")
    want = [1, 0] if damage == "index" else [0, 1]   # the index only prunes
    assert run(tmp_path, src, CALLS="mandel")["mandel"] == want
    assert run(tmp_path, src, CALLS="mandel")["mandel"] == [1, 0]


@pytest.mark.parametrize("kind", ["fifo", "link_dev_zero", "link_to_entry", "huge",
                                  "directory", "index_fifo", "index_link_dev_zero"])
def test_entries_that_are_not_regular_files_are_ignored_and_rewritten(tmp_path, kind):
    # a FIFO used to block the next process forever, a link to /dev/zero to
    # read until memory ran out: now neither is opened for long nor read
    src = make_source(tmp_path)
    run(tmp_path, src, CALLS="mandel")
    cache = src / "__pycache__"
    data = cache / entries(cache, "mod.mandel-")[0]
    index = next(cache.glob("mod.mandel-*.embi"))
    good = data.read_bytes()
    target = index if kind.startswith("index") else data
    target.unlink()
    if kind.endswith("fifo"):
        os.mkfifo(target)
    elif kind.endswith("link_dev_zero"):
        os.symlink("/dev/zero", target)
    elif kind == "link_to_entry":  # even a link to a good copy is not followed
        copy = tmp_path / "copy.embc"
        copy.write_bytes(good)
        os.symlink(copy, target)
    elif kind == "huge":  # sparse: the size alone rules it out
        with open(target, "wb") as f:
            f.write(good)
            f.truncate(300 << 20)
    else:
        target.mkdir()
    # the index only prunes old entries: a bad index still hits the entry
    want = [1, 0] if kind.startswith("index") else [0, 1]
    assert run(tmp_path, src, timeout=120, CALLS="mandel")["mandel"] == want
    if kind == "directory":  # a directory cannot be renamed over: left as is
        assert target.is_dir()
        assert run(tmp_path, src, timeout=120, CALLS="mandel")["mandel"] == [0, 1]
        return
    if kind.startswith("index"):  # rewritten at the next miss
        data.unlink()
        assert run(tmp_path, src, timeout=120, CALLS="mandel")["mandel"] == [0, 1]
        assert json.loads(target.read_text())["entries"]
    # rewritten as a regular file, which the next process loads
    assert target.is_file() and not target.is_symlink()
    assert target.stat().st_size < 100 << 20
    assert run(tmp_path, src, timeout=120, CALLS="mandel")["mandel"] == [1, 0]


def test_payload_for_another_target_is_refused_in_process():
    from ember import _ember
    from ember._compiler import frontend

    def f(a, b):
        return a * b + 1.0

    tree, _ = frontend.build_tree(f, False, ("float64", "float64"), jit=True)
    k = _ember.compile_kernel(tree, ["float64", "float64"], 3, False, False)
    data = k.cache_data()
    again = _ember.compile_kernel(tree, ["float64", "float64"], 3, False, False, cached=data)
    assert again.call(3.0, 4.0) == 13.0 and again.llvm_ir == k.llvm_ir
    for bad in (data[:-1], data + b"x", b"EMBERK01", b"", data.replace(b"EMBERK01", b"EMBERK02")):
        with pytest.raises(ValueError, match="damaged or was made for another target"):
            _ember.compile_kernel(tree, ["float64", "float64"], 3, False, False, cached=bad)
    with pytest.raises(ValueError, match="another target"):
        _ember.compile_kernel(tree, ["float64", "float64"], 3, False, False, target="cuda",
                              cached=data)
    with pytest.raises(TypeError):
        _ember.compile_kernel(tree, ["float64", "float64"], 3, False, False, cached="text")


def test_function_without_a_source_file_is_not_cached(tmp_path, monkeypatch):
    import ember
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    ns = {"ember": ember}
    code = "def twice(x):\n    return 2 * x\n"
    import linecache
    linecache.cache["<ember-test-string>"] = (len(code), None, code.splitlines(True),
                                              "<ember-test-string>")
    exec(compile(code, "<ember-test-string>", "exec"), ns)
    f = ember.jit(cache=True)(ns["twice"])
    assert f(21) == 42
    assert f.stats.cache_path is None and "no source file" in f.stats.cache_disabled
    assert not (tmp_path / "cache").exists()


def test_two_processes_writing_at_once(tmp_path):
    src = make_source(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SRC_DIR=str(src), CALLS="mandel",
               XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("EMBER_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_DIR", None)
    procs = [subprocess.Popen([sys.executable, str(driver)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    assert len(entries(src / "__pycache__", "mod.mandel-")) == 1
    assert not [p for p in os.listdir(src / "__pycache__") if p.startswith(".tmp-")]
    assert run(tmp_path, src, CALLS="mandel")["mandel"] == [1, 0]


PTX_DRIVER = '''
import json, os, sys
sys.path.insert(0, os.environ["SRC_DIR"])
import mod
k = mod.saxpy.compile_cuda(("float32", ("array", "float32", 1, "C", False),
                            ("array", "float32", 1, "C", False),
                            ("array", "float32", 1, "C", False)), (8, 0))
print(json.dumps({"stats": [sum(mod.saxpy.stats.cache_hits.values()),
                            sum(mod.saxpy.stats.cache_misses.values())],
                  "ptx": k.ptx, "symbol": k.symbol}))
'''


def test_ptx_is_cached(tmp_path, nvvm):
    src = make_source(tmp_path)
    driver = tmp_path / "ptx.py"
    driver.write_text(PTX_DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SRC_DIR=str(src))
    env.pop("EMBER_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_DIR", None)
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(driver)], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert outs[0]["stats"] == [0, 1] and outs[1]["stats"] == [1, 0]
    assert outs[0]["ptx"] == outs[1]["ptx"] and ".target sm_80" in outs[1]["ptx"]
    assert f".entry {outs[1]['symbol']}" in outs[1]["ptx"]


FAKE_DRIVER = '''
import ctypes, json, os, sys
import numpy as np
from ember import cuda
sys.path.insert(0, os.environ["SRC_DIR"])
import mod
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
fake.fake_cuda_last_launch.restype = ctypes.c_long
cuda.select_device(0)
x = cuda.to_device(np.arange(256, dtype=np.float32))
y = cuda.to_device(np.ones(256, dtype=np.float32))
out = cuda.device_array(256, np.float32)
mod.saxpy[2, 128](np.float32(2.0), x, y, out)
dims = (ctypes.c_uint * 7)()
stream = ctypes.c_void_p()
params = ctypes.create_string_buffer(4096)
size = ctypes.c_size_t()
name = ctypes.create_string_buffer(256)
n = fake.fake_cuda_last_launch(dims, ctypes.byref(stream), params, ctypes.c_size_t(4096),
                               ctypes.byref(size), name, ctypes.c_size_t(256))
print(json.dumps({"stats": [sum(mod.saxpy.stats.cache_hits.values()),
                            sum(mod.saxpy.stats.cache_misses.values())],
                  "launches": n, "grid": list(dims[0:3]), "block": list(dims[3:6]),
                  "name": name.value.decode()}))
'''


def test_cuda_launch_from_cached_ptx_reaches_the_driver(tmp_path, fake_cuda_lib, nvvm):
    src = make_source(tmp_path)
    driver = tmp_path / "fake.py"
    driver.write_text(FAKE_DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SRC_DIR=str(src),
               EMBER_CUDA_DRIVER=fake_cuda_lib, FAKE_CUDA_DEVICES="1")
    for name in ("EMBER_CACHE_DIR", "NUMBA_CACHE_DIR", "EMBER_DEVICE"):
        env.pop(name, None)
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(driver)], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert outs[0]["stats"] == [0, 1] and outs[1]["stats"] == [1, 0]
    for o in outs:
        assert o["launches"] >= 1 and o["grid"] == [2, 1, 1] and o["block"] == [128, 1, 1]
        assert o["name"].startswith("saxpy") or "saxpy" in o["name"]
