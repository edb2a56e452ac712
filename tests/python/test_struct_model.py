"""numba's low-level extension API for struct types (ember/_structmodel.py):
a types.Type subclass with a models.StructModel, make_attribute_wrapper,
@type_callable and a @lower implementation built with
cgutils.create_struct_proxy, used in kernels (cpu device; PTX checked by
ptxas in conftest.py) — and shared/local arrays of record dtypes, which
struct-model values are stored in. Expected values are computed here in
pure Python or NumPy.
"""

import numpy as np
import pytest

from ember import cgutils, cuda, float32, int32, types, void
from ember.cuda.cudaimpl import lower
from ember.errors import TypingError, UnsupportedError
from ember.extending import (lower_builtin, make_attribute_wrapper, models, register_model,
                             type_callable, typeof_impl)
from ember import _structmodel

pytestmark = pytest.mark.usefixtures("kernel_device")


class Pair:
    def __init__(self, x, y):
        self.x, self.y = x, y


class PairType(types.Type):
    def __init__(self):
        super().__init__(name="PairType")


pair_type = PairType()


@typeof_impl.register(Pair)
def _typeof_pair(val, c):
    return pair_type


@register_model(PairType)
class PairModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("x", int32), ("y", int32)])


make_attribute_wrapper(PairType, "x", "x")
make_attribute_wrapper(PairType, "y", "second")   # exposed under another name


@type_callable(Pair)
def _type_pair(context):
    def typer(x, y):
        if isinstance(x, types.Integer) and isinstance(y, types.Integer):
            return pair_type
    return typer


@lower(Pair, types.Integer, types.Integer)
def _lower_pair(context, builder, sig, args):
    p = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    p.x = args[0]
    p.y = args[1]
    return p._getvalue()


class Scaled:  # a class whose lowering also uses a constant and leaves a member unset
    pass


class ScaledType(types.Type):
    def __init__(self):
        super().__init__(name="ScaledType")


scaled_type = ScaledType()


@register_model(ScaledType)
class ScaledModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("v", float32), ("k", int32), ("unset", int32)])


make_attribute_wrapper(ScaledType, "v", "v")
make_attribute_wrapper(ScaledType, "k", "k")
make_attribute_wrapper(ScaledType, "unset", "unset")


@type_callable(Scaled)
def _type_scaled(context):
    def typer(v):
        if isinstance(v, types.Float):
            return scaled_type
    return typer


@lower(Scaled, types.Float)
def _lower_scaled(context, builder, sig, args):
    s = cgutils.create_struct_proxy(scaled_type)(context, builder)
    s.v = args[0]
    s.k = context.get_constant(types.int32, 7)
    return s._getvalue()


def test_types_are_classes_as_numba():
    assert isinstance(int32, types.Integer) and int32.signed and int32.bitwidth == 32
    assert isinstance(types.uint8, types.Integer) and not types.uint8.signed
    assert isinstance(float32, types.Float) and isinstance(types.complex64, types.Complex)
    assert isinstance(types.boolean, types.Boolean) and not isinstance(types.boolean,
                                                                       types.Integer)
    assert str(pair_type) == "PairType" and pair_type == PairType()
    assert typeof_impl(Pair(1, 2)) is pair_type


def test_struct_dtype_is_the_members_in_c_layout():
    dt = _structmodel.struct_dtype(pair_type)
    assert dt.names == ("x", "second") and dt.itemsize == 8
    dt = _structmodel.struct_dtype(scaled_type)
    assert dt.itemsize == 12 and [dt.fields[n][1] for n in dt.names] == [0, 4, 8]
    assert pair_type[::1].ndim == 1 and pair_type[::1].layout == "C"


def test_shared_array_of_struct_values_reversed():
    n = 64

    @cuda.jit(void(int32[::1], int32[::1]))
    def reverse(outx, outy):
        arr = cuda.shared.array(n, dtype=pair_type)
        i = cuda.grid(1)
        ri = n - i - 1
        obj = Pair(int32(i), int32(i * 2))
        arr[i] = obj
        cuda.syncthreads()
        outx[i] = arr[ri].x
        outy[i] = arr[ri].second

    x = np.zeros(n, np.int32)
    y = np.zeros(n, np.int32)
    reverse[1, n](x, y)
    assert x.tolist() == [n - i - 1 for i in range(n)]
    assert y.tolist() == [2 * (n - i - 1) for i in range(n)]


def test_struct_arrays_as_arguments_and_direct_store():
    @cuda.jit(void(pair_type[::1], int32[::1]))
    def fill(pairs, a):
        i = cuda.grid(1)
        k = int32(5)
        if i < pairs.shape[0]:
            pairs[i] = Pair(a[i], int32(3))     # a[i]: an element of an int32[::1] parameter
            if i == 0:
                pairs[i] = Pair(k, int32(-1))   # a local bound once to a cast

    a = np.arange(10, dtype=np.int32) * 11
    pairs = np.zeros(10, dtype=_structmodel.struct_dtype(pair_type))
    fill[1, 16](pairs, a)
    assert pairs["x"].tolist() == [5] + [int(v) for v in a[1:]]
    assert pairs["second"].tolist() == [-1] + [3] * 9


def test_local_struct_constant_member_and_zeroed_member():
    @cuda.jit
    def k(out, v):
        i = cuda.grid(1)
        if i < out.shape[0]:
            s = Scaled(float32(v[i]))
            out[i, 0] = s.v * s.k
            out[i, 1] = s.unset

    v = np.linspace(-1, 1, 9)
    out = np.full((9, 2), 99.0)
    k[1, 16](out, v)
    assert out[:, 0].tolist() == [float(np.float32(x)) * 7 for x in v]
    assert out[:, 1].tolist() == [0.0] * 9


def test_shared_array_of_numpy_record_dtype_with_nested_array():
    rec = np.dtype([("i", np.int32), ("j", np.float32, (3, 2))])
    x = np.zeros(32, rec)
    x["i"] = np.arange(32)
    x["j"] = np.arange(6, dtype=np.float32).reshape(3, 2) * np.arange(32)[:, None, None]
    y = np.zeros_like(x)

    @cuda.jit
    def copy_through_shared(x, y):
        sm = cuda.shared.array(16, dtype=rec)
        tx = cuda.threadIdx.x
        i = cuda.blockIdx.x * cuda.blockDim.x + tx
        sm[tx] = x[i]
        cuda.syncthreads()
        if tx == 0:
            for j in range(16):
                y[cuda.blockIdx.x * 16 + j] = sm[j]

    copy_through_shared[2, 16](x, y)
    assert y.tobytes() == x.tobytes()


def test_constructor_inside_an_expression_is_refused_with_its_line():
    def k(out):
        out[0] = Pair(int32(1), int32(2)).x

    with pytest.raises(UnsupportedError, match=r"test_struct_model.py:\d+:\d+: .*Pair\(\.\.\.\) "
                       r"builds a struct value"):
        cuda.jit(void(int32[::1]))(k)


def test_typer_rejection_and_unknown_argument_types():
    def unknown(out):
        p = Pair(out[0] + 1, int32(1))
        out[0] = p.x

    with pytest.raises(TypingError, match=r"(?s)Pair\(\?, int32\): its @type_callable typer "
                       r"accepts no such arguments.*cast it"):
        cuda.jit(void(int32[::1]))(unknown)

    def float_args(out):
        p = Pair(out[0], float32(2))
        out[0] = p.x

    with pytest.raises(TypingError, match=r"test_struct_model.py:\d+:\d+: Pair\(float32, "
                       r"float32\)"):
        cuda.jit(void(float32[::1]))(float_args)


class Opaque:
    pass


class OpaqueType(types.Type):
    def __init__(self):
        super().__init__(name="OpaqueType")


opaque_type = OpaqueType()


@register_model(OpaqueType)
class OpaqueModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("a", int32)])


@type_callable(Opaque)
def _type_opaque(context):
    return lambda a: opaque_type


@lower(Opaque, types.Integer)
def _lower_opaque(context, builder, sig, args):
    return builder.add(args[0], args[0])   # llvmlite IR: ember has no IR builder here


def test_lowering_with_the_ir_builder_is_refused_clearly():
    def k(out):
        o = Opaque(int32(1))
        out[0] = o.a

    with pytest.raises(UnsupportedError, match=r"test_struct_model.py:\d+:\d+: the @lower "
                       r"implementation of Opaque: builder.add is not available"):
        cuda.jit(void(int32[::1]))(k)


def test_array_of_a_type_without_model_is_refused():
    class Bare(types.Type):
        def __init__(self):
            super().__init__(name="Bare")

    with pytest.raises(TypeError, match="Bare has no data model"):
        Bare()[::1]


class Weight:  # lowered for every target (lower_builtin), so ember.jit functions too
    pass


@type_callable(Weight)
def _type_weight(context):
    return lambda a, b: pair_type


@lower_builtin(Weight, types.Integer, types.Integer)
def _lower_weight(context, builder, sig, args):
    p = cgutils.create_struct_proxy(pair_type)(context, builder)
    p.x, p.y = args
    return p._getvalue()


def test_struct_values_in_an_ember_jit_function():
    import ember

    @ember.jit
    def weighted(x):
        s = 0
        for i in range(x.shape[0]):
            p = Weight(x[i], int32(2))
            s += p.x * p.second
        return s

    x = np.arange(7, dtype=np.int32)
    assert weighted(x) == sum(2 * int(v) for v in x)

    @ember.jit
    def cuda_only(x):
        p = Pair(x[0], int32(2))
        return p.x

    with pytest.raises(TypingError, match=r"no @lower implementation of Pair\(int32, int32\) "
                       r"for target 'cpu'"):
        cuda_only(x)
