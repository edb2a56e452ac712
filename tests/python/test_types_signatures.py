"""ember.types, signature strings, eager compilation (``@cuda.jit(sig)``),
numba's no-matching-definition rule with layout casts, and inspect_types."""

import io
import math

import numpy as np
import pytest

import ember
from ember import cuda, types
from ember.errors import TypingError
from ember.types import (Array, Tuple, UniTuple, float32, float64, int32, int64,
                         parse_signature, void)


@pytest.fixture(autouse=True)
def on_cpu_device():
    from ember.cuda import _devices
    saved = _devices._state.key()
    _devices._state.set(("cpu", 0))
    yield
    _devices._state.set(saved)


# ---------------------------------------------------------------------------
# type objects
# ---------------------------------------------------------------------------

def test_exports():
    from ember import float32 as f, void as v
    assert f is float32 and v is void
    assert ember.float32 is types.float32 and ember.void is types.void
    assert ember.types.f4 is float32 and ember.types.i8 is int64
    assert ember.intp is int64 and ember.bool_ is ember.boolean


@pytest.mark.parametrize("ty, text, desc", [
    (float32[:], "float32[:]", ("array", "float32", 1, "A", False)),
    (float32[::1], "float32[::1]", ("array", "float32", 1, "C", False)),
    (float64[:, ::1], "float64[:, ::1]", ("array", "float64", 2, "C", False)),
    (float64[::1, :], "float64[::1, :]", ("array", "float64", 2, "F", False)),
    (int32[:, :, :], "int32[:, :, :]", ("array", "int32", 3, "A", False)),
    (int32[:, :, :, ::1], "int32[:, :, :, ::1]", ("array", "int32", 4, "C", False)),
])
def test_array_types_by_slicing(ty, text, desc):
    assert str(ty) == text
    assert ty.descriptor() == desc
    assert ty == Array(ty.dtype, ty.ndim, ty.layout)
    assert hash(ty) == hash(Array(ty.dtype, ty.ndim, ty.layout))


def test_bad_slices():
    with pytest.raises(TypeError, match="::1"):
        float32[::2]
    with pytest.raises(TypeError, match="only the last"):
        float32[:, ::1, :]


def test_scalars_tuples_signatures():
    assert float32.descriptor() == "float32" and ember.boolean.descriptor() == "bool"
    assert str(ember.complex64) == "complex64"
    assert Array(float32, 2, "C", readonly=True).descriptor() == \
        ("array", "float32", 2, "C", True)
    assert UniTuple(int64, 3).descriptor() == ("tuple", ("int64", "int64", "int64"))
    assert Tuple([int64, float32]).descriptor() == ("tuple", ("int64", "float32"))
    sig = void(float32[::1], float32)
    assert sig.return_type is void and sig.args == (float32[::1], float32)
    assert sig.descriptors() == (("array", "float32", 1, "C", False), "float32")
    assert float64(float64, float64).return_type is float64
    with pytest.raises(TypeError):
        void(float32, 3)


def test_typeof():
    assert ember.typeof(1.5) == float64
    assert ember.typeof(np.float32(1)) == float32
    assert ember.typeof(np.zeros((2, 3), np.float32)) == float32[:, ::1]
    assert ember.typeof(np.zeros((2, 3), order="F")) == float64[::1, :]
    assert ember.typeof((1, 2)) == UniTuple(int64, 2)


# ---------------------------------------------------------------------------
# signature strings
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, ret, args", [
    ("void(float32[::1], float32)", void, (float32[::1], float32)),
    ("float32(float32, float32, float32)", float32, (float32,) * 3),
    ("(float32[:], int64)", None, (float32[:], int64)),
    ("void(f4[:, ::1], f8[::1, :], i4, i8)", void,
     (float32[:, ::1], float64[::1, :], int32, int64)),
    ("  void ( float32 [ : , :: 1 ] , ) ", void, (float32[:, ::1],)),
    ("void()", void, ()),
    ("void(UniTuple(i8, 2), (f4, i4))", void, (UniTuple(int64, 2), Tuple([float32, int32]))),
])
def test_parse(text, ret, args):
    sig = parse_signature(text)
    assert sig.return_type == ret if ret is not None else sig.return_type is None
    assert sig.args == args


@pytest.mark.parametrize("text, pos, expected", [
    ("void(float32[:::1])", 15, "expected '1' after '::'"),
    ("void(float33)", 5, "unknown name 'float33'"),
    ("void(float32", 12, "expected ',' or ')'"),
    ("float32 float32", 8, "expected '('"),
    ("void(float32) x", 14, "expected the end of the signature"),
    ("void(float32[:, ::1, :])", 12, "only the last"),
    ("void(void)", 5, "only a return type may be void"),
    ("void(float32[1])", 13, "expected ':' or '::1'"),
    ("void(float32 $)", 13, "unexpected character '$'"),
    ("", 0, "expected a type name"),
])
def test_parse_errors(text, pos, expected):
    with pytest.raises(TypeError) as info:
        parse_signature(text)
    msg = str(info.value)
    assert f"at position {pos}" in msg and expected in msg


def test_parser_does_not_eval():
    with pytest.raises(TypeError):
        parse_signature("__import__('os')")


# ---------------------------------------------------------------------------
# eager compilation
# ---------------------------------------------------------------------------

@cuda.jit("void(float32[::1], float32)")
def add_scalar(a, v):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += v


@cuda.jit([void(float32[:], float32), "void(float64[:], float64)"])
def scale(a, v):
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] *= v


@cuda.jit("void(float64[:, :], float64)")
def scale2(a, v):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        a[i, j] *= v


def test_eager_compiled_at_decoration():
    assert add_scalar.signatures == [(("array", "float32", 1, "C", False), "float32")]
    assert len(scale.overloads) == 2
    a = np.arange(8, dtype=np.float32)
    add_scalar[1, 8](a, 1.5)             # a Python float converts to float32
    np.testing.assert_array_equal(a, np.arange(8, dtype=np.float32) + 1.5)
    assert len(add_scalar.overloads) == 1


def test_no_matching_definition():
    a = np.arange(8, dtype=np.float64)
    with pytest.raises(TypeError, match=r"No matching definition for argument type\(s\) "
                       r"float64\[::1\], float64") as ei:
        add_scalar[1, 8](a, 1.0)
    assert "(kernel add_scalar); its signatures are:\n    (" in str(ei.value)
    assert len(add_scalar.overloads) == 1     # no lazy compilation


def test_layout_matching():
    # a C-contiguous array matches a [:] (A) signature
    a = np.ones(8, np.float32)
    scale[1, 8](a, 3)
    np.testing.assert_array_equal(a, 3)
    assert len(scale.overloads) == 2
    # a strided view, a C and an F 2-d array match float64[:, :]
    base = np.ones((4, 6))
    for m in (np.ones((4, 3)), np.ones((4, 3), order="F"), base[:, ::2]):
        scale2[1, (4, 3)](m, 2.0)
        np.testing.assert_array_equal(m, 2.0)
    np.testing.assert_array_equal(base[:, 1::2], 1.0)
    assert len(scale2.overloads) == 1
    # an F-contiguous 2-d array does not match float32[:, ::1]
    with pytest.raises(TypeError, match="No matching definition"):
        c_only[1, 1](np.ones((2, 2), np.float32, order="F"))
    c_only[1, 1](np.ones((2, 2), np.float32))


@cuda.jit("void(float32[:, ::1])")
def c_only(a):
    a[0, 0] = 5.0


def test_readonly_array_needs_readonly_signature():
    a = np.ones(8, np.float32)
    a.flags.writeable = False
    with pytest.raises(TypeError, match="No matching definition"):
        add_scalar[1, 8](a, 1.0)


def test_kernel_signature_with_return_type():
    with pytest.raises(TypingError, match="kernels return nothing"):
        cuda.jit("float32(float32[::1])")(_returns)


def _returns(a):
    pass


def test_bad_signature_string_in_jit():
    with pytest.raises(TypeError, match="at position"):
        cuda.jit("void(float32[::2])")


def test_compile_with_signature_string():
    k = cuda.jit(_returns)
    k.compile("void(int32[::1])")
    assert (("array", "int32", 1, "C", False),) in k.overloads


# ---------------------------------------------------------------------------
# inspect_types
# ---------------------------------------------------------------------------

@cuda.jit
def annotated(a, out):
    i = cuda.grid(1)
    x = a[i] * 2.0
    if i < out.size:
        out[i] = math.sin(x)


def test_inspect_types():
    a = np.ones(4, np.float32)
    out = np.zeros(4, np.float32)
    annotated[1, 4](a, out)
    buf = io.StringIO()
    assert annotated.inspect_types(file=buf) is None
    text = buf.getvalue()
    assert text.startswith("annotated (float32[::1], float32[::1])\n")
    assert "# File: " in text and "# --- LINE " in text
    assert "#   a = arg(0, name=a)  :: float32[::1]" in text
    assert "#   i = cuda.grid(1)  :: int64" in text
    assert "#   cuda.grid(1)  :: int64" in text
    assert "#   x = a[i] * 2.0  :: float32" in text        # NEP 50: stays float32
    assert "#   math.sin(x)  :: float32" in text
    # the annotation sits under the header of the source line it belongs to
    lines = text.splitlines()
    k = lines.index("#   cuda.grid(1)  :: int64")
    assert any("i = cuda.grid(1)" in ln for ln in lines[k:k + 3])


def test_inspect_types_prints_to_stdout(capsys):
    add_scalar.inspect_types()
    out = capsys.readouterr().out
    assert "add_scalar (float32[::1], float32)" in out
    assert ":: float32" in out


def test_complex_underlying_float_makes_part_signatures():
    from ember import types as t
    assert t.complex64.underlying_float == t.float32
    assert t.complex128.underlying_float == t.float64
    with pytest.raises(AttributeError, match="float32 is not a complex type"):
        t.float32.underlying_float
    for ct in (t.complex64, t.complex128):
        ft = ct.underlying_float
        imag = cuda.jit(ft(ct), device=True)(lambda z: z.imag)

        @cuda.jit
        def k(out, a):
            i = cuda.grid(1)
            if i < out.size:
                out[i] = imag(a[i])
        a = np.array([1 + 2j, -0.5 - 3.25j, 1e3j], dtype=ct.dtype)
        out = np.zeros(3, dtype=ft.dtype)
        k[1, 4](out, a)
        np.testing.assert_array_equal(out, a.imag)
