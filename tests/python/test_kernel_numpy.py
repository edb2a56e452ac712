"""NumPy in kernels and ember.jit functions (issue 13, "NumPy in kernels"):
ufuncs with an output array (`np.sin(x, r)`, `out=`), np.add & co., a global
NumPy array read in a kernel is frozen into it (numba's rule on the GPU; a
device-array global is refused), and shared/local array shapes that are
constant expressions (`(32 + 2, 32 + 2)`).

Results are compared with NumPy; kernels run on the cpu device (and a GPU
where there is one) and are compiled to PTX and checked by ptxas
(conftest.py).
"""

import numpy as np
import pytest

import ember
from ember import cuda, float32, int32
from ember.errors import TypingError, UnsupportedError

pytestmark = pytest.mark.usefixtures("kernel_device")

TILE = 32
HALO = 1
SHAPE = (4, 3)
TABLE = np.array([1.5, -2.0, 3.25, 8.0, 0.5], dtype=np.float64)
TABLE2D = np.arange(12, dtype=np.int32).reshape(3, 4)


# ---- ufuncs with an output array ---------------------------------------------

def test_ufunc_out_argument_in_jit():
    def f(x, r, s, t):
        np.sin(x, r)
        np.add(x, 1.5, out=s)
        np.power(x, 2.0, t[:])
        np.sqrt(x, out=(x,))
        return r

    x = np.linspace(0.0, 2.0, 7)
    r, s, t = np.zeros(7), np.zeros(7), np.zeros(7)
    xx = x.copy()
    got = ember.jit(f)(xx, r, s, t)
    np.testing.assert_allclose(r, np.sin(x), rtol=1e-15)
    np.testing.assert_allclose(got, np.sin(x), rtol=1e-15)
    np.testing.assert_allclose(s, x + 1.5, rtol=1e-15)
    np.testing.assert_allclose(t, x ** 2, rtol=1e-15)
    np.testing.assert_allclose(xx, np.sqrt(x), rtol=1e-15)


def test_ufunc_out_broadcasts_and_refuses_bad_shapes_as_numpy():
    @ember.jit
    def f(x, r):
        np.multiply(x, 2.0, r)

    r = np.zeros((3, 4))
    f(np.arange(4.0), r)
    np.testing.assert_array_equal(r, np.broadcast_to(np.arange(4.0) * 2, (3, 4)))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.arange(5.0), r)


def test_ufunc_out_in_kernels():
    @cuda.jit
    def k(x, r):
        i = cuda.grid(1)
        if i < x.size:
            np.cos(x[i], r[i:i + 1])
            np.subtract(r[i], 1.0, out=r[i:i + 1])

    x = np.linspace(-1.0, 1.0, 9)
    r = np.zeros(9)
    k[1, 16](x, r)
    np.testing.assert_allclose(r, np.cos(x) - 1.0, rtol=1e-14)


def test_numpy_binary_ufuncs_on_numbers():
    def f(a, b):
        return (np.add(a, b), np.subtract(a, b), np.multiply(a, b), np.divide(a, b),
                np.floor_divide(a, b), np.true_divide(a, b))

    for a, b in ((7, 2), (7.5, -2.0), (-9, 4)):
        got = ember.jit(f)(a, b)
        want = f(np.float64(a) if isinstance(a, float) else np.int64(a),
                 np.float64(b) if isinstance(b, float) else np.int64(b))
        np.testing.assert_allclose(got, want, rtol=1e-15)


def test_ufunc_out_as_a_value_is_refused_with_the_line():
    @ember.jit
    def f(x, r):
        y = np.sin(x, r)
        return y

    with pytest.raises(UnsupportedError, match=r"test_kernel_numpy\.py:\d+:\d+: np.sin\(\) "
                                               r"with an output array is supported as a "
                                               r"statement"):
        f(np.zeros(2), np.zeros(2))


# ---- global arrays are frozen --------------------------------------------------

def test_global_numpy_array_in_a_kernel_is_frozen():
    @cuda.jit
    def k(out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = TABLE[i] * 2.0 + TABLE2D[i % 3, i % 4] + TABLE.size

    out = np.zeros(5)
    k[1, 8](out)
    i = np.arange(5)
    np.testing.assert_array_equal(out, TABLE * 2.0 + TABLE2D[i % 3, i % 4] + TABLE.size)


def test_closure_array_in_a_kernel_is_frozen_at_compile_time():
    table = np.array([3, 1, 4, 1, 5], dtype=np.int64)

    @cuda.jit
    def k(out):
        i = cuda.grid(1)
        if i < out.size:
            out[i] = table[i]

    out = np.zeros(5, dtype=np.int64)
    k[1, 8](out)
    np.testing.assert_array_equal(out, [3, 1, 4, 1, 5])
    table[0] = 100            # numba freezes the values when it compiles
    k[1, 8](out)
    assert out[0] == 3


def test_frozen_global_array_is_read_only():
    @cuda.jit
    def k(out):
        TABLE[0] = 1.0

    with pytest.raises(TypingError, match=r"test_kernel_numpy\.py:\d+.*read-only"):
        k[1, 1](np.zeros(1))


def test_device_array_global_is_refused_with_a_clear_message():
    dev = cuda.to_device(np.arange(3.0))

    @cuda.jit
    def k(out):
        out[0] = dev[0]

    with pytest.raises(UnsupportedError, match=r"(?s)test_kernel_numpy\.py:\d+:\d+: .*device array"
                                               r".*pass the device array to the kernel as an "
                                               r"argument"):
        k[1, 1](np.zeros(1))


# ---- constant-expression shapes ------------------------------------------------

def test_shared_and_local_shapes_from_constant_expressions():
    @cuda.jit
    def k(out):
        tile = cuda.shared.array((TILE + 2 * HALO, TILE + 2), float32)
        loc = cuda.local.array(SHAPE[0] * 2 - 1, int32)
        loc2 = cuda.local.array((SHAPE[1] + 1, 1 << 2), np.float64)
        i = cuda.threadIdx.x
        tile[i, 0] = i
        loc[6] = 7
        loc2[3, 3] = 0.5
        cuda.syncthreads()
        out[i, 0] = tile[i, 0] + loc[6] + loc2[3, 3]
        out[i, 1] = tile.shape[0] * 1000 + tile.shape[1]
        out[i, 2] = loc.size + loc2.shape[0] * 10 + loc2.shape[1]

    out = np.zeros((4, 3))
    k[1, 4](out)
    want = np.stack([np.arange(4) + 7.5, np.full(4, 34 * 1000 + 34),
                     np.full(4, 7 + 40 + 4)], axis=1)
    np.testing.assert_array_equal(out, want)


def test_non_constant_shape_is_still_a_clear_error():
    @cuda.jit
    def k(out, n):
        s = cuda.local.array((n + 2, 2), float32)
        out[0] = s[0, 0]

    with pytest.raises(TypingError, match=r"test_kernel_numpy\.py:\d+:\d+: cuda.local.array: "
                                          r"the shape must be a constant"):
        k[1, 1](np.zeros(1), 3)
