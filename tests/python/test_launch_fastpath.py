"""The C launch fast path (python/ext/launch.c): ``k[grid, block](*args)``
with device arrays and scalars launches from C once the argument types were
seen, and behaves exactly as the Python path: same specialisations, same
transfers, same errors, no reference leaks.

``Dispatcher._fastpath_hits`` counts the launches the fast path took; the
tests assert it so that they fail if the fast path is never taken (or is
taken where it must not be).
"""

import os
import subprocess
import gc
import sys
import textwrap
import threading

import numpy as np
import pytest

from ember import _ember, cuda, runtime
from ember.cuda import _devices
from conftest import ROOT

pytestmark = pytest.mark.usefixtures("cpu_device")


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def scale(out, x, a):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * a


@cuda.jit
def fill_2d(a):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        a[i, j] = i * 100 + j


@cuda.jit
def store_first(out, v):
    out[0] = v


@cuda.jit
def tuple_sum(out, t):
    out[0] = t[0] + t[1][0] + t[1][1]


@cuda.jit("void(float32[::1], float32)")
def fill_f32(a, v):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = v


@cuda.jit("void(float64[:])")
def double_any_layout(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = a[i] * 2.0


@cuda.jit("void(int32[::1], int32)")
def store_i32(a, v):
    a[0] = v


def hits(k):
    return k._fastpath_hits


# ---------------------------------------------------------------------------
# Results and the cache
# ---------------------------------------------------------------------------

def test_results_match_numpy_after_many_fast_launches(rng):
    n = 1000
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    dout = cuda.device_array(n, np.float32)
    before = hits(saxpy)
    expected = y.copy()
    for step in range(200):
        a = np.float32(step % 7 - 3)
        saxpy[4, 256](a, dx, dy, dout)
        np.testing.assert_allclose(dout.copy_to_host(), a * x + y, rtol=1e-6)
        if step % 50 == 0:      # the output fed back as input
            saxpy[4, 256](a, dx, dout, dout)
            expected = a * x + (a * x + y)
            np.testing.assert_allclose(dout.copy_to_host(), expected, rtol=1e-5)
    # every launch but the first of each argument-type combination is a hit
    assert hits(saxpy) - before >= 200 + 4 - 2


def test_second_launch_hits_the_cache():
    dx = cuda.to_device(np.arange(8.0))
    dout = cuda.device_array(8)
    scale._fastpath_clear()
    h0 = hits(scale)
    scale[1, 8](dout, dx, 3.0)          # slow path: compiles and registers
    assert hits(scale) == h0
    assert scale._fastpath_size == 1
    for _ in range(10):
        scale[1, 8](dout, dx, 3.0)
    assert hits(scale) == h0 + 10
    np.testing.assert_array_equal(dout.copy_to_host(), np.arange(8.0) * 3.0)


def test_switching_argument_types_picks_the_right_specialisation(rng):
    x32 = rng.standard_normal(64).astype(np.float32)
    x64 = rng.standard_normal(64)
    o32, o64 = cuda.device_array(64, np.float32), cuda.device_array(64)
    d32, d64 = cuda.to_device(x32), cuda.to_device(x64)
    for _ in range(3):
        scale[1, 64](o32, d32, 2.0)
        np.testing.assert_allclose(o32.copy_to_host(), x32 * 2.0, rtol=1e-6)
        scale[1, 64](o64, d64, 2.5)
        np.testing.assert_array_equal(o64.copy_to_host(), x64 * 2.5)
        scale[1, 64](o64, d64, 3)           # int scalar: its own specialisation
        np.testing.assert_array_equal(o64.copy_to_host(), x64 * 3)
        scale[1, 64](o64, d64, np.float32(0.5))
        np.testing.assert_array_equal(o64.copy_to_host(), x64 * np.float32(0.5))
    arr64 = ("array", "float64", 1, "C", False)
    arr32 = ("array", "float32", 1, "C", False)
    sigs = set(scale.signatures)
    assert {(arr32, arr32, "float64"), (arr64, arr64, "float64"), (arr64, arr64, "int64"),
            (arr64, arr64, "float32")} <= sigs


def test_int_then_float_scalar():
    out = cuda.device_array(1)
    for _ in range(3):
        store_first[1, 1](out, 7)
        assert out.copy_to_host()[0] == 7.0
        store_first[1, 1](out, 7.5)
        assert out.copy_to_host()[0] == 7.5
        store_first[1, 1](out, True)
        assert out.copy_to_host()[0] == 1.0
    arr = ("array", "float64", 1, "C", False)
    assert {(arr, "int64"), (arr, "float64"), (arr, "bool")} <= set(store_first.signatures)


def test_c_f_and_strided_layouts():
    shape = (5, 7)
    expected = np.add.outer(np.arange(5) * 100, np.arange(7)).astype(np.float64)
    c = cuda.device_array(shape, order="C")
    f = cuda.device_array(shape, order="F")
    big = cuda.device_array((5, 14))
    strided = big[:, ::2]
    h = hits(fill_2d)
    for _ in range(3):
        for a in (c, f, strided):
            fill_2d[(1, 1), (8, 8)](a)
            np.testing.assert_array_equal(a.copy_to_host(), expected)
    layouts = {sig[0][3] for sig in fill_2d.signatures}
    assert layouts == {"C", "F", "A"}
    assert hits(fill_2d) - h == 6


def test_tuple_arguments():
    out = cuda.device_array(1)
    h = hits(tuple_sum)
    for _ in range(3):
        tuple_sum[1, 1](out, (1.5, (2, 3)))
        assert out.copy_to_host()[0] == 6.5
        tuple_sum[1, 1](out, (1, (2, 3)))
        assert out.copy_to_host()[0] == 6.0
    assert hits(tuple_sum) - h == 4


def test_configuration_forms_and_forall():
    dx = cuda.to_device(np.arange(300.0))
    dout = cuda.device_array(300)
    saxpy[3, 128](1.0, dx, dx, dout)
    h = hits(saxpy)
    saxpy[(3,), (128,)](1.0, dx, dx, dout)
    saxpy[3, 128, None](1.0, dx, dx, dout)
    saxpy[3, 128, 0, 0](1.0, dx, dx, dout)
    saxpy[np.int64(3), [128, 1]](1.0, dx, dx, dout)     # parsed in Python, launched in C
    saxpy.forall(300)(1.0, dx, dx, dout)
    assert hits(saxpy) - h == 5
    np.testing.assert_array_equal(dout.copy_to_host(), np.arange(300.0) * 2)
    launcher = saxpy[(2, 3), (4, 5, 6)]
    assert launcher.griddim == (2, 3, 1) and launcher.blockdim == (4, 5, 6)
    assert launcher.stream == 0 and launcher.sharedmem == 0
    launcher = _ember.Launcher(saxpy, (2, 1, 1), (4, 1, 1))     # the Python path's constructor
    assert launcher.griddim == (2, 1, 1) and launcher.stream == 0 and launcher.sharedmem == 0


# ---------------------------------------------------------------------------
# What must keep taking the Python path
# ---------------------------------------------------------------------------

def test_host_arrays_take_the_fast_path_in_place(rng):
    n = 512
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    out = np.zeros(n)
    dx = cuda.to_device(x)
    saxpy[2, 256](2.0, dx, dx, cuda.device_array(n))     # warm the fast path
    saxpy[2, 256](2.0, x, y, out)
    h = hits(saxpy)
    runtime.reset_stats()
    saxpy[2, 256](2.0, x, y, out)
    s = runtime.stats()
    assert s["htod_copies"] == 0 and s["dtoh_copies"] == 0  # the CPU device: in place
    assert hits(saxpy) == h + 1                   # contiguous host arrays: from C
    np.testing.assert_allclose(out, 2 * x + y)


def test_stream_launches_take_the_python_path():
    dx = cuda.to_device(np.ones(64))
    dout = cuda.device_array(64)
    s = cuda.stream()
    saxpy[1, 64](1.0, dx, dx, dout)
    h = hits(saxpy)
    saxpy[1, 64, s](3.0, dx, dx, dout)
    s.synchronize()
    assert hits(saxpy) == h
    np.testing.assert_array_equal(dout.copy_to_host(), 4.0)


def test_eager_signature_conversions():
    a = cuda.device_array(16, np.float32)
    h = hits(fill_f32)
    for _ in range(3):
        fill_f32[1, 16](a, 3)                 # int -> float32
        np.testing.assert_array_equal(a.copy_to_host(), 3.0)
        fill_f32[1, 16](a, 2.25)              # float64 -> float32
        np.testing.assert_array_equal(a.copy_to_host(), 2.25)
    assert hits(fill_f32) - h == 4
    assert len(fill_f32.overloads) == 1      # only the explicit signature

    base = cuda.to_device(np.arange(20.0))
    view = base[::2]                          # 'A' layout: matches float64[:]
    for _ in range(2):
        double_any_layout[1, 16](view)
    expected = np.arange(20.0)
    expected[::2] *= 4
    np.testing.assert_array_equal(base.copy_to_host(), expected)
    c = cuda.to_device(np.ones(4))            # C layout converts to float64[:] too
    double_any_layout[1, 4](c)
    double_any_layout[1, 4](c)
    np.testing.assert_array_equal(c.copy_to_host(), 4.0)
    assert len(double_any_layout.overloads) == 1

    with pytest.raises(TypeError, match="No matching definition"):
        fill_f32[1, 16](cuda.device_array(16), 1.0)     # float64 array: no conversion


def test_errors_are_the_same_on_both_paths():
    dout = cuda.device_array(4)
    saxpy[1, 4](1.0, dout, dout, dout)
    h = hits(saxpy)
    for zero_d in (np.array(1.0), cuda.to_device(np.array(1.0))):
        with pytest.raises(TypeError, match="argument 2 .'x'.*0-d"):
            saxpy[1, 4](1.0, zero_d, dout, dout)
    with pytest.raises(TypeError, match="argument 1 .'a'.*list"):
        saxpy[1, 4]([1.0], dout, dout, dout)
    with pytest.raises(TypeError, match="saxpy"):
        saxpy[1, 4](1.0, dout)
    with pytest.raises(TypeError, match="keyword"):
        saxpy[1, 4](1.0, dout, dout, out=dout)
    with pytest.raises(ValueError, match="blockdim"):
        saxpy[1, 2048](1.0, dout, dout, dout)
    assert hits(saxpy) == h

    a = cuda.device_array(1, np.int32)
    store_i32[1, 1](a, 5)                     # registers int -> the int32 kernel
    messages = []
    for _ in range(2):                        # the first may or may not hit; the second does
        with pytest.raises(OverflowError) as ei:
            store_i32[1, 1](a, 2**40)
        messages.append(str(ei.value))
    assert messages[0] == messages[1]
    assert "argument 2 ('v')" in messages[1] and "int32" in messages[1]
    assert a.copy_to_host()[0] == 5


def test_non_cpu_current_device_still_raises(tmp_path, fake_cuda_lib):
    script = tmp_path / "non_cpu.py"    # the front end reads kernel source from a file
    script.write_text(textwrap.dedent("""
        import numpy as np
        from ember import cuda

        @cuda.jit
        def inc(a):
            a[0] += 1

        cuda.select_device('cpu')
        a = cuda.to_device(np.zeros(1))
        for _ in range(5):
            inc[1, 1](a)
        assert inc._fastpath_hits == 4, inc._fastpath_hits
        cuda.select_device(0)              # a (fake) CUDA device: the slow path checks
        try:
            inc[1, 1](a)
        except ValueError as e:
            assert "lives on cpu:0" in str(e) and "runs on cuda:0" in str(e), e
        else:
            raise AssertionError("launched a cpu array on a CUDA device")
        with cuda.gpus[1]:
            try:
                inc[1, 1](a)
            except ValueError:
                pass
            else:
                raise AssertionError("launched a cpu array on a CUDA device")
        g = cuda.to_device(np.zeros(1))      # on CUDA device 0
        cuda.select_device('cpu')
        inc[1, 1](a)
        try:
            inc[1, 1](g)
        except ValueError as e:
            assert "lives on" in str(e), e
        else:
            raise AssertionError("launched with an array of another device")
        assert inc._fastpath_hits == 5, inc._fastpath_hits
        assert a.copy_to_host()[0] == 6
        print("ok")
        """))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_CUDA_DRIVER=fake_cuda_lib,
               FAKE_CUDA_DEVICES="2")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout


def test_current_device_is_per_thread():
    dout = cuda.device_array(8)
    dx = cuda.to_device(np.ones(8))
    saxpy[1, 8](1.0, dx, dx, dout)
    errors = []

    def worker():
        try:
            _devices._state.set(("cpu", 0))
            for _ in range(20):
                saxpy[1, 8](2.0, dx, dx, dout)
        except Exception as e:  # reported below
            errors.append(e)

    h = hits(saxpy)
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert not errors
    assert hits(saxpy) - h >= 19
    np.testing.assert_array_equal(dout.copy_to_host(), 3.0)


# ---------------------------------------------------------------------------
# Reference counts
# ---------------------------------------------------------------------------

def test_no_reference_leaks():
    dx = cuda.to_device(np.ones(64))
    dout = cuda.device_array(64)
    scalar = 12345.678
    tup = (1.5, (2, 3))
    out1 = cuda.device_array(1)
    launcher = saxpy[1, 64]
    for _ in range(3):
        launcher(scalar, dx, dx, dout)
        tuple_sum[1, 1](out1, tup)
    gc.collect()  # drop cycles that earlier tests left holding these objects
    counts = [sys.getrefcount(o) for o in (dx, dout, scalar, tup, launcher, saxpy)]
    h = hits(saxpy)
    for _ in range(2000):
        launcher(scalar, dx, dx, dout)
        saxpy[1, 64](scalar, dx, dx, dout)
        tuple_sum[1, 1](out1, tup)
    for _ in range(200):                       # errors raised from the fast path
        with pytest.raises(OverflowError):
            store_i32[1, 1](cuda.device_array(1, np.int32), 2**40)
        with pytest.raises(TypeError):
            launcher(scalar, dx, dx, dout, dout)
    assert hits(saxpy) - h == 4000
    gc.collect()
    after = [sys.getrefcount(o) for o in (dx, dout, scalar, tup, launcher, saxpy)]
    # a leak adds one reference per launch (thousands); none may grow
    assert all(a <= c for a, c in zip(after, counts)), (after, counts)
