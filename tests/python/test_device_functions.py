"""Device functions (@cuda.jit(device=True)) called from kernels on the cpu
device, compared with NumPy.

Device functions are specialised on the argument types at each call and
compiled into the calling kernel; array parameters they store into count as
written by the kernel (host arrays are copied back only then). The kernels
live at module level: the front end reads their source.
"""

import math

import numpy as np
import pytest

from ember import cuda, runtime
from ember.errors import TypingError

THIS_FILE = __file__


# Every kernel runs on the cpu device and, where there is one, on a CUDA GPU
# (conftest.kernel_device); both are compared with NumPy.
pytestmark = pytest.mark.usefixtures("kernel_device")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- the seed's example: a device function returning a tuple ---------------

@cuda.jit(device=True)
def polar_to_cartesian(rho, theta):
    x = rho * math.cos(theta)
    y = rho * math.sin(theta)
    return x, y


@cuda.jit
def polar_distance(rho1, theta1, rho2, theta2, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        x1, y1 = polar_to_cartesian(rho1[i], theta1[i])
        x2, y2 = polar_to_cartesian(rho2[i], theta2[i])
        out[i] = ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5


def test_polar_distance(rng):
    n = 1000
    rho1, rho2 = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
    theta1, theta2 = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 2 * np.pi, n)
    out = np.zeros(n)
    polar_distance[(n + 127) // 128, 128](rho1, theta1, rho2, theta2, out)
    ref = np.hypot(rho1 * np.cos(theta1) - rho2 * np.cos(theta2),
                   rho1 * np.sin(theta1) - rho2 * np.sin(theta2))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


# --- device functions calling device functions -----------------------------

@cuda.jit(device=True)
def square(x):
    return x * x


@cuda.jit(device=True)
def norm2(x, y):
    return math.sqrt(square(x) + square(y))


@cuda.jit
def norms(xs, ys, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = norm2(xs[i], ys[i])


def test_nested_device_functions(rng):
    x, y = rng.standard_normal(300), rng.standard_normal(300)
    out = np.zeros(300)
    norms[3, 128](x, y, out)
    np.testing.assert_allclose(out, np.hypot(x, y), rtol=1e-13)


# --- specialisation per argument types -------------------------------------

@cuda.jit(device=True)
def scaled(v):
    return v * 3.0  # a weak literal: float32 stays float32 (NEP 50)


@cuda.jit(device=True)
def halve_int(v):
    return v // 2


@cuda.jit
def spec_kernel(a32, a64, out32, out64, ints, iout):
    i = cuda.grid(1)
    if i < a32.size:
        r32 = scaled(a32[i])
        r64 = scaled(a64[i])
        out32[i] = r32
        out64[i] = r64
        iout[i] = halve_int(ints[i])


def test_specialisation_float32_float64(rng):
    n = 100
    a32 = rng.standard_normal(n).astype(np.float32)
    a64 = rng.standard_normal(n)
    out32, out64 = np.zeros(n, np.float32), np.zeros(n)
    ints, iout = rng.integers(-100, 100, n), np.zeros(n, np.int64)
    spec_kernel[1, 128](a32, a64, out32, out64, ints, iout)
    np.testing.assert_array_equal(out32, a32 * np.float32(3.0))
    np.testing.assert_array_equal(out64, a64 * 3.0)
    np.testing.assert_array_equal(iout, ints // 2)
    ir = next(iter(spec_kernel.inspect_ir().values()))
    assert "call scaled :: float32" in ir and "call scaled :: float64" in ir
    assert "call halve_int :: int64" in ir


# --- arrays written inside a device function --------------------------------

@cuda.jit(device=True)
def put(arr, i, v):
    arr[i] = v


@cuda.jit
def copy_through(src, dst):
    i = cuda.grid(1)
    if i < src.size:
        put(dst, i, src[i] + 1.0)


def test_array_written_in_device_function_is_known_written(rng):
    src = rng.standard_normal(512)
    dst = np.zeros(512)
    copy_through[2, 256](src, dst)      # compile first
    dst[:] = 0
    runtime.reset_stats()
    copy_through[2, 256](src, dst)
    s = runtime.stats()
    assert s["htod_copies"] == 0 and s["dtoh_copies"] == 0   # the CPU device: in place
    copy_through[2, 256](dst, dst)      # the written dst overlaps src: copied in and back
    s = runtime.stats()
    assert s["htod_bytes"] == 512 * 8 and s["dtoh_bytes"] == 512 * 8
    np.testing.assert_array_equal(dst, (src + 1.0) + 1.0)
    k = next(iter(copy_through.overloads.values()))
    assert k.param_written == (False, True)


# --- early return ------------------------------------------------------------

@cuda.jit(device=True)
def first_negative(a):
    for j in range(a.size):
        if a[j] < 0:
            return j
    return -1


@cuda.jit(device=True)
def sign(x):
    if x > 0:
        return 1
    elif x < 0:
        return -1
    return 0


@cuda.jit(device=True)
def row_first_negative(m, i):
    for j in range(m.shape[1]):
        if m[i, j] < 0:
            return j
    return -1


@cuda.jit
def early_kernel(m, out, xs, signs):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = row_first_negative(m, i)
    if i < xs.size:
        s = sign(xs[i])
        signs[i] = s * 10 + sign(-xs[i])   # the thread goes on after the callee returns


def test_early_return(rng):
    m = rng.standard_normal((64, 8))
    m[m[:, 0] < 0, 0] = 1.0
    m[::5] = np.abs(m[::5])            # rows without a negative value
    out = np.zeros(64, np.int64)
    xs = np.array([-2.0, 0.0, 3.5] * 20)
    signs = np.zeros(xs.size, np.int64)
    early_kernel[1, 64](m, out, xs, signs)
    ref = np.array([np.argmax(r < 0) if (r < 0).any() else -1 for r in m])
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(signs, np.sign(xs).astype(np.int64) * 10 - np.sign(xs))


# --- thread indices inside a device function -----------------------------------

@cuda.jit(device=True)
def my_index():
    return cuda.threadIdx.x + cuda.blockIdx.x * cuda.blockDim.x


@cuda.jit
def index_kernel(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = my_index()


def test_thread_index_in_device_function():
    out = np.zeros(300, np.int64)
    index_kernel[3, 128](out)
    np.testing.assert_array_equal(out, np.arange(300))


# --- tuples and arrays as arguments and results ------------------------------

@cuda.jit(device=True)
def pick(a, b, t):
    x, y = t                       # a tuple parameter: its length comes with the call
    return a if t[0] > y else b    # returns one of the arrays


@cuda.jit
def pick_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.size:
        arr = pick(a, b, (i, 5))
        out[i] = arr[i]


def test_tuple_params_and_array_results():
    a, b = np.arange(10.0), -np.arange(10.0)
    out = np.zeros(10)
    pick_kernel[1, 16](a, b, out)
    np.testing.assert_array_equal(out, np.where(np.arange(10) > 5, a, b))
    k = next(iter(pick_kernel.overloads.values()))
    assert k.param_written == (False, False, True)


# --- defaults and keyword arguments --------------------------------------------

@cuda.jit(device=True)
def clamp(x, lo=0.0, hi=1.0):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@cuda.jit
def clamp_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = clamp(x[i], hi=0.5) + clamp(x[i], -1.0)


def test_defaults_and_keywords():
    x = np.linspace(-2, 2, 41)
    out = np.zeros_like(x)
    clamp_kernel[1, 64](x, out)
    np.testing.assert_allclose(out, np.clip(x, 0, 0.5) + np.clip(x, -1, 1))


# --- errors ----------------------------------------------------------------

def plain_helper(x):
    return x + 1


@cuda.jit
def calls_plain(out):
    out[0] = plain_helper(1.0)


@cuda.jit(device=True)
def countdown(n):
    if n <= 0:
        return 0
    return countdown(n - 1)


@cuda.jit
def calls_recursive(out):
    out[0] = countdown(3)


@cuda.jit(device=True)
def no_value(a):
    a[0] = 1.0


@cuda.jit
def uses_no_value(out):
    out[1] = no_value(out)


@cuda.jit(device=True)
def bad_inside(x):
    return x[0]


@cuda.jit
def calls_bad_inside(out):
    out[0] = bad_inside(1.5)


def test_plain_python_function_hint():
    with pytest.raises(Exception, match=r"decorate `plain_helper` with @cuda.jit\(device=True\)"):
        calls_plain[1, 1](np.zeros(1))


def test_device_function_called_from_host():
    with pytest.raises(TypeError, match="device functions can only be called from kernels "
                                        "or other device functions"):
        square(2.0)
    assert square.py_func(3.0) == 9.0


def test_recursion_without_signature_is_typed_by_its_base_case():
    # numba's rule: the recursive call returns what `return 0` gives (more
    # in test_recursion_implicit.py)
    def countdown_py(n):
        return 0 if n <= 0 else countdown_py(n - 1)
    out = np.full(1, 7.0)
    calls_recursive[1, 1](out)
    assert out[0] == countdown_py(3)


def test_result_of_function_without_return_value():
    with pytest.raises(TypingError, match="'no_value' returns nothing"):
        uses_no_value[1, 1](np.zeros(2))


def test_error_inside_device_function_is_located():
    with pytest.raises(TypingError) as ei:
        calls_bad_inside[1, 1](np.zeros(1))
    e = ei.value
    line = bad_inside.py_func.__code__.co_firstlineno + 2
    assert e.line == line
    msg = str(e)
    assert f"{THIS_FILE}:{line}:" in msg
    assert "in device function 'bad_inside' called from" in msg
    assert "return x[0]" in msg


def test_lambda_as_device_function():
    import numpy as np
    from ember import cuda
    from ember.errors import UnsupportedError

    square = cuda.jit(device=True)(lambda v: v * v)

    @cuda.jit
    def k(a):
        i = cuda.grid(1)
        if i < a.size:
            a[i] = square(a[i])

    a = np.arange(10.0)
    k[1, 32](a)
    np.testing.assert_array_equal(a, np.arange(10.0) ** 2)

    pair = (lambda v: v + 1, lambda v: v + 2)
    twins = cuda.jit(device=True)(pair[1])

    @cuda.jit
    def k2(a):
        a[0] = twins(a[0])

    import pytest
    with pytest.raises(UnsupportedError, match="2 lambdas with the same parameters"):
        k2[1, 1](a)
