"""Kernels compiled by ember and run on the cpu device, compared with NumPy.

Every expected value is computed independently with NumPy (or plain
Python), never with ember. The kernels live at module level: the front end
reads their source.
"""

import math

import numpy as np
import pytest

from ember import cuda, runtime
from ember.errors import TypingError, UnsupportedError

THIS_FILE = __file__


# Every kernel runs on the cpu device and, where there is one, on a CUDA GPU
# (conftest.kernel_device); both are compared with NumPy.
pytestmark = pytest.mark.usefixtures("kernel_device")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def line_of(fn, text):
    """File line number of the first line of fn's source containing text."""
    import inspect
    lines, first = inspect.getsourcelines(fn.py_func if hasattr(fn, "py_func") else fn)
    for i, line in enumerate(lines):
        if text in line:
            return first + i
    raise AssertionError(f"{text!r} not in the source")


# ---------------------------------------------------------------------------
# saxpy and 2-D grids
# ---------------------------------------------------------------------------

@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i] + y[i]


def test_saxpy_device_arrays_65536_threads(rng):
    n = 65536
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    dx, dy = cuda.to_device(x), cuda.to_device(y)
    dout = cuda.device_array_like(dx)
    saxpy[n // 256, 256](np.float32(2.5), dx, dy, dout)
    expect = np.float32(2.5) * x + y
    np.testing.assert_allclose(dout.copy_to_host(), expect, rtol=1e-6)
    # one specialisation, typed as numba would
    sig = ("float32", ("array", "float32", 1, "C", False), ("array", "float32", 1, "C", False),
           ("array", "float32", 1, "C", False))
    assert sig in saxpy.overloads
    assert "define" in saxpy.inspect_llvm()[sig]


def test_saxpy_grid_larger_than_array_and_host_arrays(rng):
    n = 1000  # 4 blocks of 256 threads: 24 threads must do nothing
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    out = np.full(n + 5, -7.0)[:n]  # a view: written back in place
    saxpy[4, 256](3.0, x, y, out)
    np.testing.assert_allclose(out, 3.0 * x + y)


def test_saxpy_specialisations_are_cached(rng):
    x = np.arange(10, dtype=np.float64)
    out = np.zeros(10)
    saxpy[1, 32](1.0, x, x, out)
    n = len(saxpy.overloads)
    saxpy[1, 32](2.0, x, x, out)
    assert len(saxpy.overloads) == n
    np.testing.assert_allclose(out, 3 * x)
    saxpy[1, 32](2, x, x, out)  # int scalar: a new signature
    assert len(saxpy.overloads) == n + 1
    assert ("int64",) + (("array", "float64", 1, "C", False),) * 3 in saxpy.signatures


@cuda.jit
def add_2d(a, b, out):
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = a[i, j] * 2.0 + b[i, j] + i * 1000 + j


@pytest.mark.parametrize("order", ["C", "F"])
def test_grid_2d_float64(order, rng):
    a = np.asarray(rng.standard_normal((37, 53)), order=order)
    b = np.asarray(rng.standard_normal((37, 53)), order=order)
    da, db = cuda.to_device(a), cuda.to_device(b)
    dout = cuda.device_array_like(da)
    add_2d[(3, 4), (16, 16)](da, db, dout)
    ii, jj = np.meshgrid(np.arange(37), np.arange(53), indexing="ij")
    np.testing.assert_allclose(dout.copy_to_host(), a * 2.0 + b + ii * 1000 + jj)
    layout = "F" if order == "F" else "C"
    assert ((("array", "float64", 2, layout, False),) * 3) in add_2d.overloads


@cuda.jit
def thread_ids(out):
    # global id built by hand from the dim3 intrinsics
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    j = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    gx, gy = cuda.gridsize(2)
    if i < out.shape[0] and j < out.shape[1]:
        out[i, j] = i * 100000 + j * 10 + (gx * gy == cuda.gridDim.x * cuda.blockDim.x *
                                           cuda.gridDim.y * cuda.blockDim.y)


def test_dim3_intrinsics_and_gridsize():
    out = np.zeros((20, 9), dtype=np.int64)
    thread_ids[(3, 2), (8, 5)](out)
    ii, jj = np.meshgrid(np.arange(20), np.arange(9), indexing="ij")
    np.testing.assert_array_equal(out, ii * 100000 + jj * 10 + 1)


# ---------------------------------------------------------------------------
# Control flow
# ---------------------------------------------------------------------------

@cuda.jit
def loops(out):
    i = cuda.grid(1)
    if i >= out.size:
        return
    total = 0
    for k in range(i):          # skip multiples of 3, stop after 40
        if k % 3 == 0:
            continue
        if k > 40:
            break
        total += k
    n = i
    steps = 0
    while n != 1 and n > 0:     # Collatz steps
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    acc = 0
    for k in range(10, 0, -3):
        acc = acc * 10 + k
    out[i] = total * 1000000 + steps * 100000 + acc % 100000


def test_for_while_break_continue():
    n = 100
    out = np.zeros(n, dtype=np.int64)
    loops[4, 32](out)
    expect = []
    for i in range(n):
        total = 0
        for k in range(i):
            if k % 3 == 0:
                continue
            if k > 40:
                break
            total += k
        m, steps = i, 0
        while m != 1 and m > 0:
            m = m // 2 if m % 2 == 0 else 3 * m + 1
            steps += 1
        acc = 0
        for k in range(10, 0, -3):
            acc = acc * 10 + k
        expect.append(total * 1000000 + steps * 100000 + acc % 100000)
    np.testing.assert_array_equal(out, expect)


@cuda.jit
def branches(x, out):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        if v < -1.0:
            r = 0
        elif v < 0.0:
            r = 1
        elif 0.0 <= v < 1.0:     # chained comparison
            r = 2
        else:
            r = 3
        out[i] = r * 10 + (1 if v > 0.5 and not v > 1.5 or v == 0.25 else 0)


def test_if_elif_else_chained_compare_boolops(rng):
    x = np.concatenate([rng.uniform(-3, 3, 200), [0.25, 0.5, 1.5, -1.0, 0.0, 1.0]])
    out = np.zeros(x.size, dtype=np.int32)
    branches[(x.size + 63) // 64, 64](x, out)
    r = np.select([x < -1, x < 0, (0 <= x) & (x < 1)], [0, 1, 2], 3)
    extra = (((x > 0.5) & ~(x > 1.5)) | (x == 0.25)).astype(int)
    np.testing.assert_array_equal(out, r * 10 + extra)


# ---------------------------------------------------------------------------
# Arithmetic: floor division and modulo follow Python / NumPy
# ---------------------------------------------------------------------------

@cuda.jit
def divmod_kernel(a, b, q, r):
    i = cuda.grid(1)
    if i < a.size:
        q[i] = a[i] // b[i]
        r[i] = a[i] % b[i]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
def test_floordiv_and_mod_negative(dtype):
    vals = [-7, -6, -5, -1, 0, 1, 5, 6, 7]
    a = np.array([x for x in vals for _ in [-3, -2, 2, 3]], dtype=dtype)
    b = np.array([y for _ in vals for y in [-3, -2, 2, 3]], dtype=dtype)
    if np.dtype(dtype).kind == "f":
        a = a + np.asarray(0.5, dtype)
    q, r = np.zeros_like(a), np.zeros_like(a)
    divmod_kernel[1, 64](a, b, q, r)
    np.testing.assert_array_equal(q, a // b)
    np.testing.assert_array_equal(r, a % b)


@cuda.jit
def arith(x, out):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        out[i, 0] = -v + (v << 2) - (v >> 1)
        out[i, 1] = (v & 12) | (v ^ 5)
        out[i, 2] = ~v
        out[i, 3] = v ** 2
        out[i, 4] = abs(v) + min(v, 3) + max(v, -2, 1)


def test_integer_and_bit_operators():
    x = np.arange(-20, 20, dtype=np.int64)
    out = np.zeros((x.size, 5), dtype=np.int64)
    arith[1, 64](x, out)
    np.testing.assert_array_equal(out[:, 0], -x + (x << 2) - (x >> 1))
    np.testing.assert_array_equal(out[:, 1], (x & 12) | (x ^ 5))
    np.testing.assert_array_equal(out[:, 2], ~x)
    np.testing.assert_array_equal(out[:, 3], x ** 2)
    np.testing.assert_array_equal(out[:, 4], np.abs(x) + np.minimum(x, 3) +
                                  np.maximum(np.maximum(x, -2), 1))


# ---------------------------------------------------------------------------
# NEP 50: Python literals are weak
# ---------------------------------------------------------------------------

@cuda.jit
def scale_literal(x, out):
    i = cuda.grid(1)
    if i < x.size:
        y = x[i] * 1.1
        out[i] = y


def test_nep50_float32_times_literal_stays_float32(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    out = np.zeros(1000, dtype=np.float64)  # the float32 product is stored into float64
    scale_literal[4, 256](x, out)
    expect32 = (x * np.float32(1.1)).astype(np.float64)  # NumPy 2 / NEP 50 result
    expect64 = x.astype(np.float64) * 1.1                # numba's (float64) result
    np.testing.assert_array_equal(out, expect32)
    assert not np.array_equal(out, expect64)
    sig = (("array", "float32", 1, "C", False), ("array", "float64", 1, "C", False))
    ir = scale_literal.overloads[sig].ir
    assert "var y :: float32" in ir
    assert "binary * :: float32" in ir
    assert "float literal" in ir


@cuda.jit
def int_literals(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * 3 + 1


def test_nep50_int8_times_literal_wraps_in_int8():
    x = np.array([1, 50, 100, -100], dtype=np.int8)
    out = np.zeros(4, dtype=np.int64)
    int_literals[1, 32](x, out)
    expect = (x * np.int8(3) + np.int8(1)).astype(np.int64)  # int8 arithmetic wraps
    np.testing.assert_array_equal(out, expect)
    ir = int_literals.overloads[(("array", "int8", 1, "C", False),
                                 ("array", "int64", 1, "C", False))].ir
    assert "binary + :: int8" in ir


# ---------------------------------------------------------------------------
# Math functions
# ---------------------------------------------------------------------------

@cuda.jit
def math_fns(x, out):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        out[i, 0] = math.sin(v)
        out[i, 1] = math.cos(v)
        out[i, 2] = math.exp(v)
        out[i, 3] = math.log(v + 4.0)
        out[i, 4] = math.sqrt(v + 4.0)
        out[i, 5] = math.atan2(v, 0.5)
        out[i, 6] = math.tanh(v)
        out[i, 7] = np.hypot(v, 2.0)
        out[i, 8] = np.arctan(v)
        out[i, 9] = math.pow(abs(v), 1.5)
        out[i, 10] = math.fabs(v) + math.copysign(1.0, v)
        out[i, 11] = math.floor(v) + math.ceil(v) * 100
        out[i, 12] = math.erf(v)
        out[i, 13] = math.log1p(abs(v)) + math.expm1(v)
        out[i, 14] = math.fmod(v, 0.7)
        out[i, 15] = 1.0 if math.isnan(v) or math.isinf(v) else 0.0


def test_math_functions_match_numpy(rng):
    x = rng.uniform(-3.5, 3.5, 300)
    out = np.zeros((x.size, 16))
    math_fns[3, 128](x, out)
    erf = np.vectorize(math.erf)
    cols = [np.sin(x), np.cos(x), np.exp(x), np.log(x + 4), np.sqrt(x + 4), np.arctan2(x, 0.5),
            np.tanh(x), np.hypot(x, 2.0), np.arctan(x), np.abs(x) ** 1.5,
            np.abs(x) + np.copysign(1.0, x), np.floor(x) + np.ceil(x) * 100, erf(x),
            np.log1p(np.abs(x)) + np.expm1(x), np.fmod(x, 0.7), np.zeros_like(x)]
    for c, expect in enumerate(cols):
        np.testing.assert_allclose(out[:, c], expect, rtol=1e-12, atol=1e-14,
                                   err_msg=f"column {c}")


@cuda.jit
def math_f32(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = math.sin(x[i]) * np.float32(2) + math.pi


def test_math_on_float32_stays_float32(rng):
    x = rng.uniform(-3, 3, 100).astype(np.float32)
    out = np.zeros(100, dtype=np.float32)
    math_f32[1, 128](x, out)
    np.testing.assert_allclose(out, np.sin(x) * np.float32(2) + np.float32(math.pi), rtol=2e-6)
    ir = math_f32.overloads[(("array", "float32", 1, "C", False),) * 2].ir
    assert "math sin :: float32" in ir


# ---------------------------------------------------------------------------
# Tuples, unpacking, casts, complex numbers
# ---------------------------------------------------------------------------

@cuda.jit
def tuples(out, pair):
    i = cuda.grid(1)
    if i < out.shape[0]:
        a, b = i, i * 10
        a, b = b, a                     # swap through temporaries
        t = (a, b, 7)
        first, (second, third) = t[0], (t[1], t[-1])
        idx = (i, 1)
        out[idx] = pair[0] + pair[1]    # index with a tuple variable
        out[i, 0] = first + second * 100 + third * 10000 + len(t)
        out[i, 2] = len(out.shape) + out.ndim * 10 + out.shape[1] * 100


def test_tuples_and_unpacking():
    out = np.zeros((10, 3), dtype=np.int64)
    tuples[1, 16](out, (5, 6))
    i = np.arange(10)
    np.testing.assert_array_equal(out[:, 0], i * 10 + i * 100 + 7 * 10000 + 3)
    np.testing.assert_array_equal(out[:, 1], 11)
    np.testing.assert_array_equal(out[:, 2], 2 + 20 + 300)
    assert (("array", "int64", 2, "C", False), ("tuple", ("int64", "int64"))) in tuples.overloads


@cuda.jit
def casts(x, out, z, zout):
    i = cuda.grid(1)
    if i < x.size:
        out[i, 0] = int(x[i])
        out[i, 1] = float(bool(x[i]))
        out[i, 2] = np.float32(x[i]) * 3
        out[i, 3] = round(x[i])
        zout[i] = z[i].conjugate() * complex(1.0, x[i]) + z[i].real + z[i].imag * 1j


def test_casts_and_complex(rng):
    x = np.array([-2.7, -0.5, 0.0, 0.4, 2.5, 3.5, 7.9])
    z = (rng.standard_normal(7) + 1j * rng.standard_normal(7))
    out = np.zeros((7, 4))
    zout = np.zeros(7, dtype=np.complex128)
    casts[1, 8](x, out, z, zout)
    np.testing.assert_array_equal(out[:, 0], np.trunc(x))
    np.testing.assert_array_equal(out[:, 1], (x != 0).astype(float))
    np.testing.assert_allclose(out[:, 2], (x.astype(np.float32) * np.float32(3)))
    np.testing.assert_array_equal(out[:, 3], [round(v) for v in x])  # half to even
    np.testing.assert_allclose(zout, np.conj(z) * (1 + 1j * x) + z.real + z.imag * 1j)


# ---------------------------------------------------------------------------
# Globals and closures are frozen at compile time
# ---------------------------------------------------------------------------

SCALE = 3
OFFSETS = (10, np.float32(0.5))


@cuda.jit
def use_globals(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = i * SCALE + OFFSETS[0] + OFFSETS[1]


def test_globals_frozen_at_compile_time():
    global SCALE
    out = np.zeros(8)
    use_globals[1, 8](out)
    np.testing.assert_array_equal(out, np.arange(8) * 3 + 10.5)
    old = SCALE
    SCALE = 100
    try:
        use_globals[1, 8](out)       # same signature: the compiled value stays
        np.testing.assert_array_equal(out, np.arange(8) * 3 + 10.5)
    finally:
        SCALE = old


def test_closure_variables_frozen():
    factor = np.float32(4)

    @cuda.jit
    def k(out):
        i = cuda.grid(1)
        if i < out.size:
            out[i] = i * factor

    out = np.zeros(5, dtype=np.float32)
    k[1, 8](out)
    np.testing.assert_array_equal(out, np.arange(5, dtype=np.float32) * 4)


# ---------------------------------------------------------------------------
# Indexing and views
# ---------------------------------------------------------------------------

@cuda.jit
def negative_index(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = a[-1 - i] + a[-a.size] * 0
        out[-1] = a[-1] + 1000


def test_negative_indexing():
    a = np.arange(10, dtype=np.int64) * 3
    out = np.zeros(10, dtype=np.int64)
    negative_index[1, 16](a, out)
    expect = a[::-1].copy()
    expect[-1] = a[-1] + 1000
    np.testing.assert_array_equal(out, expect)


@cuda.jit
def scale_2d(a, s):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        a[i, j] = a[i, j] * s + a.strides[0] * 0


def test_strided_device_views(rng):
    base = rng.standard_normal((20, 30))
    d = cuda.to_device(base)
    view = d[2:18:3, ::-2]          # non-contiguous, negative stride
    scale_2d[(2, 2), (8, 16)](view, 10.0)
    expect = base.copy()
    expect[2:18:3, ::-2] *= 10.0
    np.testing.assert_allclose(d.copy_to_host(), expect)
    assert (("array", "float64", 2, "A", False), "float64") in scale_2d.overloads
    t = d.T                         # an F-contiguous view of a C array
    scale_2d[(4, 2), (8, 16)](t, 0.5)
    np.testing.assert_allclose(d.copy_to_host(), expect * 0.5)
    assert (("array", "float64", 2, "F", False), "float64") in scale_2d.overloads


# ---------------------------------------------------------------------------
# Host arrays: used in place on the CPU device (test_host_arrays_in_place.py)
# ---------------------------------------------------------------------------

def test_host_arrays_used_in_place_and_written_params_known(rng):
    n = 4096
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    out = np.zeros(n)
    saxpy[16, 256](2.0, x, y, out)   # compile first
    runtime.reset_stats()
    saxpy[16, 256](2.0, x, y, out)
    s = runtime.stats()
    assert s["htod_bytes"] == 0 and s["dtoh_bytes"] == 0 and s["htod_copies"] == 0
    np.testing.assert_allclose(out, 2 * x + y)
    k = saxpy.overloads[("float64",) + (("array", "float64", 1, "C", False),) * 3]
    assert k.param_written == (False, False, False, True)


def test_non_contiguous_and_fortran_host_arrays_written_back(rng):
    n = 300
    x = rng.standard_normal((n, 3))[:, 1]        # strided input
    base = np.full((n, 2), -1.0)
    out = base[:, 0]                             # strided output: written in place
    saxpy[2, 256](2.0, x, x, out)
    np.testing.assert_allclose(base[:, 0], 3 * x)
    np.testing.assert_array_equal(base[:, 1], -1.0)
    a = np.asfortranarray(rng.standard_normal((17, 9)))
    b = np.asfortranarray(rng.standard_normal((17, 9)))
    o = np.zeros((17, 9), order="F")
    add_2d[(2, 1), (16, 16)](a, b, o)
    ii, jj = np.meshgrid(np.arange(17), np.arange(9), indexing="ij")
    np.testing.assert_allclose(o, a * 2.0 + b + ii * 1000 + jj)


def test_device_arrays_are_not_copied(rng):
    dx = cuda.to_device(np.ones(256))
    dout = cuda.device_array(256)
    saxpy[1, 256](1.0, dx, dx, dout)
    runtime.reset_stats()
    saxpy[1, 256](1.0, dx, dx, dout)
    s = runtime.stats()
    assert s["htod_copies"] == 0 and s["dtoh_copies"] == 0
    np.testing.assert_array_equal(dout.copy_to_host(), 2.0)


@cuda.jit
def store_into_first(a, b):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = b[i]


def test_readonly_host_array_is_typed_readonly():
    a = np.zeros(4)
    b = np.arange(4.0)
    b.flags.writeable = False
    store_into_first[1, 4](a, b)
    np.testing.assert_array_equal(a, b)
    assert (("array", "float64", 1, "C", False),
            ("array", "float64", 1, "C", True)) in store_into_first.overloads
    with pytest.raises(TypingError, match="read-only"):
        store_into_first[1, 4](b, a)


# ---------------------------------------------------------------------------
# Launch configuration and argument errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("config, bad", [
    ((0, 32), "0"),
    ((-1, 32), "-1"),
    ((1, 0), "0"),
    ((1, 2048), "2048"),
    ((1, (32, 64)), "2048"),
    ((1, (1, 1, 65)), "65"),
    ((1, (2000, 1)), "2000"),
    (((1, 70000), 32), "70000"),
    ((2**31, 1), str(2**31)),
    ((1.5, 32), "1.5"),      # a TypeError, as in numba
    ((1, "32"), "'32'"),
    ((1, (1, 2, 3, 4)), "4"),
    ((1,), "1"),
])
def test_launch_configuration_errors(config, bad):
    out = np.full(4, -1.0)
    runtime.reset_stats()
    # a dimension that is not an integer is numba's TypeError, the rest ValueError
    exc = TypeError if bad in ("1.5", "'32'") else ValueError
    with pytest.raises(exc) as ei:
        saxpy[config](1.0, out, out, out)
    assert bad in str(ei.value)
    np.testing.assert_array_equal(out, -1.0)       # nothing ran
    assert runtime.stats()["htod_copies"] == 0     # nothing was copied


def test_launch_with_stream_and_sharedmem():
    x = np.ones(64)
    out = np.zeros(64)
    s = cuda.stream()
    saxpy[1, 64, s, 0](1.0, x, x, out)
    np.testing.assert_array_equal(out, 2.0)
    saxpy[1, 64, 0](2.0, x, x, out)
    np.testing.assert_array_equal(out, 3.0)


def test_argument_type_errors():
    out = np.zeros(4)
    with pytest.raises(TypeError, match="argument 2 .'x'.*0-d"):
        saxpy[1, 4](1.0, np.array(1.0), out, out)
    with pytest.raises(TypeError, match="argument 1 .'a'.*list"):
        saxpy[1, 4]([1.0], out, out, out)
    with pytest.raises(TypeError, match="saxpy"):
        saxpy[1, 4](1.0, out)
    with pytest.raises(ValueError, match="launch configuration was not specified"):
        saxpy(1.0, out, out, out)


def test_launch_configuration_errors_as_numba():
    """numba's types and wording (normalize_kernel_dimensions): too many
    dimensions is a ValueError, a dimension that is no integer a TypeError;
    no configuration, or None in it, is numba's missing-configuration error."""
    out = np.zeros(4)
    with pytest.raises(ValueError, match=r"griddim must be a sequence of 1, 2 or 3 integers, "
                       r"got \[1, 2, 3, 4\]"):
        saxpy[(1, 2, 3, 4), (5, 6)]
    with pytest.raises(ValueError, match=r"blockdim must be a sequence of 1, 2 or 3 integers, "
                       r"got \[3, 4, 5, 6\]"):
        saxpy[(1, 2), [3, 4, 5, 6]]
    with pytest.raises(TypeError, match=r"griddim must be a sequence of integers, got \[2.0\]"):
        saxpy[2.0, 3]
    with pytest.raises(TypeError, match=r"blockdim must be a sequence of integers, got "
                       r"\[1, 'a'\]"):
        saxpy[2, (1, "a")]
    with pytest.raises(TypeError, match=r"griddim must be a sequence of integers"):
        saxpy[True, 4]                      # a bool is no grid size (numba takes it as 1)
    with pytest.raises(ValueError, match="launch configuration was not specified"):
        saxpy[None, 4]
    with pytest.raises(ValueError, match=r"launch configuration was not specified(.|\n)*"
                       r"saxpy\[blockspergrid, threadsperblock\]"):
        saxpy(1.0, out, out, out)
    x = np.arange(4.0)
    saxpy[(), [4]](2.0, x, x, out)          # () is (1, 1, 1), as in numba
    np.testing.assert_array_equal(out, 3 * x)


def test_jit_decorator_forms():
    @cuda.jit(debug=False, fastmath=False, opt=True)
    def k(out):
        out[0] = 1

    out = np.zeros(1)
    k[1, 1](out)
    assert out[0] == 1
    assert k.py_func.__name__ == "k"
    dev = cuda.jit(device=True)(lambda x: x)
    with pytest.raises(TypeError, match="device functions can only be called from kernels"):
        dev(1)


# ---------------------------------------------------------------------------
# Error messages: file:line:col, the source line, a caret, a hint
# ---------------------------------------------------------------------------

def helper(x):
    return x + 1


@cuda.jit
def uses_dict(out):
    d = {"a": 1}  # noqa: F841
    out[0] = 1


@cuda.jit
def calls_python(out):
    out[0] = helper(2.0)


@cuda.jit
def returns_value(out):
    out[0] = 1
    return 1


@cuda.jit
def unknown_attr(out):
    out[0] = out.foo


@cuda.jit
def bad_types(out, n):
    out[0] = n
    out[n] = 1


@pytest.mark.parametrize("kernel, marker, exc, text, hint", [
    (uses_dict, 'd = {"a": 1}', UnsupportedError, "dict literals", "hint: "),
    (calls_python, "helper(2.0)", UnsupportedError, "Python function 'helper'",
     "decorate `helper` with @cuda.jit(device=True)"),
    (returns_value, "return 1", TypingError, "kernels return nothing", "array argument"),
    (unknown_attr, "out.foo", TypingError, "has no attribute 'foo'", ".shape"),
])
def test_error_messages(kernel, marker, exc, text, hint):
    with pytest.raises(exc) as ei:
        kernel[1, 1](np.zeros(2))
    msg = str(ei.value)
    line = line_of(kernel, marker)
    assert f"{THIS_FILE}:{line}:" in msg
    assert text in msg
    assert hint in msg
    assert marker in msg                   # the source line is shown
    caret_line = msg.splitlines()[2]
    assert caret_line.strip() == "^"


def test_typing_error_from_inference_has_location_and_types():
    with pytest.raises(TypingError) as ei:
        bad_types[1, 1](np.zeros(2), 1.5)
    msg = str(ei.value)
    line = line_of(bad_types, "out[n] = 1")
    assert f"{THIS_FILE}:{line}:" in msg
    assert "indices must be integers" in msg
    assert "out[n] = 1" in msg and "^" in msg
    assert "float64" in msg                # the argument types are named
    assert ei.value.line == line


def test_malformed_trees_are_value_errors():
    from ember import _ember
    good = ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, []))
    _ember.compile_kernel(good, ["float32"], 0)
    bad_trees = [
        ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, [("load", 1, 0, 5)])),
        ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, [("bogus", 1, 0)])),
        ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, [("expr", 1, 0)])),
        ("function", "f", "f.py", True, ["a"], [], ("const", 1, 0, "bool", True)),
        ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, [("param", 1, 0, 0)])),
        ("function", "f", "f.py", True, ["a"], [],
         ("block", 1, 0, [("expr", 1, 0, ("binary", 1, 0, "plus", ("param", 1, 0, 0),
                                            ("param", 1, 0, 0)))])),
        ("function", "f", "f.py", True, ["a"], [],
         ("block", 1, 0, [("expr", 1, 0, ("const", 1, 0, "weak_int", 2**70))])),
        ("function", "f", "f.py", True, ["a"], [], ("block", 1, 0, "notalist")),
        ("function", "f"),
    ]
    for t in bad_trees:
        with pytest.raises(ValueError):
            _ember.compile_kernel(t, ["float32"], 0)
    with pytest.raises(ValueError):
        _ember.compile_kernel(good, ["float128"], 0)
    with pytest.raises(ValueError):
        _ember.compile_kernel(good, [("array", "float32", 0, "C", False)], 0)
    with pytest.raises(ValueError):
        _ember.compile_kernel(good, [], 0)



def test_malformed_function_names_are_value_errors():
    # The kernel's own header and each device function's are read alike.
    from ember import _ember
    empty = ("block", 1, 0, [])
    many = [f"a{i}" for i in range(300)]

    def kernel(names=(), slots=(), callees=None):
        t = ("function", "k", "f.py", True, list(names), list(slots), empty)
        return t if callees is None else t + (callees,)

    def device(names=(), slots=()):
        return ("function", "d", "f.py", False, list(names), list(slots), empty)

    cases = [
        (kernel(many), ["int64"] * 300, "too many parameters or local variables"),
        (("function", "k", "f.py", True, 5, [], empty), [], "param_names must be a list of str"),
        (kernel(slots=[3]), [], "slot_names must be a list of str"),
        (kernel(callees=[device(many)]), [], "too many parameters or local variables"),
        (kernel(callees=[device(names=[1])]), [], "param_names must be a list of str"),
        (kernel(callees=[device(slots=[3])]), [], "slot_names must be a list of str"),
    ]
    for tree, types, message in cases:
        with pytest.raises(ValueError, match=message):
            _ember.compile_kernel(tree, types, 0)
    _ember.compile_kernel(kernel(["a"], ["x"], [device(["p"], ["y"])]), ["int64"], 0)

@cuda.jit
def uses_any(out):
    out[0] = any(out)


@cuda.jit
def tuple_variable_index(out, i):
    t = (1, 2.5)   # items of two types: a variable index is refused (numba too)
    out[0] = t[i]


@pytest.mark.parametrize("kernel, marker, text", [
    (uses_any, "= any(out)", "builtin any() is not supported"),
    (tuple_variable_index, "t[i]", "constant integers"),
])
def test_more_unsupported_constructs(kernel, marker, text):
    with pytest.raises((UnsupportedError, TypingError)) as ei:
        kernel[1, 1](np.zeros(2), 0) if kernel is tuple_variable_index else \
            kernel[1, 1](np.zeros(2))
    msg = str(ei.value)
    assert f"{THIS_FILE}:{line_of(kernel, marker)}:" in msg and text in msg
    assert ei.value.line == line_of(kernel, marker)


@cuda.jit
def tuple_of_arrays(pair, scale):
    src, dst = pair
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] = src[i] * scale


def test_tuples_of_host_and_device_arrays():
    src = np.arange(10.0)
    dst = np.zeros(10)
    tuple_of_arrays[1, 16]((src, dst), 3.0)            # host arrays inside a tuple
    np.testing.assert_array_equal(dst, src * 3.0)
    d_dst = cuda.device_array(10)
    tuple_of_arrays[1, 16]((cuda.to_device(src), d_dst), 0.5)
    np.testing.assert_array_equal(d_dst.copy_to_host(), src * 0.5)
    mixed = np.zeros(10)
    tuple_of_arrays[1, 16]((cuda.to_device(src), mixed), 2.0)
    np.testing.assert_array_equal(mixed, src * 2.0)


@cuda.jit
def tuple_loops(out, t):
    total = 0.0
    for v in (1, 2.5, 4):                 # items of different types
        total += v
    for v in t:                          # a tuple argument
        if v < 0:
            continue
        if v > 100:
            break
        total += v * 10
    for a, b in ((1, 2), (3, 4)):        # unpacking each item
        total += a * b
    out[0] = total


def test_for_loops_over_tuples():
    out = np.zeros(1)
    tuple_loops[1, 1](out, (1.0, -5.0, 2.0, 1000.0, 7.0))
    assert out[0] == 1 + 2.5 + 4 + 10 + 20 + 2 + 12


@cuda.jit
def bit_intrinsics(x32, x64, out32, out64, f):
    i = cuda.grid(1)
    if i < x32.size:
        out32[i, 0] = cuda.popc(x32[i])
        out32[i, 1] = cuda.clz(x32[i])
        out32[i, 2] = cuda.ffs(x32[i])
        out32[i, 3] = cuda.brev(x32[i])
        out64[i, 0] = cuda.popc(x64[i])
        out64[i, 1] = cuda.clz(x64[i])
        out64[i, 2] = cuda.ffs(x64[i])
        out64[i, 3] = cuda.brev(x64[i])
        f[i] = cuda.fma(f[i], 2.0, 0.5) + cuda.selp(x32[i] > 5, 100.0, 0.0) + cuda.cbrt(27.0)


def test_bit_and_fma_intrinsics():
    x32 = np.array([0, 1, 6, 0x80000000, 0xFFFFFFFF, 12], np.uint32)
    x64 = np.array([0, 1, 6, 1 << 63, (1 << 64) - 1, 3 << 40], np.uint64)
    out32 = np.zeros((6, 4), np.uint32)
    out64 = np.zeros((6, 4), np.uint64)
    f = np.linspace(0, 1, 6)
    want_f = f * 2.0 + 0.5 + np.where(x32 > 5, 100.0, 0.0) + 3.0
    bit_intrinsics[1, 8](x32, x64, out32, out64, f)

    def ref(x, bits):
        b = format(int(x), f"0{bits}b")
        ffs = 0 if x == 0 else (int(x) & -int(x)).bit_length()
        return [b.count("1"), len(b) - len(b.lstrip("0")) if x else bits, ffs, int(b[::-1], 2)]

    np.testing.assert_array_equal(out32, [ref(v, 32) for v in x32])
    np.testing.assert_array_equal(out64, [ref(v, 64) for v in x64])
    np.testing.assert_allclose(f, want_f)
