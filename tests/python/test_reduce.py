"""cuda.Reduce / cuda.reduce against NumPy's reductions and functools.reduce
(the kernels are also compiled to PTX and checked by ptxas: conftest)."""

import numpy as np
import pytest

from ember import cuda

sum_reduce = cuda.Reduce(lambda a, b: a + b)


@cuda.reduce
def max_reduce(a, b):
    return max(a, b)


SIZES = [1, 15, 16, 17, 127, 128, 129, 511, 512, 513, 1023, 1024, 1025, 1536,
         34567, 262144, 262145, 1049728]


@pytest.mark.parametrize("n", SIZES)
def test_sum_matches_numpy(n):
    a = np.arange(n, dtype=np.float64) + 1   # exact in float64: any order
    assert sum_reduce(a) == a.sum()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.float32])
def test_max_any_dtype_host_and_device(dtype):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 100, 20001).astype(dtype)
    assert max_reduce(a) == a.max()
    got = max_reduce(cuda.to_device(a))
    assert got == a.max() and type(got) is np.dtype(dtype).type


def test_init_size_and_res():
    a = np.arange(1, 1001, dtype=np.int64)
    assert sum_reduce(a, init=10) == a.sum() + 10
    assert sum_reduce(a, size=7) == a[:7].sum()
    res = cuda.device_array(1, dtype=np.int64)
    assert sum_reduce(cuda.to_device(a), res=res, init=5) is None
    assert res.copy_to_host()[0] == a.sum() + 5


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.complex128, np.bool_])
def test_types_a_shuffle_cannot_move(dtype):
    a = (np.arange(3000) % 7 == 0).astype(dtype)
    if dtype is np.bool_:
        assert max_reduce(a) == True  # noqa: E712
    else:
        a = a * dtype(1)
        assert sum_reduce(a) == a.sum(dtype=dtype)


def test_empty_host_and_device():
    a = np.zeros(0)
    assert sum_reduce(a) == 0.0
    assert sum_reduce(cuda.to_device(a), init=3.5) == 3.5
    res = cuda.device_array(1)
    sum_reduce(cuda.to_device(a), res=res, init=2.0)
    assert res.copy_to_host()[0] == 2.0


def test_bad_input():
    with pytest.raises(TypeError, match="function of two arguments"):
        cuda.Reduce(3)
    with pytest.raises(ValueError, match="1-D"):
        sum_reduce(np.ones((2, 2)))
    with pytest.raises(ValueError, match="outside the array"):
        sum_reduce(np.ones(4), size=5)
