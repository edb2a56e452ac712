"""ember.jit(parallel=True) with prange (devices/cpu/lower_prange.c,
devices/cpu/prange.c): results against NumPy or plain Python computed
independently, reductions, bounds and steps, the error paths, and the same
results with 1 and 2 worker threads (each in its own process: the pool is
sized once per process)."""
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import prange
from ember.errors import TypingError, UnsupportedError
from conftest import ROOT


def psum(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i]
    return s


def int_reductions(n):
    total = 0
    prod = 1
    lo = 1 << 40
    hi = -(1 << 40)
    down = 100
    for i in prange(n):
        total += i * i % 7
        prod *= 1 + (i % 9973 == 5)
        lo = min(lo, (i * 37) % 101 - 50)
        hi = max(hi, (i * 53) % 97)
        down -= i
    return total, prod, lo, hi, down


def py_int_reductions(n):
    total, prod, lo, hi, down = 0, 1, 1 << 40, -(1 << 40), 100
    for i in range(n):
        total += i * i % 7
        prod *= 1 + (i % 9973 == 5)
        lo = min(lo, (i * 37) % 101 - 50)
        hi = max(hi, (i * 53) % 97)
        down -= i
    return total, prod, lo, hi, down


def test_sum_of_a_million_floats():
    a = np.random.default_rng(1).random(1_000_000)
    f = ember.njit(parallel=True)(psum)
    assert f(a) == pytest.approx(math.fsum(a), rel=1e-12)


def test_integer_reductions_equal_python_and_the_serial_function():
    par = ember.njit(parallel=True)(int_reductions)
    ser = ember.njit(int_reductions)
    for n in (0, 1, 2, 3, 17, 1000, 100_003):
        expect = py_int_reductions(n)
        assert par(n) == expect
        assert ser(n) == expect


def test_float_product_min_max_and_s_equals_s_plus():
    @ember.njit(parallel=True)
    def stats(a):
        p = 1.0
        lo = np.inf
        hi = -np.inf
        t = 0.0
        for i in prange(a.shape[0]):
            p *= a[i]
            lo = min(lo, a[i])
            hi = max(a[i], hi)
            t = t + 2.0 * a[i]
        return p, lo, hi, t

    a = np.random.default_rng(2).uniform(0.9, 1.1, 5001)
    p, lo, hi, t = stats(a)
    assert p == pytest.approx(np.prod(a), rel=1e-12)
    assert lo == a.min() and hi == a.max()
    assert t == pytest.approx(2.0 * a.sum(), rel=1e-12)


def test_reduction_starts_from_the_value_before_the_loop():
    @ember.njit(parallel=True)
    def f(n, start):
        s = start
        m = start
        for i in prange(n):
            s += i
            m *= 2
        return s, m

    assert f(100, 7) == (7 + sum(range(100)), 0)    # 7 * 2**100 wraps to 0 in int64
    assert f(10, 7) == (7 + 45, 7 * 2 ** 10)
    assert f(0, 7) == (7, 7)
    assert f(5, 7) == (17, 224)


def test_prange_inside_a_serial_loop_and_an_if():
    @ember.njit(parallel=True)
    def f(a, reps):
        total = 0.0
        for r in range(reps):
            s = 0.0
            if r % 2 == 0:
                for i in prange(a.shape[0]):
                    s += a[i] * r
            total += s
        return total

    a = np.random.default_rng(9).random(1001)
    assert f(a, 5) == pytest.approx(a.sum() * (0 + 2 + 4), rel=1e-12)


def test_rows_of_a_2d_array():
    @ember.njit(parallel=True)
    def rows(a, out):
        for i in prange(a.shape[0]):
            acc = 0.0
            for j in range(a.shape[1]):
                acc += a[i, j]
                out[i, j] = acc * i
        return out

    a = np.random.default_rng(3).random((123, 45))
    out = rows(a, np.zeros_like(a))
    np.testing.assert_allclose(out, np.cumsum(a, axis=1) * np.arange(123)[:, None],
                               rtol=1e-12)


@pytest.mark.parametrize("start,stop,step", [(0, 10, 1), (3, 50, 7), (-20, 21, 4),
                                             (10, -10, -3), (5, 5, 1), (5, 6, 1),
                                             (5, 4, 1), (-1, -40, -1), (0, 10, -1),
                                             (7, 100, 1000)])
def test_steps_negative_ranges_and_tiny_loops(start, stop, step):
    @ember.njit(parallel=True)
    def f(start, stop, step, out):
        c = 0
        s = 0
        for i in prange(start, stop, step):
            out[(i - start) // step] = i
            c += 1
            s += i
        return c, s

    expect = list(range(start, stop, step))
    out = np.full(200, -999, np.int64)
    assert f(start, stop, step, out) == (len(expect), sum(expect))
    assert out[:len(expect)].tolist() == expect
    assert (out[len(expect):] == -999).all()


def test_loop_variable_after_the_loop_and_unsigned_bounds():
    @ember.njit(parallel=True)
    def f(start, stop, step, out):
        i = -1
        for i in prange(start, stop, step):
            out[(i - start) // step] += 1
        return i

    for args in ((0, 10, 1), (3, 50, 7), (10, -10, -3), (5, 5, 1)):
        i = -1
        for i in range(*args):
            pass
        out = np.zeros(100, np.int64)
        assert f(*args, out) == i
        assert out.sum() == len(range(*args)) and out.max(initial=0) <= 1

    @ember.njit(parallel=True)
    def g(n, out):
        s = np.uint64(0)
        for i in prange(n):
            out[i] = i
            s += i
        return s

    out = np.zeros(300, np.uint64)
    assert g(np.uint64(300), out) == sum(range(300))
    np.testing.assert_array_equal(out, np.arange(300))


def test_int32_bounds_and_one_or_two_arguments():
    @ember.njit(parallel=True)
    def f(n, out):
        for i in prange(n):
            out[i] = i * 3
        for i in prange(2, n):
            out[i] += 1
        return out

    out = f(np.int32(50), np.zeros(50, np.int64))
    expect = np.arange(50) * 3
    expect[2:] += 1
    np.testing.assert_array_equal(out, expect)


def test_nested_prange_runs_the_inner_one_serially():
    @ember.njit
    def weight(i):
        return i * i + 1

    @ember.njit(parallel=True)
    def nested(a):
        s = 0
        for i in prange(a.shape[0]):
            for j in prange(a.shape[1]):
                a[i, j] = weight(i) + j
                s += a[i, j]
        return s

    a = np.zeros((60, 9), np.int64)
    expect = np.add.outer(np.arange(60) ** 2 + 1, np.arange(9))
    assert nested(a) == expect.sum()
    np.testing.assert_array_equal(a, expect)


def test_prange_without_parallel_is_range_and_py_func_runs():
    ser = ember.njit(int_reductions)
    assert ser(321) == py_int_reductions(321)
    par = ember.njit(parallel=True)(int_reductions)
    assert par.py_func(321) == py_int_reductions(321)
    assert par.py_func is int_reductions


def test_numba_prange_is_recognised():
    numba = pytest.importorskip("numba")

    @ember.njit(parallel=True)
    def f(a):
        s = 0
        for i in numba.prange(a.shape[0]):
            s += a[i]
        return s

    a = np.arange(1000)
    assert f(a) == 499500


def test_private_variables_and_shared_reads():
    @ember.njit(parallel=True)
    def f(a, scale, out):
        offset = 0.5
        for i in prange(a.shape[0]):
            t = a[i] * scale      # private per iteration
            if t > 1.0:
                t = t - 1.0
            out[i] = t + offset
        return out

    a = np.random.default_rng(4).random(999)
    t = a * 3.0
    t = np.where(t > 1.0, t - 1.0, t)
    np.testing.assert_allclose(f(a, 3.0, np.zeros_like(a)), t + 0.5, rtol=1e-15)


def test_loop_variables_reused_outside_stay_private():
    @ember.njit(parallel=True)
    def f(a, out):
        for i in prange(a.shape[0]):
            for j in range(a.shape[1]):
                out[i, j] = a[i, j] + j
        t = 0.0
        for j in range(a.shape[1]):
            t += out[0, j]
        return t

    a = np.random.default_rng(8).random((20, 6))
    out = np.zeros_like(a)
    assert f(a, out) == pytest.approx((a[0] + np.arange(6)).sum(), rel=1e-14)
    np.testing.assert_allclose(out, a + np.arange(6), rtol=1e-15)


def test_continue_and_inner_break_in_the_body():
    @ember.njit(parallel=True)
    def f(n):
        s = 0
        for i in prange(n):
            if i % 3 == 0:
                continue
            for j in range(i):
                if j > 4:
                    break
                s += j
        return s

    def g(n):
        s = 0
        for i in range(n):
            if i % 3 == 0:
                continue
            s += sum(range(min(i, 5)))
        return s

    assert f(500) == g(500)


def test_c_fast_path_calls():
    f = ember.njit(parallel=True)(psum)
    a = np.random.default_rng(5).random(10_000)
    assert f(a) == pytest.approx(a.sum(), rel=1e-12)   # slow path, registers the shape
    assert f._fastpath_size == 1
    b = np.random.default_rng(6).random(777)
    assert f(b) == pytest.approx(b.sum(), rel=1e-12)   # C fast path


def test_random_draws_in_the_body():
    @ember.njit(parallel=True)
    def draws(out):
        for i in prange(out.shape[0]):
            out[i] = np.random.random()
        return out

    out = draws(np.zeros(20_000))
    assert 0.0 <= out.min() and out.max() < 1.0
    assert abs(out.mean() - 0.5) < 0.02
    assert len(np.unique(out)) == out.size


def test_bounds_check_inside_the_body_raises_index_error():
    @ember.njit(parallel=True, boundscheck=True)
    def f(a):
        s = 0.0
        for i in prange(a.shape[0] + 1):
            s += a[i]
        return s

    with pytest.raises(IndexError, match="index out of bounds"):
        f(np.ones(1000))


def test_non_reduction_write_is_a_typing_error():
    @ember.njit(parallel=True)
    def last(a):
        s = 0.0
        for i in prange(a.shape[0]):
            s = a[i]
        return s

    with pytest.raises(TypingError, match=r"test_prange.py:\d+.*variable 's' is assigned in "
                                          r"a prange loop but is not a reduction"):
        last(np.ones(4))

    @ember.njit(parallel=True)
    def reads(a):
        s = 0.0
        for i in prange(a.shape[0]):
            s += a[i] * s
        return s

    with pytest.raises(TypingError, match="'s' is assigned in a prange loop"):
        reads(np.ones(4))

    @ember.njit(parallel=True)
    def mixed(a):
        s = 1.0
        for i in prange(a.shape[0]):
            s += a[i]
            s *= 2.0
        return s

    with pytest.raises(TypingError, match="'s' is assigned in a prange loop"):
        mixed(np.ones(4))


def test_unsupported_bodies_are_clear_errors():
    @ember.njit(parallel=True)
    def ret(a):
        for i in prange(a.shape[0]):
            if a[i] > 0:
                return i
        return -1

    with pytest.raises(UnsupportedError, match=r"test_prange.py:\d+.*'return' inside a prange"):
        ret(np.ones(3))

    @ember.njit(parallel=True)
    def brk(a):
        for i in prange(a.shape[0]):
            if a[i] > 0:
                break
            a[i] = 1.0
        return a

    with pytest.raises(UnsupportedError, match="'break' out of a prange loop"):
        brk(np.ones(3))

    @ember.njit(parallel=True)
    def alloc(a):
        for i in prange(a.shape[0]):
            b = np.zeros(3)
            a[i] = b[0]
        return a

    with pytest.raises(UnsupportedError, match="creating arrays inside a prange loop"):
        alloc(np.ones(3))

    @ember.njit(parallel=True)
    def complexred(a):
        z = 0j
        for i in prange(a.shape[0]):
            z += a[i] * 1j
        return z

    with pytest.raises(TypingError, match="only integer and float variables can be reduced, "
                                          "not complex128"):
        complexred(np.ones(3))


THREADS_SCRIPT = r'''
import json, sys
import numpy as np
import ember
from ember import prange

@ember.njit(parallel=True)
def mixed(a):
    s = 0.0
    c = 0
    for i in prange(a.shape[0]):
        s += a[i]
        c += int(a[i] * 1000) % 7
    return s, c

@ember.njit(parallel=True)
def mandel(out, maxit):
    h, w = out.shape
    for y in prange(h):
        for x in range(w):
            c = complex(-2.0 + 3.0 * x / w, -1.5 + 3.0 * y / h)
            z = 0j
            n = 0
            while n < maxit and abs(z) < 2.0:
                z = z * z + c
                n += 1
            out[y, x] = n
    return out

a = np.random.default_rng(7).random(200_001)
s, c = mixed(a)
m = mandel(np.zeros((40, 60), np.int64), 50)
print(json.dumps({"s": s, "c": c, "m": m.tolist(), "workers": ember.cpu.workers}))
'''


def run_with_threads(tmp_path, n):
    script = tmp_path / "threads.py"
    script.write_text(THREADS_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), EMBER_NUM_THREADS=str(n))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_and_two_threads_give_the_same_results(tmp_path):
    one, two = run_with_threads(tmp_path, 1), run_with_threads(tmp_path, 2)
    assert one["workers"] == 1 and two["workers"] == 2
    a = np.random.default_rng(7).random(200_001)
    for r in (one, two):
        assert r["s"] == pytest.approx(math.fsum(a), rel=1e-12)
        assert r["c"] == sum(int(x * 1000) % 7 for x in a)
    assert one["m"] == two["m"]
    # the Mandelbrot set by plain Python, for a few rows
    h, w = 40, 60
    for y in (0, 13, 20, 39):
        row = []
        for x in range(w):
            c = complex(-2.0 + 3.0 * x / w, -1.5 + 3.0 * y / h)
            z, n = 0j, 0
            while n < 50 and abs(z) < 2.0:
                z = z * z + c
                n += 1
            row.append(n)
        assert one["m"][y] == row


CACHE_MODULE = '''
import ember
from ember import prange

@ember.njit(parallel=True, cache=True)
def total(a):
    s = 0
    for i in prange(a.shape[0]):
        s += a[i] * a[i]
    return s
'''

CACHE_DRIVER = r'''
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import pmod
a = np.arange(1000, dtype=np.int64)
r = pmod.total(a)
print(json.dumps({"r": int(r), "hits": sum(pmod.total.stats.cache_hits.values()),
                  "misses": sum(pmod.total.stats.cache_misses.values())}))
'''


def test_cache_true_with_parallel_loads_in_a_second_process(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "pmod.py").write_text(CACHE_MODULE)
    driver = tmp_path / "driver.py"
    driver.write_text(CACHE_DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), PYTHONDONTWRITEBYTECODE="1",
               XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("EMBER_CACHE_DIR", None)
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(driver), str(src)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    expect = sum(i * i for i in range(1000))
    assert outs[0] == {"r": expect, "hits": 0, "misses": 1}
    assert outs[1] == {"r": expect, "hits": 1, "misses": 0}


def test_parallel_option_forms():
    @ember.njit(parallel={"prange": True})
    def f(n):
        s = 0
        for i in prange(n):
            s += i
        return s

    assert f(1000) == 499500
    assert f.parallel
    assert not ember.njit(psum).parallel


def test_only_parallel_functions_call_the_runtime():
    # the loop is outlined and handed to host_prange_run only with parallel=True
    a = np.ones(10)
    par, ser = ember.njit(parallel=True)(psum), ember.njit(psum)
    assert par(a) == ser(a) == 10.0
    assert "ember_host_prange_run" in par.inspect_llvm(par.signatures[0])
    assert "ember_host_prange_run" not in ser.inspect_llvm(ser.signatures[0])


def test_slice_assignment_of_scalars_in_a_prange_body():
    # a[i, :] = scalar never copies (no array operand), so it is allowed;
    # from an array operand it may need a temporary: refused, saying so
    @ember.njit(parallel=True)
    def rows(a, b):
        for i in prange(a.shape[0]):
            a[i, :] = 2.0
            for j in range(a.shape[1]):
                a[i, j] += b[i, j]
        return a.sum()

    rng = np.random.default_rng(3)
    b = rng.random((50, 7))
    a = np.zeros((50, 7))
    assert rows(a, b) == pytest.approx(float((b + 2.0).sum()), rel=1e-12)
    np.testing.assert_allclose(a, b + 2.0, rtol=1e-15)

    @ember.njit(parallel=True)
    def from_array(a, b):
        for i in prange(a.shape[0]):
            a[i, :] = b[i, :]

    with pytest.raises(UnsupportedError, match="slice assignment from an array") as e:
        from_array(a, b)
    assert "test_prange.py" in str(e.value)
