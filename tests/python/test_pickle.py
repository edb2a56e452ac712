"""Pickling of kernels, device functions, ember.jit functions, ufuncs and
device arrays (python/ember/_pickle.py), as Dask and multiprocessing use it.

The cross-process tests pickle in one Python process and unpickle in a
fresh one, where the objects compile again: by value (defined in
__main__; the source file is then deleted or changed, so only the shipped
text can be compiled) and by reference (defined in an importable module).
Every result is compared with NumPy or plain Python."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT
from ember import cuda, jit, vectorize, guvectorize, _pickle

pytestmark = pytest.mark.usefixtures("cpu_device")

cloudpickle = pytest.importorskip("cloudpickle")


def run(script, cwd, *args, env_extra=None, timeout=180):
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'python'}{os.pathsep}{cwd}",
               EMBER_DEVICE="cpu", **(env_extra or {}))
    env.pop("EMBER_CUDA_DRIVER", None)
    p = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


# The objects the cross-process tests ship: each kind, with options and
# eager signatures that the receiver must keep.
OBJECTS = '''
import math
import numpy as np
from ember import cuda, jit, vectorize, guvectorize

SCALE = 3.0            # a global the kernel freezes
TABLE = np.array([1.0, 10.0, 100.0])


@cuda.jit(device=True)
def square(x):
    return x * x


@cuda.jit("void(float64[::1], float64[::1])", boundscheck=True, fastmath=True)
def kern(x, out):
    i = cuda.grid(1)
    if i < x.size:
        t = cuda.const.array_like(TABLE)
        out[i] = square(x[i]) * SCALE + t[i % 3]


@cuda.jit(boundscheck=True)
def oob(out):
    out[cuda.grid(1)] = 1.0          # one thread too many: IndexError with bounds checks


def make_adder(k):
    @cuda.jit
    def add(a):
        i = cuda.grid(1)
        if i < a.size:
            a[i] += k                # a closure variable
    return add


@jit("int64(float64, float64)")
def hyp(a, b):
    return math.sqrt(a * a + b * b)


@jit(parallel=True)
def psum(a):
    s = 0.0
    for i in range(a.size):
        s += a[i]
    return s


@vectorize(["float64(float64, float64)", "int64(int64, int64)"], target="parallel")
def axpb(a, b):
    return 2 * a + b


@vectorize
def dyn(x):
    return x - 1


@guvectorize(["void(float64[:], float64[:])"], "(n)->()")
def norm(a, out):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    out[0] = math.sqrt(s)


@vectorize(["float32(float32)"], target="cuda")
def cu_half(x):
    return x * 0.5


@guvectorize(["void(float64[:], float64[:])"], "(n)->(n)", target="cuda")
def cu_rev(a, out):
    n = a.shape[0]
    for i in range(n):
        out[i] = a[n - 1 - i]


@cuda.jit("int64(int64)", device=True)
def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


@cuda.jit
def facts(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = fact(i)
'''

SEND = OBJECTS + '''
import pickle, sys
if __name__ == "__main__":
    dyn(np.arange(3))                    # an int64 loop compiled before pickling
    dyn(np.arange(3.0))
    dyn.disable_compile()
    objs = dict(kern=kern, oob=oob, add=make_adder(5), hyp=hyp, psum=psum, axpb=axpb,
                dyn=dyn, norm=norm, cu_half=cu_half, cu_rev=cu_rev, facts=facts,
                arr=cuda.to_device(np.arange(6.0).reshape(2, 3)))
    blob = pickle.dumps(objs)            # the plain pickler: ember nests cloudpickle itself
    assert pickle.loads(blob)["kern"] is kern    # the sender gets its own objects back
    open(sys.argv[1], "wb").write(blob)
    print("sent", len(blob))
'''

RECEIVE = '''
import math, pickle, sys
import numpy as np
from ember import cuda
objs = pickle.loads(open(sys.argv[1], "rb").read())
again = pickle.loads(open(sys.argv[1], "rb").read())
assert all(again[k] is objs[k] for k in objs if k != "arr"), "one object per token"

x = np.arange(7.0)
out = np.zeros_like(x)
kern = objs["kern"]
kern[1, 32](x, out)
table = np.array([1.0, 10.0, 100.0])
assert np.allclose(out, x * x * 3.0 + table[np.arange(7) % 3]), out
assert kern.signatures == [(("array", "float64", 1, "C", False),) * 2], kern.signatures
assert kern.boundscheck and kern.fastmath
try:
    kern[1, 32](np.arange(3, dtype=np.int32), out)
except TypeError as exc:
    assert "No matching definition" in str(exc)
else:
    raise AssertionError("the eager signature was not kept")
try:
    objs["oob"][1, 5](np.zeros(4))
except IndexError as exc:
    print("bounds:", str(exc).splitlines()[0][-40:])
else:
    raise AssertionError("boundscheck was not kept")

a = np.arange(4.0)
objs["add"][1, 8](a)
assert np.array_equal(a, np.arange(4.0) + 5)

hyp = objs["hyp"]
r = hyp(3.0, 4.5)
assert r == 5 and type(r) is int                 # the declared int64 return type
assert hyp.signatures == [("float64", "float64")]
v = np.random.default_rng(0).random(1000)
assert objs["psum"].parallel and abs(objs["psum"](v) - v.sum()) < 1e-9

axpb = objs["axpb"]
assert isinstance(axpb, np.ufunc) and sorted(axpb.types) == ["dd->d", "ll->l"]
assert np.array_equal(axpb(np.arange(5), 1), 2 * np.arange(5) + 1)
dyn = objs["dyn"]
assert sorted(dyn.types) == ["d->d", "l->l"], dyn.types
assert np.array_equal(dyn(np.arange(4.0)), np.arange(4.0) - 1)
try:
    dyn(np.arange(3, dtype=np.float32).astype(np.complex64))
except TypeError:
    pass
else:
    raise AssertionError("disable_compile was not kept")
m = np.arange(12.0).reshape(3, 4)
assert np.allclose(objs["norm"](m), np.sqrt((m * m).sum(axis=1)))
h = objs["cu_half"](np.arange(4, dtype=np.float32))
assert np.array_equal(h, np.arange(4, dtype=np.float32) * 0.5)
assert np.array_equal(objs["cu_rev"](m), m[:, ::-1])
f = np.zeros(8, np.int64)
objs["facts"][1, 8](f)
assert f.tolist() == [math.factorial(max(i, 1)) for i in range(8)]
arr = objs["arr"]
assert isinstance(arr, cuda.DeviceNDArray) and arr.device.kind == "cpu"
assert np.array_equal(arr.copy_to_host(), np.arange(6.0).reshape(2, 3))
print("received", kern.__qualname__, getattr(kern.py_func, "__code__").co_filename)
'''


def test_by_value_to_a_process_without_the_source_file(tmp_path):
    (tmp_path / "send.py").write_text(SEND)
    (tmp_path / "receive.py").write_text(RECEIVE)
    blob = tmp_path / "objs.pkl"
    run(tmp_path / "send.py", tmp_path, blob)
    os.unlink(tmp_path / "send.py")          # only the shipped text is left
    out = run(tmp_path / "receive.py", tmp_path, blob)
    assert "bounds: " in out and "received kern" in out
    assert f"{tmp_path / 'send.py'}" in out


def test_by_value_when_the_receiver_has_another_version_of_the_file(tmp_path):
    (tmp_path / "send.py").write_text(SEND)
    (tmp_path / "receive.py").write_text(RECEIVE)
    blob = tmp_path / "objs.pkl"
    run(tmp_path / "send.py", tmp_path, blob)
    # the same file name now holds other code: the pickled text must win
    (tmp_path / "send.py").write_text("def kern(x, out):\n    out[0] = -1.0\n" * 40)
    out = run(tmp_path / "receive.py", tmp_path, blob)
    assert "(pickled " in out                # compiled under a name of its own


MODULE = '''
import numpy as np
from ember import cuda, jit, vectorize

@cuda.jit("void(float32[::1])")
def twice(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] *= 2

@jit
def total(a):
    return a.sum()

@vectorize(["float64(float64)"])
def inc(x):
    return x + 1.0
'''


def test_by_reference_from_an_importable_module(tmp_path):
    (tmp_path / "kmod.py").write_text(MODULE)
    script = tmp_path / "ref.py"
    script.write_text(textwrap.dedent('''
        import pickle, sys
        import numpy as np
        import kmod
        if sys.argv[1] == "send":
            blob = pickle.dumps((kmod.twice, kmod.total, kmod.inc))
            assert b"kmod" in blob and len(blob) < 300, len(blob)   # names, not code
            open("ref.pkl", "wb").write(blob)
        else:
            twice, total, inc = pickle.loads(open("ref.pkl", "rb").read())
            assert twice is kmod.twice and total is kmod.total and inc is kmod.inc
            a = np.arange(5, dtype=np.float32)
            twice[1, 8](a)
            assert np.array_equal(a, np.arange(5, dtype=np.float32) * 2)
            assert total(np.arange(10)) == 45 and inc(1.0) == 2.0
            print("by reference ok")
    '''))
    run(script, tmp_path, "send")
    assert "by reference ok" in run(script, tmp_path, "receive")


def test_the_receiver_loads_from_the_disk_cache(tmp_path):
    (tmp_path / "cached.py").write_text(textwrap.dedent('''
        import pickle, sys
        import numpy as np
        from ember import cuda

        @cuda.jit(cache=True)
        def neg(a):
            i = cuda.grid(1)
            if i < a.size:
                a[i] = -a[i]

        if __name__ == "__main__":
            if sys.argv[1] == "send":
                open("k.pkl", "wb").write(pickle.dumps(neg))
            else:
                k = pickle.loads(open("k.pkl", "rb").read())
                a = np.arange(4.0)
                k[1, 4](a)
                assert np.array_equal(a, -np.arange(4.0))
                print("hits", sum(k.stats.cache_hits.values()),
                      "misses", sum(k.stats.cache_misses.values()))
    '''))
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    run(tmp_path / "cached.py", tmp_path, "send", env_extra=env)
    first = run(tmp_path / "cached.py", tmp_path, "receive", env_extra=env)
    second = run(tmp_path / "cached.py", tmp_path, "receive", env_extra=env)
    assert "hits 0 misses 1" in first
    assert "hits 1 misses 0" in second      # a second receiver compiles nothing


# -- in one process ----------------------------------------------------------

@cuda.jit
def _module_kernel(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = i


def test_round_trip_in_process_is_the_same_object():
    for dumps in (pickle.dumps, cloudpickle.dumps):
        assert pickle.loads(dumps(_module_kernel)) is _module_kernel

    def local():
        @jit
        def f(x):
            return x + 1
        return f
    f = local()
    assert pickle.loads(pickle.dumps(f)) is f
    assert pickle.loads(cloudpickle.dumps(f)) is f
    assert f(1) == 2


def test_without_cloudpickle_a_local_function_says_why(monkeypatch):
    @cuda.jit
    def k(a):
        a[0] = 1
    monkeypatch.setattr(_pickle, "_cloudpickle", lambda: None)
    with pytest.raises(pickle.PicklingError, match="needs cloudpickle"):
        pickle.dumps(k)
    # a module-level kernel still travels by reference
    assert pickle.loads(pickle.dumps(_module_kernel)) is _module_kernel


def test_functions_calling_each_other_in_a_cycle_refuse():
    @cuda.jit("int64(int64)", device=True)
    def ping(n):
        return 0 if n <= 0 else pong(n - 1)

    @cuda.jit("int64(int64)", device=True)
    def pong(n):
        return 1 if n <= 0 else ping(n - 1)
    with pytest.raises(pickle.PicklingError, match="cycle"):
        pickle.dumps(ping)


def test_streams_and_events_refuse():
    with pytest.raises(TypeError, match="cannot pickle a Stream"):
        pickle.dumps(cuda.stream())
    with pytest.raises(TypeError, match="cannot pickle an Event"):
        pickle.dumps(cuda.event())
    with pytest.raises(TypeError, match="cannot pickle a Stream"):
        cloudpickle.dumps({"s": cuda.default_stream()})


def test_numpy_ufuncs_still_pickle_by_name():
    assert pickle.loads(pickle.dumps(np.add)) is np.add
    assert pickle.loads(pickle.dumps(np.sqrt)) is np.sqrt


# -- device arrays -----------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: np.arange(12, dtype=np.float32).reshape(3, 4),
    lambda: np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
    lambda: (np.arange(6) + 1j).astype(np.complex128),
    lambda: np.array([True, False, True]),
    lambda: np.array(4.5),
    lambda: np.zeros((0, 3), dtype=np.uint8),
])
def test_device_array_round_trip(make):
    host = make()
    d = cuda.to_device(host)
    for proto in (2, 5):
        r = pickle.loads(pickle.dumps(d, protocol=proto))
        assert isinstance(r, cuda.DeviceNDArray) and r.device.kind == "cpu"
        assert r.shape == host.shape and r.dtype == host.dtype
        assert np.array_equal(r.copy_to_host(), host)
        if host.size:
            assert r.device_pointer != d.device_pointer    # a new array, not an alias


def test_device_array_view_round_trip():
    host = np.arange(30.0).reshape(5, 6)
    d = cuda.to_device(host)[::2, 1::2]
    r = pickle.loads(pickle.dumps(d, protocol=5))
    assert np.array_equal(r.copy_to_host(), host[::2, 1::2])


def test_device_array_protocol_5_is_zero_copy_on_the_cpu_device():
    host = np.arange(1000, dtype=np.float64)
    d = cuda.to_device(host)
    buffers = []
    blob = pickle.dumps(d, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1 and len(blob) < 500       # the data went out of band
    raw = buffers[0].raw()
    assert np.frombuffer(raw, np.float64).ctypes.data == d.device_pointer   # its memory
    frame = bytearray(raw)                              # what a transport receives
    r = pickle.loads(blob, buffers=[frame])
    assert np.array_equal(r.copy_to_host(), host)
    assert r.device_pointer == np.frombuffer(frame, np.uint8).ctypes.data   # adopted
    r[0] = -1.0
    assert d[0] == 0.0                                  # independent of the original
    # a read-only frame is copied, not adopted
    r2 = pickle.loads(blob, buffers=[bytes(raw)])
    assert np.array_equal(r2.copy_to_host(), host)
    assert r2.device_pointer != d.device_pointer


def test_gpu_array_pickles_to_a_cpu_process(tmp_path, fake_cuda_lib):
    send = tmp_path / "gpu_send.py"
    send.write_text(textwrap.dedent('''
        import pickle, sys
        import numpy as np
        from ember import cuda
        cuda.select_device(0)
        d = cuda.to_device(np.arange(10, dtype=np.int32).reshape(2, 5))
        assert d.device.kind == "cuda"
        open(sys.argv[1], "wb").write(pickle.dumps(d, protocol=5))
    '''))
    blob = tmp_path / "gpu.pkl"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_CUDA_DRIVER=fake_cuda_lib,
               FAKE_CUDA_DEVICES="1")
    env.pop("EMBER_DEVICE", None)
    p = subprocess.run([sys.executable, str(send), str(blob)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    recv = tmp_path / "gpu_recv.py"
    recv.write_text(textwrap.dedent('''
        import pickle, sys
        import numpy as np
        d = pickle.loads(open(sys.argv[1], "rb").read())
        assert d.device.kind == "cpu", d.device
        assert np.array_equal(d.copy_to_host(), np.arange(10, dtype=np.int32).reshape(2, 5))
        print("restored on", d.device.kind)
    '''))
    assert "restored on cpu" in run(recv, tmp_path, blob)
