"""ember.extending: numba's pure-Python extension hooks `overload` (targets
generic, cpu, cuda) and `register_jitable`, in kernels (cpu device, PTX
checked by ptxas in conftest.py) and in ember.jit functions.

Like numba's numba/cuda/tests/cudapy/test_overload.py, each implementation
multiplies a value by its own prime, so the product says exactly which
implementations ran; the expected products are computed here by hand.
"""

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError
from ember.extending import overload, register_jitable

pytestmark = pytest.mark.usefixtures("kernel_device")

GENERIC, CUDA_ONLY, GENERIC_CALLS, TARGET_GENERIC, TARGET_CUDA, TARGET_CPU = 2, 3, 5, 7, 11, 13


def generic_func(x):
    pass


def cuda_func(x):
    pass


def generic_calls_target(x):
    pass


def target_overloaded(x):
    pass


def typed(x):
    pass


@overload(generic_func)
def ol_generic_func(x):
    def impl(x):
        x[0] *= GENERIC
    return impl


@overload(cuda_func, target="cuda")
def ol_cuda_func(x):
    def impl(x):
        x[0] *= CUDA_ONLY
    return impl


@overload(generic_calls_target, target="generic")
def ol_generic_calls_target(x):
    def impl(x):
        x[0] *= GENERIC_CALLS
        target_overloaded(x)
    return impl


@overload(target_overloaded, target="generic")
def ol_target_generic(x):
    def impl(x):
        x[0] *= TARGET_GENERIC
    return impl


@overload(target_overloaded, target="cuda")
def ol_target_cuda(x):
    def impl(x):
        x[0] *= TARGET_CUDA
    return impl


@overload(typed)
def ol_typed(x):
    if x is not None and str(x.dtype).startswith("float"):   # a float array: its own impl
        def impl(x):
            x[0] = x[0] * 0.5
        return impl
    return None


@register_jitable
def clip(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


def run_kernel(fn):
    x = np.ones(1, dtype=np.int64)
    cuda.jit(fn)[1, 1](x)
    return x[0]


def run_jit(fn):
    x = np.ones(1, dtype=np.int64)
    ember.jit(fn)(x)
    return x[0]


def test_generic_overload_in_kernels_and_jit():
    def k(x):
        generic_func(x)

    assert run_kernel(k) == GENERIC
    assert run_jit(k) == GENERIC


def test_cuda_overload_in_kernels_only():
    def k(x):
        cuda_func(x)

    assert run_kernel(k) == CUDA_ONLY
    with pytest.raises(TypingError, match=r"test_kernel_extending\.py:\d+:\d+: no @overload "
                                          r"implementation of cuda_func\(\) for target 'cpu'"):
        run_jit(k)


def test_target_specific_overload_wins_also_from_a_generic_implementation():
    def k(x):
        target_overloaded(x)
        generic_calls_target(x)

    assert run_kernel(k) == TARGET_CUDA * GENERIC_CALLS * TARGET_CUDA
    assert run_jit(k) == TARGET_GENERIC * GENERIC_CALLS * TARGET_GENERIC


def test_cpu_target_overload_in_jit():
    def only_cpu(x):
        pass

    @overload(only_cpu, target="cpu")
    def ol_only_cpu(x):
        def impl(x):
            x[0] *= TARGET_CPU
        return impl

    def k(x):
        only_cpu(x)

    assert run_jit(k) == TARGET_CPU


def test_typing_function_sees_parameter_types_and_may_refuse():
    @cuda.jit
    def k(x):
        typed(x)

    x = np.array([3.0])
    k[1, 1](x)
    assert x[0] == 1.5
    with pytest.raises(TypingError, match=r"no @overload implementation of typed\(\)"):
        k[1, 1](np.array([3], dtype=np.int64))


def test_register_jitable():
    @cuda.jit
    def k(a, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = clip(a[i], -1.0, 1.0)

    a = np.linspace(-3, 3, 7)
    out = np.zeros(7)
    k[1, 8](a, out)
    np.testing.assert_array_equal(out, np.clip(a, -1.0, 1.0))
    assert ember.jit(lambda_free_clip)(5) == 4 and clip(7, 0, 5) == 5  # still a Python function


def lambda_free_clip(v):
    return clip(v, 0, 4)


def test_register_jitable_with_options_and_bad_target():
    @register_jitable(inline="always")
    def twice(v):
        return 2 * v

    def f(v):
        return twice(v) + 1

    assert ember.jit(f)(20) == 41
    with pytest.raises(ValueError, match="target must be one of"):
        overload(twice, target="gpu")
