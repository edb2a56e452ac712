"""Types are values: numba-cuda's ``from numba.cuda import float32, types``,
type objects passed to device functions and used as dtypes and casts in
kernels, and the NumPy dtype conversions both ways (``from_dtype``,
``as_dtype``, ``ember.np.numpy_support``). Kernels run on the CPU device and
are compared with NumPy; conftest also compiles each one to PTX for ptxas."""

import numpy as np
import pytest

import ember
from ember import cuda
from ember.errors import TypingError


def test_cuda_exports_types():
    from ember.cuda import float32, int32, void, types
    assert float32 is ember.types.float32 and int32 is ember.types.int32
    assert void is ember.types.void and types is ember.types
    assert cuda.float64 is ember.float64 and cuda.types.uint8 is ember.uint8


def test_scalar_type_called_with_a_value_converts_on_the_host():
    from ember.cuda import float32, int16
    v = float32(1.1)
    assert type(v) is np.float32 and v == np.float32(1.1)
    assert type(int16(-3)) is np.int16 and int16(-3) == -3
    sig = float32(int16, float32)   # types still make a signature
    assert str(sig) == "float32(int16, float32)"


@pytest.mark.parametrize("dt", ["bool", "int8", "int16", "int32", "int64", "uint8",
                                "uint16", "uint32", "uint64", "float32", "float64",
                                "complex64", "complex128"])
def test_from_dtype_as_dtype_round_trip(dt):
    from ember.np import numpy_support
    ty = ember.from_dtype(np.dtype(dt))
    assert ty is numpy_support.from_dtype(getattr(np, dt + ("_" if dt == "bool" else "")))
    assert numpy_support.as_dtype(ty) == np.dtype(dt)
    assert ember.as_dtype(ty[:, ::1]) == np.dtype(dt)


def test_from_dtype_errors():
    with pytest.raises(TypeError, match="no type for the dtype"):
        ember.from_dtype(np.dtype(">f8"))
    with pytest.raises(TypeError, match="no type for the dtype"):
        ember.from_dtype(np.dtype("M8[s]"))
    # NumPy strings have numba's char-sequence types (kernels store constants
    # into them: test_strings.py)
    assert str(ember.from_dtype(np.dtype("U3"))) == "[unichr x 3]"
    assert str(ember.from_dtype(np.dtype("S5"))) == "[char x 5]"
    with pytest.raises(TypeError, match="not a NumPy dtype"):
        ember.from_dtype("no such dtype")
    with pytest.raises(TypeError, match="has no NumPy dtype"):
        ember.as_dtype(ember.void)


@cuda.jit(device=True)
def _convert(x, ty):
    return ty(x)


@cuda.jit(device=True)
def _scratch_sum(x, ty):
    a = cuda.local.array(3, ty)
    for j in range(3):
        a[j] = x * (j + 1)
    return a[0] + a[1] + a[2]


def test_types_as_values_in_kernels(cpu_device):
    from ember.cuda import float32, int32, types

    @cuda.jit
    def k(x, out_f, out_i, out_l, out_n):
        i = cuda.grid(1)
        if i < x.size:
            scratch = cuda.local.array(2, float32)
            scratch[0] = float32(x[i]) * types.float64(0.5)
            out_f[i] = scratch[0]
            out_i[i] = _convert(x[i], int32)            # a type as an argument
            out_l[i] = _scratch_sum(x[i], types.int64)  # ... used as a dtype there
            out_n[i] = _convert(x[i], np.uint8)         # NumPy classes are types too

    x = np.array([0.5, 1.7, -2.5, 3.9, 255.2, 7.25])
    outs = [np.zeros(x.size, dt) for dt in (np.float32, np.int32, np.int64, np.uint8)]
    k[1, 8](x, *outs)
    np.testing.assert_array_equal(outs[0], x.astype(np.float32) * np.float32(0.5))
    np.testing.assert_array_equal(outs[1], x.astype(np.int32))
    np.testing.assert_array_equal(outs[2], sum((x * j).astype(np.int64) for j in (1, 2, 3)))
    pos = x >= 0  # float to uint8 of a negative number is undefined (C, CUDA)
    np.testing.assert_array_equal(outs[3][pos], x[pos].astype(np.uint8))


def test_one_device_function_two_types(cpu_device):
    @cuda.jit
    def k(x, a, b):
        i = cuda.grid(1)
        if i < x.size:
            a[i] = _convert(x[i], np.float32) + 0.25
            b[i] = _convert(x[i], np.int16) + 1

    x = np.array([1.6, -2.2, 40000.0])
    a = np.zeros(3, np.float64)
    b = np.zeros(3, np.int64)
    k[1, 4](x, a, b)
    np.testing.assert_array_equal(a, x.astype(np.float32).astype(np.float64) + 0.25)
    np.testing.assert_array_equal(b[:2], x[:2].astype(np.int16) + 1)


def test_a_type_is_not_a_number(cpu_device):
    from ember.cuda import float32

    @cuda.jit
    def k(out):
        out[0] = float32 + 1

    with pytest.raises(TypingError, match=r"test_types_values.py:\d+"):
        k[1, 1](np.zeros(1))


def test_complex_types_name_their_part_type():
    from ember import types
    assert types.complex64.underlying_float is types.float32
    assert types.complex128.underlying_float is types.float64
    assert np.dtype(str(types.complex64.underlying_float)) == np.empty(0, np.complex64).real.dtype
    with pytest.raises(AttributeError, match="float32 is not a complex type"):
        types.float32.underlying_float


def test_c_type_names_as_numba_sizes_them():
    import ctypes
    sizes = {"byte": (1, "u"), "char": (1, "i"), "uchar": (1, "u"), "short": (2, "i"),
             "ushort": (2, "u"), "intc": (ctypes.sizeof(ctypes.c_int), "i"),
             "uintc": (ctypes.sizeof(ctypes.c_uint), "u"), "long_": (8, "i"),
             "ulong": (8, "u"), "longlong": (8, "i"), "ulonglong": (8, "u"),
             "int_": (8, "i"), "uint": (8, "u"), "ssize_t": (ctypes.sizeof(ctypes.c_ssize_t), "i"),
             "size_t": (ctypes.sizeof(ctypes.c_size_t), "u"), "float_": (4, "f"),
             "double": (8, "f")}
    for name, (size, kind) in sizes.items():
        t = getattr(ember, name)
        assert t is getattr(ember.types, name)
        dt = np.dtype(str(t))
        assert (dt.itemsize, dt.kind) == (size, kind), name

    @cuda.jit
    def k(out, x):
        out[0] = ember.double(x) / 3

    out = np.zeros(1)
    k[1, 1](out, 2)
    assert out[0] == 2 / 3
