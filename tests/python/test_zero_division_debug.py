"""Division by zero in kernels compiled with debug=True: numba's CUDA target
then uses Python's error model, so x / 0, x // 0 and x % 0 (integers, floats,
complex /) raise ZeroDivisionError at the launch, with numba's message, and
the thread that divided stops there. Without debug nothing is raised: floats
give NumPy's inf / nan (integers: unspecified, as numba).

Results of the threads that did not divide by zero are compared with the
same expressions evaluated by Python; kernels run on the cpu device (and a
GPU where there is one) and are compiled to PTX and checked by ptxas
(conftest.py).
"""

import operator

import numpy as np
import pytest

from ember import cuda

pytestmark = pytest.mark.usefixtures("kernel_device")

OPS = {"/": operator.truediv, "//": operator.floordiv, "%": operator.mod}


def numba_message(op, dtype):
    """numba's words (numba/cpython/numbers.py) for a zero divisor."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        return "complex division by zero"
    if op == "/":
        return "division by zero"
    if kind == "f":
        return "modulo by zero" if op == "%" else "division by zero"
    return "integer modulo by zero" if op == "%" else "integer division by zero"


def div(r, done, x, y):
    i = cuda.grid(1)
    if i < r.size:
        r[i] = y[i] / x[i]
        done[i] = 1     # not reached after a zero divisor (with debug)


def floordiv(r, done, x, y):
    i = cuda.grid(1)
    if i < r.size:
        r[i] = y[i] // x[i]
        done[i] = 1


def mod(r, done, x, y):
    i = cuda.grid(1)
    if i < r.size:
        r[i] = y[i] % x[i]
        done[i] = 1


KERNELS = {"/": div, "//": floordiv, "%": mod}


def make_kernel(op, debug=True):
    f = KERNELS[op]
    return cuda.jit(debug=True, opt=False)(f) if debug else cuda.jit(f)


CASES = [(op, dt) for op in OPS for dt in (np.int32, np.int64, np.uint32, np.float32,
                                            np.float64)] + [("/", np.complex128)]


@pytest.mark.parametrize("op, dtype", CASES)
def test_zero_divisor_raises_and_stops_the_thread(op, dtype):
    y = np.array([7, 9, 5, 8, 6], dtype=dtype)
    x = np.array([2, 4, 0, 3, 5], dtype=dtype)
    rtype = np.float64 if op == "/" and np.dtype(dtype).kind in "iu" else dtype
    r = np.zeros(5, dtype=rtype)
    done = np.zeros(5, dtype=np.int32)
    k = make_kernel(op)
    with pytest.raises(ZeroDivisionError) as info:
        k[1, 8](r, done, x, y)
    msg = str(info.value)
    assert msg.endswith(": " + numba_message(op, dtype))
    assert "tid=[2, 0, 0] ctaid=[0, 0, 0]" in msg and f"In function '{KERNELS[op].__name__}'" in msg
    # the thread that divided by zero wrote nothing more; the others finished
    assert r[2] == 0 and done[2] == 0
    for i in (0, 1, 3, 4):
        want = OPS[op](y[i].item(), x[i].item())
        assert done[i] == 1 and r[i] == np.array(want).astype(rtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_debug_floats_give_inf_and_nan(dtype):
    y = np.array([1, -1, 0, 5], dtype=dtype)
    x = np.zeros(4, dtype=dtype)
    for op, f in OPS.items():
        r = np.zeros(4, dtype=dtype)
        done = np.zeros(4, dtype=np.int32)
        make_kernel(op, debug=False)[1, 4](r, done, x, y)
        with np.errstate(all="ignore"):
            want = {"/": np.true_divide, "//": np.floor_divide, "%": np.remainder}[op](y, x)
        np.testing.assert_array_equal(r, want, err_msg=op)
        assert done.all()


def test_augmented_assignment_and_device_function():
    @cuda.jit(device=True)
    def mod(a, b):
        return a % b

    @cuda.jit(debug=True, opt=False)
    def k(r, x):
        i = cuda.grid(1)
        v = r[i]
        v //= x[i]
        r[i] = v + mod(10, x[i] + 1)

    x = np.array([3, 0, 2], dtype=np.int64)
    r = np.array([9, 9, 9], dtype=np.int64)
    with pytest.raises(ZeroDivisionError, match="tid=\\[1, 0, 0\\].*integer division by zero"):
        k[1, 3](r, x)
    # x = -1: 9 // -1 = -9 and 10 % 0 raises in the device function
    with pytest.raises(ZeroDivisionError, match="tid=\\[2, 0, 0\\].*integer modulo by zero"):
        k[1, 3](np.array([9, 9, 9]), np.array([3, 1, -1]))
    r = np.array([9, 9, 9], dtype=np.int64)
    x = np.array([3, 1, 2], dtype=np.int64)
    k[1, 3](r, x)
    assert list(r) == [9 // 3 + 10 % 4, 9 // 1 + 10 % 2, 9 // 2 + 10 % 3]


def test_a_thread_that_stops_before_a_barrier():
    @cuda.jit(debug=True, opt=False)
    def k(r, x):
        s = cuda.shared.array(4, np.float64)
        i = cuda.threadIdx.x
        s[i] = 1.0 / x[i]
        cuda.syncthreads()
        r[i] = s[i] * 2 + 1

    x = np.array([1.0, 2.0, 0.0, 4.0])
    r = np.zeros(4)
    with pytest.raises(ZeroDivisionError, match="tid=\\[2, 0, 0\\].*: division by zero"):
        k[1, 4](r, x)
    assert r[2] == 0
    for i in (0, 1, 3):
        assert r[i] == 1.0 / x[i] * 2 + 1
