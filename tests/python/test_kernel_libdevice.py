"""cuda.libdevice in kernels (numba.cuda.libdevice's names): each function
runs on the cpu device (libm or ember's own code) and compiles for CUDA
(libdevice's __nv_* through libNVVM, checked by ptxas in conftest.py);
results are compared with NumPy / Python's math on ordinary and edge values.
"""

import math

import numpy as np
import pytest

from ember import cuda
from ember.cuda import libdevice
from ember.cuda.libdevice import sinf
from ember.errors import TypingError, UnsupportedError

pytestmark = pytest.mark.usefixtures("kernel_device")

X = np.array([-2.5, -1.0, -0.25, 0.0, 0.3, 0.5, 1.0, 2.75, 10.0])

UNARY = {  # libdevice name: NumPy reference (float64 forms; the f forms in float32)
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "atan": np.arctan, "sinh": np.sinh,
    "tanh": np.tanh, "asinh": np.arcsinh, "exp": np.exp, "expm1": np.expm1, "exp2": np.exp2,
    "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "fabs": np.fabs, "cbrt": np.cbrt,
    "rint": np.rint, "erf": np.vectorize(math.erf), "erfc": np.vectorize(math.erfc),
    "exp10": lambda x: 10.0 ** x, "rsqrt": lambda x: 1 / np.sqrt(np.abs(x) + 1),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("single", [False, True])
def test_unary_float_functions(name, single):
    ld = name + "f" if single else name
    fn = getattr(libdevice, ld)
    ref = UNARY[name]
    dt = np.float32 if single else np.float64
    if name == "rsqrt":
        @cuda.jit
        def k(x, r):
            i = cuda.grid(1)
            if i < x.size:
                r[i] = fn(abs(x[i]) + 1)
    else:
        @cuda.jit
        def k(x, r):
            i = cuda.grid(1)
            if i < x.size:
                r[i] = fn(x[i])

    x = X.astype(dt)
    r = np.zeros_like(x)
    k[1, 16](x, r)
    want = ref(x.astype(np.float64))
    np.testing.assert_allclose(r, want, rtol=3e-6 if single else 1e-14, atol=1e-30)


def test_binary_tuple_integer_and_conversion_functions():
    @cuda.jit
    def k(x, y, r, n):
        i = cuda.grid(1)
        if i < x.size:
            r[i, 0] = libdevice.atan2(x[i], y[i])
            r[i, 1] = libdevice.hypotf(np.float32(x[i]), np.float32(y[i]))
            r[i, 2] = libdevice.fmax(x[i], y[i])
            s, c = libdevice.sincos(x[i])
            r[i, 3] = s * 10 + c
            m, e = libdevice.frexp(x[i])
            r[i, 4] = m * 100 + e
            r[i, 5] = libdevice.powi(x[i], 3)
            r[i, 6] = libdevice.fma(x[i], y[i], 1.0)
            r[i, 7] = sinf(np.float32(x[i]))
            r[i, 8] = libdevice.ldexp(x[i], 3)
            r[i, 9] = libdevice.saturatef(np.float32(x[i]))
            n[i, 0] = libdevice.popc(i + 5)
            n[i, 1] = libdevice.float2int_rz(np.float32(x[i] * 3))
            n[i, 2] = libdevice.signbitd(x[i])
            n[i, 3] = libdevice.isnand(x[i] / y[i])
            n[i, 4] = libdevice.max(i, 4) + libdevice.llabs(i - 7)
            n[i, 5] = libdevice.clz(i + 1)

    x = X.copy()
    y = np.array([1.0, 2.0, -0.5, 0.0, 0.25, -3.0, 4.0, 0.5, -1.0])
    r = np.zeros((x.size, 10))
    n = np.zeros((x.size, 6), dtype=np.int64)
    k[1, 16](x, y, r, n)
    fr = np.array([math.frexp(v) for v in x])
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    want = np.stack([np.arctan2(x, y), np.hypot(x32, y32), np.fmax(x, y),
                     np.sin(x) * 10 + np.cos(x), fr[:, 0] * 100 + fr[:, 1], x ** 3,
                     x * y + 1.0, np.sin(x32), x * 8, np.clip(x32, 0, 1)], axis=1)
    np.testing.assert_allclose(r, want, rtol=3e-7, atol=1e-30)
    i = np.arange(x.size)
    with np.errstate(all="ignore"):
        nan = np.isnan(x / y)
    want_n = np.stack([[bin(v + 5).count("1") for v in i], np.trunc(x32 * 3).astype(int),
                       np.signbit(x).astype(int), nan.astype(int),
                       np.maximum(i, 4) + np.abs(i - 7), [32 - int(v + 1).bit_length() for v in i]],
                      axis=1)
    np.testing.assert_array_equal(n, want_n)


def test_unsupported_libdevice_function_and_wrong_arity_name_the_line():
    @cuda.jit
    def k(r):
        r[0] = cuda.libdevice.j0(r[0])

    with pytest.raises(UnsupportedError, match=r"test_kernel_libdevice\.py:\d+:\d+: "
                                               r"cuda.libdevice.j0 is not supported"):
        k[1, 1](np.zeros(1))

    @cuda.jit
    def k2(r):
        r[0] = libdevice.sin(r[0], r[0])

    with pytest.raises(TypingError, match=r"test_kernel_libdevice\.py:\d+:\d+: "
                                          r"cuda.libdevice.sin\(\) takes 1 argument"):
        k2[1, 1](np.zeros(1))


def test_libdevice_names_are_kernel_only_on_the_host():
    with pytest.raises(TypeError, match="inside a kernel"):
        libdevice.sin(1.0)
    assert "sinf" in libdevice.__all__ and "fast_powf" in libdevice.__all__
