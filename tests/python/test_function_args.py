"""Functions as arguments: a device function (or @ember.jit function, math
function, builtin or operator) passed to a device function, to a kernel or
to an @ember.jit function, and called there.

numba types such an argument as the function's Dispatcher type, a
compile-time constant; ember does the same in its front end: the callee is
specialised once per function passed (a parameter bound to the function,
frontend.py static_params), so the call inside it is an ordinary direct
call on both targets. The parameter carries no data. An int (or tuple of
ints) constant passed where the callee needs a constant (a local or shared
array's shape) is bound the same way, one callee per value (numba's
literal dispatch; numba's test_atomics does both), and a bool constant
tested by `if flag:` builds only the branch it takes. Every kernel runs on
the cpu device and (kernel_device) on a GPU where there is one; conftest
also compiles each one to PTX and assembles it with ptxas. Results are
compared with NumPy.
"""

import math
import operator

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError, UnsupportedError

from conftest import run_python

pytestmark = pytest.mark.usefixtures("kernel_device")


@cuda.jit(device=True)
def square(x):
    return x * x


@cuda.jit(device=True)
def negate(x):
    return -x


@cuda.jit(device=True)
def apply(f, x):
    return f(x)


@cuda.jit(device=True)
def apply_twice(f, x):
    return apply(f, apply(f, x))   # the function passed on to another device function


@cuda.jit(device=True)
def compose(f, g, x):
    return f(g(x))


@cuda.jit(device=True)
def combine(op, a, b):
    return op(a, b)


@cuda.jit
def apply_all(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[0, i] = apply(square, x[i])
        out[1, i] = apply(negate, x[i])
        out[2, i] = apply_twice(square, x[i])
        out[3, i] = compose(negate, square, x[i])
        out[4, i] = apply(math.sqrt, x[i])
        out[5, i] = combine(operator.mul, x[i], 3.0)
        out[6, i] = combine(max, x[i], 2.0)
        out[7, i] = apply(f=negate, x=x[i] + 1.0)   # by keyword


def test_device_functions_passed_to_device_functions():
    x = np.linspace(0.0, 4.0, 37)
    out = np.zeros((8, x.size))
    apply_all[2, 32](x, out)
    ref = np.stack([x * x, -x, x ** 4, -(x * x), np.sqrt(x), x * 3.0, np.maximum(x, 2.0),
                    -(x + 1.0)])
    np.testing.assert_allclose(out, ref, rtol=1e-15)


@cuda.jit(device=True)
def reduce_with(op, a):
    acc = a[0]
    for j in range(1, a.size):
        acc = op(acc, a[j])
    return acc


@cuda.jit(device=True)
def add(a, b):
    return a + b


@cuda.jit(device=True)
def smaller(a, b):
    return a if a < b else b


@cuda.jit
def reductions(a, out):
    out[0] = reduce_with(add, a)
    out[1] = reduce_with(smaller, a)


def test_a_loop_calling_the_function_argument():
    a = np.random.default_rng(7).integers(-1000, 1000, 50).astype(np.int64)
    out = np.zeros(2, np.int64)
    reductions[1, 1](a, out)
    assert out.tolist() == [int(a.sum()), int(a.min())]


@cuda.jit(device=True)
def histogram_with(op, bins, values, k):
    op(bins, values[k] % bins.size, 1)     # cuda.atomic.add / max passed in


@cuda.jit(device=True)
def via_module(m, x):
    return m.sqrt(x) + m.pi               # a module passed in: its functions and constants


@cuda.jit
def atomics_and_modules(values, counts, maxes, roots):
    i = cuda.grid(1)
    if i < values.size:
        histogram_with(cuda.atomic.add, counts, values, i)
        histogram_with(cuda.atomic.max, maxes, values, i)
        roots[i] = via_module(math, values[i])


def test_intrinsics_and_modules_as_arguments():
    """numba's test_atomics passes cuda.atomic.add and friends to device
    functions; a module is a compile-time constant too."""
    values = np.random.default_rng(5).integers(0, 1000, 200).astype(np.int64)
    counts, maxes = np.zeros(7, np.int64), np.zeros(7, np.int64)
    roots = np.zeros(200)
    atomics_and_modules[4, 64](values, counts, maxes, roots)
    np.testing.assert_array_equal(counts, np.bincount(values % 7, minlength=7))
    np.testing.assert_array_equal(maxes, np.where(np.bincount(values % 7, minlength=7) > 0,
                                                  1, 0))
    np.testing.assert_allclose(roots, np.sqrt(values) + np.pi, rtol=1e-15)


from ember import float64, uint32  # noqa: E402


@cuda.jit(device=True)
def reverse_through_shared(ary, n, dt, shape):
    sm = cuda.shared.array(n, dt)              # n, dt, shape: the caller's constants
    loc = cuda.local.array(shape, dt)
    row = cuda.local.array(shape[1], dt)
    t = cuda.threadIdx.x
    if t < n:
        sm[t] = t + n
    cuda.syncthreads()
    if t < n:
        loc[0, 0] = shape[0]
        row[0] = 5
        ary[t] = sm[n - 1 - t] + loc[0, 0] + row[0] + row.size + loc.size


@cuda.jit
def constants_as_shapes(a, b, c):
    reverse_through_shared(a, 32, uint32, (4, 8))
    reverse_through_shared(b, 16, float64, (2, 3))
    reverse_through_shared(c, 16, float64, (2, 3))   # the same tree as b's


def test_constants_passed_as_array_shapes():
    a, b, c = np.zeros(32, np.uint32), np.zeros(16), np.zeros(16)
    constants_as_shapes[1, 32](a, b, c)

    def want(n, shape):
        t = np.arange(n)
        return (n - 1 - t) + n + shape[0] + 5 + shape[1] + shape[0] * shape[1]

    np.testing.assert_array_equal(a, want(32, (4, 8)))
    np.testing.assert_array_equal(b, want(16, (2, 3)))
    np.testing.assert_array_equal(c, b)


@cuda.jit(device=True)
def local_of(n):
    buf = cuda.local.array(n, float64)
    buf[0] = 1.0
    return buf[0]


@cuda.jit
def shape_from_a_value(x, out):
    out[0] = local_of(x.size)


@cuda.jit("int64(int64, int64)", device=True)
def recursive_with_a_shape(n, k):
    a = cuda.local.array(n, np.int64)
    a[0] = k
    if k <= 0:
        return a[0]
    return a[0] + recursive_with_a_shape(n, k - 1)


@cuda.jit
def calls_recursive_with_a_shape(out):
    out[0] = recursive_with_a_shape(4, 3)


def test_a_shape_that_is_no_constant_is_an_error():
    with pytest.raises(TypingError, match=r"cuda.local.array: the shape must be a constant"):
        shape_from_a_value[1, 1](np.zeros(3), np.zeros(1))
    # its recursive calls would share the tree built for the outer value
    with pytest.raises(UnsupportedError, match=r"recursive device function "
                       r"'recursive_with_a_shape' uses its parameter 'n' as a constant"):
        calls_recursive_with_a_shape[1, 1](np.zeros(1, np.int64))


@cuda.jit(device=True)
def flagged(a, i, wrap):
    j = (i, np.uint64(0))
    if wrap:
        j = (i - a.shape[0], j[1] - a.shape[1])   # uint64 - int64: float64, no index
    return a[j]


@cuda.jit
def bool_constants(a, out):
    out[0] = flagged(a, 1, False)     # the `if wrap:` branch is not built


def test_a_bool_constant_prunes_the_branch_it_guards():
    """numba types a callee again with its constant arguments when typing
    fails, pruning `if flag:` (its test_atomics' neg_idx); ember builds only
    the branch a bool constant takes."""
    a = np.arange(6.0).reshape(3, 2)
    out = np.zeros(1)
    bool_constants[1, 1](a, out)
    assert out[0] == a[1, 0]

    @cuda.jit
    def takes_the_bad_branch(a, out):
        out[0] = flagged(a, 1, True)

    with pytest.raises(TypingError, match="indices must be integers"):
        takes_the_bad_branch[1, 1](a, out)


# --- as kernel arguments: one specialisation per function ------------------

@cuda.jit
def map_kernel(f, x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = f(x[i])


def test_a_function_as_a_kernel_argument():
    x = np.arange(-5, 20, dtype=np.float32)
    out = np.zeros_like(x)
    map_kernel[1, 32](square, x, out)
    np.testing.assert_array_equal(out, x * x)
    map_kernel[1, 32](negate, x, out)
    np.testing.assert_array_equal(out, -x)
    sigs = map_kernel.signatures
    assert len(sigs) == 2 and {s[0][1] for s in sigs} == {square, negate}
    assert str(ember.typeof(square)) == "Dispatcher(square)"
    assert ember.typeof(square) != ember.typeof(negate)


@ember.jit
def jit_cube(x):
    return x * x * x


@ember.jit
def jit_apply(f, x):
    return f(x)


@ember.jit
def jit_caller(x):
    return jit_apply(jit_cube, x) + jit_apply(jit_cube, 2 * x)


def test_jit_functions_passed_to_jit_functions():
    assert jit_apply(jit_cube, 3.0) == 27.0
    assert jit_apply(jit_cube, 4) == 64
    assert jit_caller(1.5) == 1.5 ** 3 + 3.0 ** 3
    # a device function is also a function an ember.jit function can call
    assert jit_apply(square, 1.25) == 1.5625
    a = np.arange(6.0)
    assert jit_apply(jit_cube, a).tolist() == (a ** 3).tolist()


@cuda.jit
def kernel_calls_jit(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = apply(jit_cube, x[i])


def test_a_jit_function_passed_in_a_kernel():
    x = np.arange(10, dtype=np.int32)
    out = np.zeros_like(x)
    kernel_calls_jit[1, 16](x, out)
    np.testing.assert_array_equal(out, x ** 3)


# --- errors ----------------------------------------------------------------

@cuda.jit(device=True)
def returns_its_argument(f):
    return f


@cuda.jit
def uses_a_function_as_a_value(out):
    out[0] = returns_its_argument(square)


@cuda.jit
def passes_a_kernel(out):
    out[0] = apply(map_kernel, 1.0)


def test_errors():
    with pytest.raises(TypingError, match=r"'f' is a function and cannot be used as a value"
                       r"(.|\n)*returns_its_argument"):
        uses_a_function_as_a_value[1, 1](np.zeros(1))
    with pytest.raises(UnsupportedError, match="calling the kernel 'map_kernel' from a kernel"):
        passes_a_kernel[1, 1](np.zeros(1))
    with pytest.raises(TypeError, match=r"argument 1 \('f'\)\[0\]: a function inside a tuple"):
        map_kernel[1, 1]((square,), np.zeros(1), np.zeros(1))
    with pytest.raises(TypingError, match=r"a function inside a tuple"):
        jit_apply((jit_cube,), 1.0)


def test_a_function_argument_launched_through_the_cuda_driver(fake_cuda_lib, nvvm, tmp_path):
    """On a CUDA device (the fake driver): the function argument takes no
    bytes of the packed arguments; the array's pointer, shape, stride follow."""
    script = tmp_path / "fn.py"
    script.write_text(r'''
import ctypes, os, struct
import numpy as np
from ember import cuda
fake = ctypes.CDLL(os.environ["EMBER_CUDA_DRIVER"])
params = ctypes.create_string_buffer(4096)
size = ctypes.c_size_t()

@cuda.jit(device=True)
def twice(v):
    return 2 * v

@cuda.jit
def k(f, x):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = f(x[i])

cuda.select_device(0)
x = cuda.to_device(np.arange(8, dtype=np.float32))
k[1, 8](twice, x)
dims = (ctypes.c_uint * 7)()
fake.fake_cuda_last_launch(dims, ctypes.byref(ctypes.c_void_p()), params,
                           ctypes.c_size_t(4096), ctypes.byref(size),
                           ctypes.create_string_buffer(256), ctypes.c_size_t(256))
assert struct.unpack("<3q", params.raw[:size.value]) == (x.device_pointer, 8, 4)
(sig, kern), = k.overloads.items()
assert sig[0] == ("function", twice) and kern.target[0] == "cuda"
print("ok")
''')
    proc = run_python(script.read_text(), {"EMBER_CUDA_DRIVER": fake_cuda_lib,
                                           "FAKE_CUDA_DEVICES": "1"})
    assert proc.stdout.strip().endswith("ok")
