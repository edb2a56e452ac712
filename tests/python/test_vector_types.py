"""CUDA vector types as numba-cuda has them: ``cuda.float32x4`` (alias
``cuda.float4``) ... ten base types with 1 to 4 elements, built from numbers
and smaller vectors, read with ``.x .y .z .w``. In kernels a vector is a
tuple of its base type. Results are compared with the elements computed in
Python; conftest compiles each kernel to PTX for ptxas too."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember._vector_types import ALIASES, BASES, VECTOR_TYPES
from ember.errors import TypingError


def test_names_and_aliases():
    assert len(VECTOR_TYPES) == 40
    assert cuda.float4 is cuda.float32x4 and cuda.double2 is cuda.float64x2
    assert cuda.short3 is cuda.int16x3 and cuda.uchar1 is cuda.uint8x1
    assert cuda.longlong4 is cuda.int64x4 and cuda.ulong2 is cuda.uint64x2
    assert cuda.float32x3.num_elements == 3 and "float3" in cuda.float32x3.aliases
    from ember.cuda import int32x4  # noqa: F401
    with pytest.raises(TypeError, match="only be used inside a kernel"):
        cuda.float32x2(1.0, 2.0)


@pytest.mark.parametrize("name", sorted(VECTOR_TYPES))
def test_construct_and_read(cpu_device, name):
    base, n = VECTOR_TYPES[name]
    vt = getattr(cuda, name)
    bt = getattr(ember.types, base)
    if n == 1:
        def body(res):
            v = vt(bt(7))
            res[0] = v.x
    elif n == 2:
        def body(res):
            v = vt(bt(7), 9)
            res[0], res[1] = v.x, v.y
    elif n == 3:
        def body(res):
            v = vt(bt(7), 9, 100.75)
            res[0], res[1], res[2] = v.x, v.y, v.z
    else:
        def body(res):
            v = vt(bt(7), 9, 100.75, 5)
            res[0], res[1], res[2], res[3] = v.x, v.y, v.z, v.w
    res = np.zeros(n, np.dtype(base))
    cuda.jit(body)[1, 1](res)
    want = np.array([7, 9, 100.75, 5][:n]).astype(np.dtype(base))  # the casts NumPy makes
    np.testing.assert_array_equal(res, want)


@pytest.mark.parametrize("base", ["float32", "int16", "uint64", "float64"])
def test_built_from_smaller_vectors(cpu_device, base):
    bt = getattr(ember.types, base)
    v1, v2, v3, v4 = (getattr(cuda, f"{base}x{n}") for n in (1, 2, 3, 4))

    @cuda.jit
    def k(res):
        one, two, three, four = bt(1), bt(2), bt(3), bt(4)
        a1 = v1(one)
        a2 = v2(two, a1)
        a3 = v3(a2, three)
        j = 0
        for v in (v2(a1, three), v2(a2)):
            res[j] = v.x
            res[j + 1] = v.y
            j += 2
        # (a variable keeps one type in ember: each loop has its own name)
        for u in (v3(one, a2), v3(a1, a1, four), v3(a3)):
            res[j] = u.x
            res[j + 1] = u.y
            res[j + 2] = u.z
            j += 3
        for w in (v4(a2, a2), v4(a3, four), v4(four, a3), v4(a1, a2, one),
                  v4(v2(three, four), a2), v4(a1, a1, a1, a1)):
            res[j] = w.x
            res[j + 1] = w.y
            res[j + 2] = w.z
            res[j + 3] = w.w
            j += 4

    res = np.zeros(37, np.dtype(base))
    k[1, 1](res)
    a1, a2, a3 = [1], [2, 1], [2, 1, 3]
    want = [[1, 3], a2, [1, 2, 1], [1, 1, 4], a3]
    want += [a2 + a2, a3 + [4], [4] + a3, a1 + a2 + [1], [3, 4] + a2, a1 * 4]
    np.testing.assert_array_equal(res, np.concatenate(want).astype(base))


def test_vectors_through_device_functions(cpu_device):
    @cuda.jit(device=True)
    def dot3(a, b):
        return a.x * b.x + a.y * b.y + a.z * b.z

    @cuda.jit(device=True)
    def scaled(v, s):
        return cuda.float32x3(v.x * s, v.y * s, v.z * s)

    @cuda.jit
    def k(xyz, out):
        i = cuda.grid(1)
        if i < out.size:
            p = cuda.float32x3(xyz[i, 0], xyz[i, 1], xyz[i, 2])
            q = scaled(p, 2.0)
            out[i] = dot3(p, q)

    xyz = np.random.default_rng(0).uniform(-1, 1, (100, 3)).astype(np.float32)
    out = np.zeros(100, np.float32)
    k[1, 128](xyz, out)
    q = xyz * np.float32(2.0)
    want = xyz[:, 0] * q[:, 0] + xyz[:, 1] * q[:, 1] + xyz[:, 2] * q[:, 2]
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_errors(cpu_device):
    @cuda.jit
    def too_few(res):
        v = cuda.float32x4(1.0, 2.0)
        res[0] = v.x

    @cuda.jit
    def no_w(res):
        v = cuda.int32x2(1, 2)
        res[0] = v.w

    with pytest.raises(TypingError, match=r"test_vector_types.py:\d+.*needs 4 elements.*2 given"):
        too_few[1, 1](np.zeros(1, np.float32))
    with pytest.raises(TypingError, match="a vector of 2 elements has no attribute 'w'"):
        no_w[1, 1](np.zeros(1, np.int32))
