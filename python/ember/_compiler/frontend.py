"""The front end: a Python function -> a tree of tuples for the C IR builder.

The source is read with ``inspect.getsource`` and parsed with ``ast`` (not
bytecode, which changes with every Python release); a function without
source (exec'd text, ``python -c``, stdin, the interpreter) has its tree
rebuilt from its code object by bytecode.py (see _parse). Names are resolved
here: parameters become ``('param', ...)``, every name the function assigns
(targets of ``=``, augmented assignment and ``for``) gets a local slot, and
globals and closure variables are frozen at compile time as constants
(numbers, NumPy scalars, tuples of those) or recognised as the modules and
functions a kernel may call (``math``, ``cmath``, ``numpy``, ``cuda``,
builtins).

Tree contract (see python/ext/compile.c): every node is a tuple
``(kind, line, col, ...)``; lines are the file's own 1-based line numbers,
columns 0-based as in ``ast``.

Semantics worth knowing:

* A chained comparison ``a < b < c`` becomes ``(a < b) and (b < c)``: the
  middle operand is evaluated twice (kernels have no side-effecting
  expressions, so only the cost differs from Python).
* ``a[i] += v`` evaluates the index expressions twice, for the same reason.
* Tuple unpacking goes through temporary slots, so ``a, b = b, a`` swaps.
* Tuples are indexed with constants, or with any integer when their items
  have one type (core/infer.c decides); indexing an array with a
  tuple variable (``a[idx]``) needs the tuple's length here, so it works for
  tuples built in the function, ``cuda.grid(n)`` results and tuple
  arguments.
"""

import ast
import re
import builtins
import cmath
import enum
import inspect
import linecache
import math
import operator
import textwrap
import types

import numpy as np

from .frontend_jit import JitForms

from .. import _ember
from . import _bf16, _enums, _libdevice, _raises
from ._pylang import PythonFeatures
from ._structcalls import StructCalls
from ._tuple_loops import TupleLoops
from ._webs import split_variables
from ..errors import TypingError, UnsupportedError

__all__ = ["build_tree", "source_info", "format_error", "SourceInfo"]

# MathFn of core/ir.h, lower-case without MATH_. A math tree names one with
# its flavour (core/ir.h MathFlavour): "sin" follows Python's math module
# (and the builtins), "np.sin" NumPy's ufuncs, "cmath.sin" cmath.
MATH_NAMES = (
    "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 exp2 log "
    "log2 log10 log1p sqrt pow hypot erf erfc gamma lgamma floor ceil trunc fabs fmod copysign "
    "isnan isinf isfinite abs min max round frexp ldexp modf radians degrees remainder cbrt "
    "sign square reciprocal rint fmin fmax phase polar rect").split()
# numba.cuda's math functions (numba/cuda/mathimpl.py, cudamath.py), and
# cbrt and exp2 (Python 3.11)
_MATH_MODULE_FNS = {n: n for n in (
    "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 exp2 log "
    "log2 log10 log1p sqrt pow hypot erf erfc gamma lgamma floor ceil trunc fabs fmod copysign "
    "isnan isinf isfinite frexp ldexp modf radians degrees remainder cbrt").split()}
# NumPy's scalar ufuncs (and np.round/around, np.min/max) as math trees
_NUMPY_FNS = {n: "np." + n for n in (
    "sin cos tan sinh cosh tanh exp expm1 exp2 log log2 log10 log1p sqrt hypot floor ceil "
    "trunc rint fabs fmod copysign isnan isinf isfinite abs min max round cbrt sign square "
    "reciprocal fmin fmax frexp ldexp modf radians degrees").split()}
_NUMPY_FNS.update({
    "arcsin": "np.asin", "arccos": "np.acos", "arctan": "np.atan", "arctan2": "np.atan2",
    "arcsinh": "np.asinh", "arccosh": "np.acosh", "arctanh": "np.atanh",
    "asin": "np.asin", "acos": "np.acos", "atan": "np.atan", "atan2": "np.atan2",
    "asinh": "np.asinh", "acosh": "np.acosh", "atanh": "np.atanh",
    "absolute": "np.abs", "minimum": "np.min", "maximum": "np.max", "around": "np.round",
    "deg2rad": "np.radians", "rad2deg": "np.degrees",
})
_NUMPY_FNS = {k: v for k, v in _NUMPY_FNS.items() if hasattr(np, k)}
# NumPy ufuncs that are Python operators: np.power(2, 3) is the int 8
# (NumPy's integer power), np.mod / np.remainder are Python's %.
_NUMPY_BINOPS = {"power": "pow", "pow": "pow", "mod": "mod", "remainder": "mod",
                 "add": "add", "subtract": "sub", "multiply": "mul", "divide": "truediv",
                 "true_divide": "truediv", "floor_divide": "floordiv",
                 "left_shift": "lshift", "right_shift": "rshift", "bitwise_and": "bitand",
                 "bitwise_or": "bitor", "bitwise_xor": "bitxor"}
_NUMPY_BINOPS = {k: v for k, v in _NUMPY_BINOPS.items() if hasattr(np, k)}
# cmath: complex results (core/infer.c cmath_call)
_CMATH_FNS = {n: "cmath." + n for n in (
    "sqrt exp log log10 sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh phase "
    "polar rect isnan isinf isfinite").split()}
# math trees that give a pair: m, e = math.frexp(x)
_MATH_PAIRS = ("frexp", "np.frexp", "modf", "np.modf", "cmath.polar")
# The scalar types kernels compute with (longdouble is not).
KERNEL_DTYPES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 "
    "complex64 complex128".split())
_MATH_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}
_NUMPY_CONSTS = {"pi": np.pi, "e": np.e, "inf": np.inf, "nan": np.nan, "newaxis": None}

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.LShift: "lshift",
    ast.RShift: "rshift", ast.BitAnd: "bitand", ast.BitOr: "bitor", ast.BitXor: "bitxor",
}
_UNOPS = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert", ast.Not: "not"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
           ast.GtE: "ge", ast.Is: "eq", ast.IsNot: "ne"}

# the operator module's functions on numbers (numba's too): tree kind and op
_OPERATOR_FNS = {}
for _n, _op in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "truediv"),
                ("floordiv", "floordiv"), ("mod", "mod"), ("pow", "pow"), ("lshift", "lshift"),
                ("rshift", "rshift"), ("and_", "bitand"), ("or_", "bitor"), ("xor", "bitxor")):
    _OPERATOR_FNS[id(getattr(operator, _n))] = ("binary", _op, 2)
    _OPERATOR_FNS[id(getattr(operator, "i" + _n.rstrip("_")))] = ("binary", _op, 2)
for _n, _op in (("eq", "eq"), ("ne", "ne"), ("lt", "lt"), ("le", "le"), ("gt", "gt"),
                ("ge", "ge")):
    _OPERATOR_FNS[id(getattr(operator, _n))] = ("compare", _op, 2)
for _n, _op in (("neg", "neg"), ("pos", "pos"), ("invert", "invert"), ("inv", "invert"),
                ("not_", "not")):
    _OPERATOR_FNS[id(getattr(operator, _n))] = ("unary", _op, 1)
_OPERATOR_FNS[id(operator.truth)] = ("truth", None, 1)
_OPERATOR_FNS[id(operator.abs)] = ("abs", None, 1)

# integer operators a constant shape may use (const_int folds them)
_CONST_INT_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                  ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
                  ast.LShift: operator.lshift, ast.RShift: operator.rshift,
                  ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
                  ast.BitXor: operator.xor}

_DIM3 = ("threadIdx", "blockIdx", "blockDim", "gridDim")
_ARRAY_ATTRS = ("shape", "strides", "size", "ndim", "T", "real", "imag", "flat")
# Every intrinsic, declared once in core/intrinsics.def:
# {name: (label, min_args, max_args, kind)}.
_INTRINSICS = _ember.intrinsics()
# Block-level operations with their argument counts (syncwarp's mask and a
# shuffle's width, CUDA C's 4th argument, are optional): IR for every target
# (the CPU device runs them by barrier fission). syncthreads and syncwarp are
# statements (ND_SYNC); the rest are the table's warp and block intrinsics.
_BLOCK_OPS = {"syncthreads": 0, "syncwarp": 1}
_BLOCK_OPS.update({name: lo if lo == hi else (lo, hi)
                   for name, (_, lo, hi, kind) in _INTRINSICS.items()
                   if kind in ("warp", "warp_mask", "block")})
# Parts of numba.cuda that ember does not have (README: "Differences from
# numba.cuda and what is not supported yet").
_CUDA_MISSING = {}
# cuda.cg.this_grid(): the grid group (a compile-time value; a local name may
# hold it). Its attributes: grid_group_attr.
_GRID_GROUP_ATTRS = ("sync", "size", "rank")
# cuda.fp16.<name>(...): each argument converted to float16, then the tree
# node (fp16_call). Binary operations and sqrt are correctly rounded on the CPU
# (computed in float32, which has more than twice half's precision).
_FP16_BINARY = {"hadd": "add", "hsub": "sub", "hmul": "mul", "hdiv": "truediv"}
_FP16_COMPARE = {"heq": "eq", "hne": "ne", "hlt": "lt", "hle": "le", "hgt": "gt",
                 "hge": "ge"}
_FP16_MATH = {"habs": "np.abs", "hsqrt": "np.sqrt", "hceil": "np.ceil", "hfloor": "np.floor",
              "htrunc": "np.trunc", "hrint": "np.rint", "hlog": "np.log", "hlog2": "np.log2",
              "hlog10": "np.log10", "hexp": "np.exp", "hexp2": "np.exp2", "hcos": "np.cos",
              "hsin": "np.sin", "hmax": "np.fmax", "hmin": "np.fmin"}
from .._vector_types import ALIASES as _VECTOR_ALIASES, ATTRS as _VECTOR_ATTRS, \
    VECTOR_TYPES as _VECTOR_TYPES  # noqa: E402
_BF16_ARRAY_HINT = ("keep bfloat16 values in int16 or uint16 arrays: "
                    "cuda.bf16.int16_as_bfloat16(a[i]) reads one, "
                    "a[i] = cuda.bf16.bfloat16_as_int16(b) writes one")
FP16_FUNCTIONS = tuple(_FP16_BINARY) + tuple(_FP16_COMPARE) + tuple(_FP16_MATH) + (
    "hneg", "hfma", "hrcp", "hrsqrt", "hexp10")
_FENCES = {"threadfence": "device", "threadfence_block": "block", "threadfence_system": "system"}
_ATOMIC_OPS = ("add", "sub", "max", "min", "nanmax", "nanmin", "and_", "or_", "xor", "exch",
               "inc", "dec", "cas", "compare_and_swap")
INT64_MIN, UINT64_MAX = -(1 << 63), (1 << 64) - 1


# ---------------------------------------------------------------------------
# Source information and error messages
# ---------------------------------------------------------------------------

class SourceInfo:
    """Where a function's source lies: file, first line, and the lines."""

    def __init__(self, filename, firstlineno, lines, col_offset):
        self.filename = filename
        self.firstlineno = firstlineno  # file line of the snippet's first line
        self.lines = lines              # the snippet's lines, as in the file
        self.col_offset = col_offset    # columns removed by dedent

    def line_text(self, line):
        i = line - self.firstlineno
        if 0 <= i < len(self.lines):
            return self.lines[i].rstrip("\n")
        return linecache.getline(self.filename, line).rstrip("\n")


def source_info(fn):
    """(SourceInfo, dedented source) of a Python function."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (OSError, TypeError) as exc:
        raise UnsupportedError(
            f"cannot read the source of {getattr(fn, '__qualname__', fn)!r} ({exc}); ember "
            "compiles Python functions defined in a file (or a notebook cell)") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    # the columns dedent removed: compare the first non-blank line
    offset = 0
    for orig, new in zip(text.splitlines(), dedented.splitlines()):
        if orig.strip():
            offset = len(orig) - len(new)
            break
    return SourceInfo(filename, first, lines, offset), dedented


def format_error(info, line, col, msg, hint=None, extra=None):
    """'file:line:col: msg', the source line, a caret under col, and the hint."""
    out = [f"{info.filename}:{line}:{col}: {msg}"]
    text = info.line_text(line) if line > 0 else ""
    if text:
        out.append("    " + text.expandtabs(1) if "\t" not in text else "    " + text)
        out.append("    " + " " * max(col, 0) + "^")
    if extra:
        out.append(extra)
    if hint:
        out.append(f"hint: {hint}")
    return "\n".join(out)


def _error(cls, info, line, col, msg, hint=None):
    exc = cls(format_error(info, line, col, msg, hint))
    exc.filename, exc.line, exc.col, exc.msg, exc.hint = info.filename, line, col, msg, hint
    return exc


# ---------------------------------------------------------------------------
# Compile-time values that are not data: modules, functions, types
# ---------------------------------------------------------------------------

class _Prebuilt(ast.expr):
    """An AST leaf standing for IR built already (an item of a tuple passed
    as *args): the builder returns its `ir` as the expression's value."""
    _fields = ()

    def __init__(self, ir):
        super().__init__()
        self.ir = ir


class _Static:
    """A name resolved at compile time to something that is not a number.

    kind: 'math' | 'cmath' | 'numpy' | 'cuda' (modules), 'pymodule' (any
    other module: its constant attributes are frozen), 'mathfn' (value: a
    MATH_NAMES name, maybe with its 'np.' / 'cmath.' flavour), 'npbinop'
    (value: a binary operator: np.power, np.mod), 'dtype' (value: dtype
    name or 'bool'), 'builtin', 'cudafn' ('grid' | 'gridsize'), 'dim3' (value: 'threadIdx' ...),
    'range', 'pyfunc', 'dispatcher', 'other'."""

    __slots__ = ("kind", "value", "name")

    def __init__(self, kind, value, name):
        self.kind, self.value, self.name = kind, value, name


def _cuda_modules():
    mods = []
    try:
        from .. import cuda as ember_cuda
        mods.append(ember_cuda)
    except ImportError:  # pragma: no cover
        pass
    return mods


def _is_cuda_module(obj):
    if any(obj is m for m in _cuda_modules()):
        return True
    name = getattr(obj, "__name__", None)
    return isinstance(obj, types.ModuleType) and name in ("numba.cuda", "ember.cuda")


_MATH_BY_ID = None


def _math_fn_ids():
    global _MATH_BY_ID
    if _MATH_BY_ID is None:
        table = {}
        for n, m in _MATH_MODULE_FNS.items():
            if hasattr(math, n):
                table[id(getattr(math, n))] = m
        for n, m in _NUMPY_FNS.items():
            table[id(getattr(np, n))] = m
        for n, m in _CMATH_FNS.items():
            table[id(getattr(cmath, n))] = m
        _MATH_BY_ID = table
    return _MATH_BY_ID


def _dtype_name_of_class(obj):
    """'float32' for np.float32, 'bool' for np.bool_; None otherwise."""
    if isinstance(obj, type) and issubclass(obj, np.generic):
        try:
            dt = np.dtype(obj)
        except TypeError:
            return None
        if dt.kind == "b":
            return "bool"
        if dt.kind in "iufc" and dt.name in KERNEL_DTYPES:
            return dt.name
    return None


# reductions of arrays: a.sum(), np.sum(a) ... (np.amin / np.amax too)
_REDUCTIONS = ("sum", "prod", "min", "max", "mean", "argmin", "argmax", "all", "any", "var",
               "std", "cumsum", "cumprod")
_NUMPY_REDUCTIONS = {"sum": "sum", "prod": "prod", "mean": "mean", "amin": "min",
                     "amax": "max", "min": "min", "max": "max", "argmin": "argmin",
                     "argmax": "argmax", "all": "all", "any": "any", "var": "var",
                     "std": "std", "cumsum": "cumsum", "cumprod": "cumprod"}

# NumPy functions that make arrays: in ember.jit functions, those with
# parameters listed (array_maker_call); the others are refused. Kernels refuse all.
_NUMPY_MAKERS = ("empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like",
                 "full_like", "arange", "array", "asarray", "copy", "linspace", "eye",
                 "identity")
_ARRAY_MAKER_PARAMS = {
    "empty": ("shape", "dtype"), "zeros": ("shape", "dtype"), "ones": ("shape", "dtype"),
    "full": ("shape", "fill_value", "dtype"),
    "empty_like": ("prototype", "dtype"), "zeros_like": ("a", "dtype"),
    "ones_like": ("a", "dtype"), "full_like": ("a", "fill_value", "dtype"),
    "arange": ("start", "stop", "step", "dtype"),
    "copy": ("a",),
    "array": ("object", "dtype"), "asarray": ("a", "dtype"),
    "linspace": ("start", "stop", "num", "endpoint", "retstep", "dtype"),
    "eye": ("N", "M", "k", "dtype"),
}
# the builtin classes NumPy takes as dtypes
_BUILTIN_DTYPES = {"float": "float64", "int": "int64", "bool": "bool", "complex": "complex128"}

# np.random functions ember.jit functions can call: name -> (min, max) arguments
_RANDOM_FNS = {"seed": (1, 1), "random": (0, 0), "uniform": (0, 2), "normal": (0, 2),
               "randint": (1, 2)}


def _is_prange(obj):
    """ember.prange, or numba's prange (numba.prange / numba.misc.special.prange),
    recognised without importing numba."""
    from .._jit import prange
    if obj is prange:
        return True
    return getattr(obj, "__name__", None) == "prange" and \
        str(getattr(obj, "__module__", "")).startswith("numba")




def _literal_of(t):
    """The int, bool or tuple of ints a constant argument tree holds; else None."""
    if not isinstance(t, tuple):
        return None
    if t[0] == "const" and t[3] == "bool":
        return bool(t[4])
    if t[0] == "const" and isinstance(t[3], str) and \
            t[3].startswith(("weak_int", "int", "uint")) and isinstance(t[4], int):
        return t[4]
    if t[0] == "tuple" and t[3]:
        items = [_literal_of(f) for f in t[3]]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return tuple(items)
    return None


def _static_key(value):
    """A bound argument's part of its callee's key: the value, or its
    identity when it cannot be hashed (it lives while the graph is built)."""
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def _record_dtype_desc(obj, name):
    """The record descriptor (for the C builder) of a structured dtype, an
    ember Record type or a type with a struct model; else None."""
    from .. import types as ember_types, _structmodel
    from .dispatcher import _record_desc, _record_for_c
    if isinstance(obj, np.dtype) and obj.fields is not None:
        dt = obj
    elif isinstance(obj, ember_types.Record):
        dt = obj.dtype
    elif isinstance(obj, ember_types.Type) and not isinstance(obj, ember_types.Scalar) and \
            _structmodel.has_struct_model(obj):
        dt = _structmodel.struct_dtype(obj)
    else:
        return None
    return _record_for_c(_record_desc(dt, name))


def _classify(obj, name):
    """A global/closure value as a tree constant (a tuple node without a
    location, made later) or a _Static. Returns ('value', obj) for data."""
    if obj is math:
        return _Static("math", obj, name)
    if obj is cmath:
        return _Static("cmath", obj, name)
    if obj is np:
        return _Static("numpy", obj, name)
    if obj is np.random:
        return _Static("nprandom", obj, name)
    for fname in _RANDOM_FNS:
        if obj is getattr(np.random, fname):
            return _Static("randomfn", fname, name)
    if _is_cuda_module(obj):
        return _Static("cuda", obj, name)
    if isinstance(obj, types.ModuleType) and \
            getattr(obj, "__name__", None) in ("ember.cuda.libdevice", "numba.cuda.libdevice"):
        return _Static("libdevice", obj, name)
    path = getattr(type(obj), "_ember_cuda_path", None) and \
        getattr(obj, "_ember_cuda_path", None)
    if isinstance(path, str):  # a stub from ember.cuda: cuda.<path>
        return _Static("cudapath", path, name)
    fid = _math_fn_ids().get(id(obj))
    if fid is not None:
        return _Static("mathfn", fid, name)
    for n, op in _NUMPY_BINOPS.items():
        if obj is getattr(np, n):
            return _Static("npbinop", op, name)
    if id(obj) in _OPERATOR_FNS and getattr(obj, "__module__", None) in ("operator",
                                                                         "_operator"):
        return _Static("opfn", _OPERATOR_FNS[id(obj)], name)
    dn = _dtype_name_of_class(obj)
    if dn is None and isinstance(obj, np.dtype) and obj.isnative and \
            (obj.kind == "b" or obj.name in KERNEL_DTYPES):
        dn = "bool" if obj.kind == "b" else obj.name
    if dn is None:
        from .. import types as ember_types
        if isinstance(obj, ember_types.Scalar):
            dn = "bool" if obj.dtype.kind == "b" else obj.dtype.name
        elif isinstance(obj, ember_types.BFloat16):  # cuda.bf16.bfloat16: casts only
            dn = "bfloat16"
    if dn is not None:
        return _Static("dtype", dn, name)
    rec = _record_dtype_desc(obj, name)
    if rec is not None:
        return _Static("recdtype", rec, name)
    from .. import _structmodel
    if _structmodel.callable_class(obj):  # Point(x, y) with @type_callable / @lower
        return _Static("structcall", obj, name)
    if obj is range or _is_prange(obj):
        return _Static("range", obj, name)
    if _enums.is_enum_class(obj):
        return _Static("enumclass", obj, name)
    from .. import extending
    if extending.is_overloaded(obj):  # @overload / @register_jitable
        return _Static("overloaded", obj, name)
    for b in ("abs", "min", "max", "round", "int", "float", "bool", "complex", "len", "print",
              "sum", "pow"):
        if obj is getattr(builtins, b):
            return _Static("builtin", b, name)
    if isinstance(obj, types.ModuleType):
        return _Static("pymodule", obj, name)
    from .dispatcher import DeviceFunction, Dispatcher
    from .._jit import JitDispatcher
    if isinstance(obj, JitDispatcher):  # an @ember.jit function: inlined like a device one
        return _Static("device", obj._as_device_function(), name)
    if isinstance(obj, Dispatcher):
        return _Static("dispatcher", obj, name)
    if isinstance(obj, DeviceFunction):
        return _Static("device", obj, name)
    from ..cuda._foreign import ForeignFunction
    if isinstance(obj, ForeignFunction):
        return _Static("foreign", obj, name)
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return _Static("pyfunc", obj, name)
    return None


# ---------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------

_KERNEL_WORDS = [(re.compile(r"\bin (a )?kernels?\b"), "in ember.jit functions"),
                 (re.compile(r"\bfrom a kernel\b"), "from an ember.jit function"),
                 (re.compile(r"\bKernels\b"), "ember.jit functions"),
                 (re.compile(r"\bkernels\b"), "ember.jit functions"),
                 (re.compile(r"\ba kernel\b"), "a function"),
                 (re.compile(r"\bkernel\b"), "function")]


def _as_function_words(text):
    """A message written for kernels, reworded for an ember.jit function."""
    for pat, repl in _KERNEL_WORDS:
        text = pat.sub(repl, text)
    return text


def _bindings(fdef):
    """(name, node) for each binding of a name in the function: assignment
    targets, augmented and annotated assignments, for targets, walruses and
    nested def/class names."""
    out = []

    def targets(t, node):
        if isinstance(t, ast.Name):
            out.append((t.id, node))
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                targets(e, node)
        elif isinstance(t, ast.Starred):
            targets(t.value, node)

    for node in ast.walk(fdef):
        if node is fdef:
            continue
        if isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t, node)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.NamedExpr)):
            targets(node.target, node)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append((node.name, node))
    return out


def _assigned_names(fdef):
    """Names the function binds (so they are locals), in first-seen order;
    an annotation without a value and a nested def or class do not count."""
    names = {}
    for n, node in _bindings(fdef):
        if not (isinstance(node, ast.AnnAssign) and node.value is None) and \
                not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.setdefault(n, None)
    return list(names)


def _single_top_level_bindings(fdef):
    """{name: Assign} for each local bound exactly once in the function, by a
    plain ``name = value`` among the function's own top-level statements (not
    in a loop or a branch): numba takes such a variable for its constant value
    where a constant is needed (``N = 100; cuda.shared.array(N, int32)``)."""
    counts = {}
    for n, _ in _bindings(fdef):
        counts[n] = counts.get(n, 0) + 1
    params = {p.arg for p in fdef.args.posonlyargs + fdef.args.args}
    out = {}
    for s in fdef.body:
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], ast.Name):
            n = s.targets[0].id
            if counts.get(n) == 1 and n not in params:
                out[n] = s
    return out


class _CallGraph:
    """The device functions one kernel compilation calls, directly or not.

    Each is built once (``trees[key]``, a 'function' tuple) and referred to
    by ``('call', line, col, key, [args])``; the list goes to the C builder
    as the kernel tree's 8th item. ``stack`` holds the functions being built,
    to find recursion."""

    def __init__(self):
        self.trees = []
        self.keys = {}      # python function -> key
        self.arities = {}   # key -> arity of the returned value (see _Builder.arity)
        self.sigs = {}      # key -> (return, [params]) descriptors of an explicit signature
        self.foreign = {}   # key -> cuda.declare_device declaration called
        self.literal_uses = {}  # callee key -> its parameters read as constants (sorted)
        self.recursive = set()  # functions that called themselves (directly or not)
        self.stack = []
        self.jit = False    # the root is an @ember.jit function (errors say so)
        self.root = None    # that function (python)
        self.parallel = False  # ember.jit(parallel=True): the root's outermost prange
                               # loops run on the worker pool (devices/cpu/lower_prange.c)
        self.self_device = None  # a DeviceFunction with the root's explicit signature:
        #                          the root may call itself (recursion)


class _Builder(PythonFeatures, TupleLoops, JitForms, StructCalls):
    def __init__(self, fn, info, fdef, is_kernel, argtypes, graph=None):
        self.fn = fn
        self.graph = graph if graph is not None else _CallGraph()
        self.return_arities = []
        self.return_enums = []  # per return: the Enum class of a member it returns, or None
        self.info = info
        self.fdef = fdef
        self.is_kernel = is_kernel
        self.argtypes = argtypes
        self.loff = info.firstlineno - 1
        self.coff = info.col_offset
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs:
            raise self.unsupported(fdef, "kernels take positional parameters only "
                                   "(no *args, **kwargs or keyword-only parameters)")
        self.params = [p.arg for p in a.posonlyargs + a.args]
        self.static_params = {}  # parameter -> _Static: types and functions passed as arguments
        self.literal_params = {}  # parameter -> int or tuple of ints the caller passed
        self.used_literals = set()  # those read where a constant is needed (a shape)
        self.grid_groups = {}  # local name -> _Static('gridgroup'): g = cuda.cg.this_grid()
        self.slots = {}
        self.slot_names = []
        self.slot_arity = {}
        self.loop_depth = 0
        self.prange_depth = 0   # prange loops around the statement being built
        self.stmt_call = None  # the Call node of the statement being built, if any
        for n in _assigned_names(fdef):
            self.new_slot(n)
        self.const_locals = _single_top_level_bindings(fdef)
        self.const_visiting = set()  # constant locals being evaluated (N = N + 1)
        self.ntemps = 0
        # globals and closure cells
        self.closure = {}
        code = fn.__code__
        if fn.__closure__:
            for name, cell in zip(code.co_freevars, fn.__closure__):
                self.closure[name] = cell

    # -- helpers --

    def loc(self, node):
        return (getattr(node, "lineno", self.fdef.lineno) + self.loff,
                getattr(node, "col_offset", 0) + self.coff)

    def err(self, cls, node, msg, hint=None):
        line, col = self.loc(node)
        graph = getattr(self, "graph", None)
        if graph is not None and graph.jit:  # an ember.jit function is no kernel
            msg, hint = _as_function_words(msg), hint and _as_function_words(hint)
        return _error(cls, self.info, line, col, msg, hint)

    def unsupported(self, node, msg, hint=None):
        return self.err(UnsupportedError, node, msg, hint)

    def typing(self, node, msg, hint=None):
        return self.err(TypingError, node, msg, hint)

    def new_slot(self, name):
        self.slots[name] = len(self.slot_names)
        self.slot_names.append(name)
        return self.slots[name]

    def temp(self):
        self.ntemps += 1
        return self.new_slot(f"$tmp{self.ntemps}")

    def const(self, node, value, where=None):
        """A constant node for a Python / NumPy scalar or a tuple of them."""
        line, col = self.loc(node)
        if isinstance(value, (bool, np.bool_)):
            return ("const", line, col, "bool", bool(value))
        if isinstance(value, enum.Enum) and not isinstance(value, int):
            return ("const", line, col, "int64", _enums.member_code(value))  # _enums.py
        if isinstance(value, enum.Enum):  # IntEnum: its integer
            value = int(value)
        if isinstance(value, int):
            if not INT64_MIN <= value <= UINT64_MAX:
                raise self.typing(node, f"the integer {value} does not fit in 64 bits")
            if value > (1 << 63) - 1:
                return ("const", line, col, "uint64", value)
            return ("const", line, col, "weak_int", value)
        if isinstance(value, float):
            return ("const", line, col, "weak_float", value)
        if isinstance(value, complex):
            return ("const", line, col, "weak_complex", value)
        if isinstance(value, np.generic) and value.dtype.kind in "iufc":
            if value.dtype.kind in "iu":
                v = int(value)
            elif value.dtype.kind == "f":
                v = float(value)
            else:
                v = complex(value)
            return ("const", line, col, value.dtype.name, v)
        if isinstance(value, tuple):
            return ("tuple", line, col, [self.const(node, v, where) for v in value])
        if isinstance(value, np.ndarray) and self.graph.jit:
            # numba's rule for @njit: a global (or closure) array is a
            # constant, frozen with its values at compile time
            return self.frozen_array(node, value, "a global array in an ember.jit function")
        if isinstance(value, np.ndarray):
            # numba's rule on the GPU: a global (or closure) NumPy array is
            # frozen into the kernel (constant memory), as const.array_like
            return self.frozen_array(node, value, f"{where or 'a global array'} in a kernel")
        what = where or "this value"
        tname = type(value).__name__
        from ..cuda._devicearray import DeviceNDArray
        if isinstance(value, DeviceNDArray):
            raise self.unsupported(node, f"{what} is a device array: a kernel cannot read a "
                                   "device array from a global or closure (numba refuses it "
                                   "too)", "pass the device array to the kernel as an argument")
        if isinstance(value, np.ndarray):
            hint = ("pass the array to the kernel as an argument, or freeze it into the kernel "
                    "with cuda.const.array_like(array)")
        elif isinstance(value, str):
            hint = "strings cannot be used as data in kernels"
        else:
            hint = ("kernels can use numbers, NumPy scalars and tuples of them from globals "
                    "and closures; pass anything else as an argument")
        raise self.unsupported(node, f"{what} is a {tname}, which a kernel cannot use", hint)

    def lookup_global(self, node, name):
        own = name == self.fn.__name__ and self.fn is self.graph.root and \
            self.graph.self_device is not None
        if name in self.closure:
            try:
                value = self.closure[name].cell_contents
            except ValueError:
                if own:  # a nested, eagerly compiled @ember.jit function calling itself
                    return _Static("device", self.graph.self_device, name)
                raise self.typing(node, f"the closure variable '{name}' has no value yet") from None
        elif name in self.fn.__globals__:
            value = self.fn.__globals__[name]
        elif hasattr(builtins, name):
            value = getattr(builtins, name)
        elif own:
            # an eagerly compiled @ember.jit function calling itself: its
            # name is bound only once the decorator returns
            return _Static("device", self.graph.self_device, name)
        else:
            raise self.typing(node, f"name '{name}' is not defined",
                              "kernels see their parameters, their local variables and the "
                              "globals of their module")
        st = _classify(value, name)
        if st is not None:
            return self.resolve_cudapath(node, st)
        return self.const(node, value, f"global '{name}'")

    def resolve_cudapath(self, node, st):
        """A stub from ember.cuda (``from ember.cuda import syncthreads``)
        means what cuda.<path> means in the kernel."""
        if st.kind != "cudapath":
            return st
        from .. import cuda as ember_cuda
        resolved = _Static("cuda", ember_cuda, "cuda")
        for part in st.value.split("."):
            if not isinstance(resolved, _Static):
                break
            resolved = self.static_attr(node, resolved, part)
        return resolved

    def block(self, stmts, node=None):
        out = []
        for s in stmts:
            if self.graph.jit and isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign,
                                                 ast.Return, ast.Expr)):
                s = self.list_statement(s)
                pre, s = self.hoist_comprehensions(s)
                for p in pre:
                    r = self.stmt(p)
                    out.extend(r if isinstance(r, list) else [r] if r is not None else [])
            r = self.stmt(s)
            if r is None:
                continue
            if isinstance(r, list):
                out.extend(r)
            else:
                out.append(r)
        first = stmts[0] if stmts else node
        line, col = self.loc(first) if first is not None else (self.fdef.lineno + self.loff, 0)
        return ("block", line, col, out)

    # -- tuple knowledge (for tuple_get vs index) --

    def arity(self, t):
        """Known length of a tuple-valued tree, -1 for a tuple of unknown
        length, None when it is not known to be a tuple."""
        if not isinstance(t, tuple):
            return None
        k = t[0]
        if k == "tuple":
            return len(t[3])
        if k == "math" and t[3] in _MATH_PAIRS:
            return 2
        if k == "intrinsic" and t[3] in ("grid", "gridsize"):
            n = t[4][0][4]
            return n if n > 1 else None
        if k == "intrinsic" and t[3] == "match_all_sync":
            return 2  # (mask, pred)
        if k == "attr" and t[3] in ("shape", "strides"):
            base = t[4]
            if base[0] == "param" and self.argtypes is not None:
                d = self.argtypes[base[3]]
                if isinstance(d, tuple) and d and d[0] == "array":
                    return d[2]
            return -1
        if k == "load":
            return self.slot_arity.get(t[3])
        if k == "call":
            return self.graph.arities.get(t[3])
        if k == "param" and self.argtypes is not None:
            d = self.argtypes[t[3]]
            if isinstance(d, tuple) and d and d[0] == "tuple":
                return len(d[1])
            return None
        if k == "ifexp":
            a, b = self.arity(t[4]), self.arity(t[5])
            return a if a == b else (-1 if a is not None and b is not None else None)
        return None

    def record_arity(self, slot, value):
        n = self.arity(value)
        if slot not in self.slot_arity:
            self.slot_arity[slot] = n
        elif self.slot_arity[slot] != n:
            self.slot_arity[slot] = None

    @staticmethod
    def pure(t):
        """True when evaluating t twice is the same as once (and cheap)."""
        k = t[0]
        if k in ("const", "param", "load", "intrinsic"):
            return True
        if k == "attr":
            return _Builder.pure(t[4])
        if k == "tuple":
            return all(_Builder.pure(f) for f in t[3])
        if k == "tuple_get":
            return _Builder.pure(t[3])
        return False

    # -- statements --

    def stmt(self, s):
        line, col = self.loc(s)
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], (ast.Subscript, ast.Attribute)) and \
                isinstance(s.value, ast.Constant) and isinstance(s.value.value, (str, bytes)):
            # a[i] = "XYZ", r.y = b"XYZ": a constant string stored into a NumPy
            # string item or field (core/infer.c chars_store), as its code units
            v = s.value.value
            vl, vc = self.loc(s.value)
            if isinstance(v, str):
                data = np.array([ord(c) for c in v], dtype=np.uint32).tobytes()
                value = ("const_array", vl, vc, "U", [len(v)], data)
            else:
                value = ("const_array", vl, vc, "S", [len(v)], bytes(v))
            return self.assign_to(s.targets[0], value, s.value)
        if isinstance(s, ast.Assign):
            callee = self.struct_callee(s.value) if len(s.targets) == 1 else None
            if callee is not None:  # p = Point(x, y): a struct-model value
                return self.struct_assign(s.targets[0], s.value, callee)
            value = self.expr_or_static(s.value)
            if isinstance(value, _Static) and value.kind == "gridgroup" and \
                    len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                return self.bind_grid_group(s.targets[0], value)
            if isinstance(value, _Static):
                raise self.static_as_value(s.value, value)
            if len(s.targets) == 1:
                return self.assign_to(s.targets[0], value, s.value)
            out = []
            slot = self.temp()
            self.record_arity(slot, value)
            out.append(("assign", line, col, slot, value))
            for t in s.targets:
                r = self.assign_to(t, ("load", line, col, slot), s.value)
                out.extend(r if isinstance(r, list) else [r])
            return out
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return None
            return self.assign_to(s.target, self.expr(s.value), s.value)
        if isinstance(s, ast.AugAssign):
            return self.augassign(s)
        if isinstance(s, ast.If) and isinstance(s.test, ast.Name) and \
                isinstance(self.literal_params.get(s.test.id), bool):
            flag = self.literal_param(s.test)
            if flag is not None:
                # `if flag:` on a bool constant the caller passed: only the
                # branch taken is built (numba retries typing with the
                # literal and prunes the other branch)
                return self.block(s.body if flag else s.orelse, s)
        if isinstance(s, ast.If):
            # an elif chain nests each `if` in the `else` of the one before:
            # built in a loop (conditions and bodies in source order), so
            # that a long chain needs no deep recursion
            chain = [s]
            while len(chain[-1].orelse) == 1 and isinstance(chain[-1].orelse[0], ast.If):
                chain.append(chain[-1].orelse[0])
            parts = [(self.expr(i.test), self.block(i.body, i)) for i in chain]
            other = self.block(chain[-1].orelse, chain[-1]) if chain[-1].orelse else None
            for i, (cond, then) in zip(reversed(chain), reversed(parts)):
                line, col = self.loc(i)
                tree = ("if", line, col, cond, then, other)
                other = ("block", line, col, [tree])  # what self.block([i]) gives
            return tree
        if isinstance(s, ast.While):
            if s.orelse:
                raise self.unsupported(s, "'while ... else' is not supported",
                                       "use a flag variable set before 'break'")
            cond = self.expr(s.test)
            self.loop_depth += 1
            body = self.block(s.body, s)
            self.loop_depth -= 1
            return ("while", line, col, cond, body)
        if isinstance(s, ast.For):
            return self.for_stmt(s)
        if isinstance(s, ast.Break):
            return ("break", line, col)
        if isinstance(s, ast.Continue):
            return ("continue", line, col)
        if isinstance(s, ast.Pass):
            return None
        if isinstance(s, ast.Return):
            if s.value is None or (isinstance(s.value, ast.Constant) and s.value.value is None):
                return ("return", line, col, None)
            if self.is_kernel:
                raise self.typing(s, "a kernel cannot return a value: kernels return nothing",
                                  "write the result into an array argument instead "
                                  "(out[i] = value)")
            value = self.expr(s.value)
            self.return_arities.append(self.arity(value))
            self.return_enums.append(self.enum_class_of(s.value))
            return ("return", line, col, value)
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return None  # a docstring or a string used as a comment
            self.stmt_call = s.value  # print() and fences are statements
            try:
                v = self.expr_or_static(s.value)
            finally:
                self.stmt_call = None
            if isinstance(v, _Static) and v.kind == "gridgroup":
                return None  # cuda.cg.this_grid() on its own: nothing to run
            if isinstance(v, _Static):
                raise self.static_as_value(s.value, v)
            if v[0] in ("print", "fence", "sync", "array_assign"):
                return v
            return ("expr", line, col, v)
        if isinstance(s, ast.Raise):
            return self.raise_stmt(s)
        if isinstance(s, ast.Assert):
            cond = self.expr(s.test)
            msg = () if s.msg is None else (self.static_pyvalue(s.msg, "an assert message"),)
            body = self.raise_at(s, AssertionError, msg)
            return ("if", line, col, ("unary", line, col, "not", cond),
                    ("block", line, col, body), None)
        what = {
            ast.Try: ("'try' statements are not supported in kernels",
                      "kernels cannot raise or catch exceptions; check conditions with 'if'"),
            ast.With: ("'with' statements are not supported in kernels", None),
            ast.FunctionDef: ("defining a function inside a kernel is not supported",
                              "define it at module level and decorate it with "
                              "@cuda.jit(device=True)"),
            ast.ClassDef: ("defining a class inside a kernel is not supported", None),
            ast.Global: ("'global' is not supported: globals are frozen constants in kernels",
                         "pass values that change as arguments"),
            ast.Nonlocal: ("'nonlocal' is not supported in kernels", None),
            ast.Delete: ("'del' is not supported in kernels", None),
            ast.Import: ("'import' inside a kernel is not supported",
                         "import at module level"),
            ast.ImportFrom: ("'import' inside a kernel is not supported",
                             "import at module level"),
        }
        for cls, (msg, hint) in what.items():
            if isinstance(s, cls):
                raise self.unsupported(s, msg, hint)
        raise self.unsupported(s, f"'{type(s).__name__}' statements are not supported in kernels")

    def bind_grid_group(self, target, group):
        """g = cuda.cg.this_grid(): the name stands for the grid group from
        here on (it has no run-time value: g.sync(), g.size and g.rank are
        built where they are used). Assigning anything else to it is refused."""
        name = target.id
        if name in self.params:
            raise self.unsupported(target, f"cannot bind the parameter '{name}' to "
                                   "cuda.cg.this_grid()", "use another name")
        self.grid_groups[name] = group
        return None

    def assign_to(self, target, value, value_node):
        line, col = self.loc(target)
        if isinstance(target, ast.Name) and target.id in self.grid_groups:
            raise self.unsupported(target, f"'{target.id}' holds cuda.cg.this_grid(), a grid "
                                   "group: it cannot be assigned another value",
                                   "use another name")
        if isinstance(target, ast.Name):
            slot = self.slots[target.id]
            self.record_arity(slot, value)
            return ("assign", line, col, slot, value)
        if isinstance(target, ast.Attribute) or self.field_name(target) is not None:
            return ("store", line, col, self.field(target), [], value)  # r.x = v
        if isinstance(target, ast.Subscript) and self.slice_items(target) is not None:
            # a[1:3] = v, a[:, j] = 1.5: broadcast v into the view
            return ("array_assign", line, col, self.subscript(target), value, False)
        if isinstance(target, ast.Subscript):
            # t[0][i] = v stores into the array t[0]; a store into a tuple
            # itself (t[0] = v) is inference's error (core/infer.c)
            arr, idx = self.subscript_parts(target)
            return ("store", line, col, arr, idx, value)
        if isinstance(target, (ast.Tuple, ast.List)):
            return self.unpack(target, value, value_node)
        if isinstance(target, ast.Starred):
            raise self.unsupported(target, "starred assignment (a, *b = ...) is not supported")
        raise self.unsupported(target, f"cannot assign to {type(target).__name__}")

    def unpack(self, target, value, value_node):
        elts = target.elts
        for e in elts:
            if isinstance(e, ast.Starred):
                raise self.unsupported(e, "starred assignment (a, *b = ...) is not supported")
        line, col = self.loc(target)
        out = []
        if value[0] == "tuple":
            fields = value[3]
            if len(fields) != len(elts):
                raise self.typing(target, f"cannot unpack {len(fields)} values into "
                                  f"{len(elts)} targets")
            temps = []
            for f in fields:  # all values first: a, b = b, a swaps
                slot = self.temp()
                self.record_arity(slot, f)
                out.append(("assign", f[1], f[2], slot, f))
                temps.append(slot)
            for e, slot in zip(elts, temps):
                r = self.assign_to(e, ("load", line, col, slot), value_node)
                out.extend(r if isinstance(r, list) else [r])
            return out
        n = self.arity(value)
        if n is None and not self.is_kernel and value[0] in ("param", "load", "call"):
            n = -1  # a device function's parameter: its type comes with the call (infer)
        if n is None:
            raise self.typing(value_node, "cannot unpack a value that is not a tuple",
                              "unpack tuples, cuda.grid(n) or an array's .shape")
        if n >= 0 and n != len(elts):
            raise self.typing(target, f"cannot unpack a tuple of {n} values into "
                              f"{len(elts)} targets")
        if value[0] == "load":
            src = value
        else:
            slot = self.temp()
            self.record_arity(slot, value)
            out.append(("assign", line, col, slot, value))
            src = ("load", line, col, slot)
        for k, e in enumerate(elts):
            el, ec = self.loc(e)
            r = self.assign_to(e, ("tuple_get", el, ec, src, k), value_node)
            out.extend(r if isinstance(r, list) else [r])
        return out

    def augassign(self, s):
        line, col = self.loc(s)
        op = _BINOPS.get(type(s.op))
        if op is None:
            raise self.unsupported(s, f"the operator {type(s.op).__name__} is not supported")
        value = self.expr(s.value)
        t = s.target
        if isinstance(t, ast.Name):
            slot = self.slots[t.id]
            cur = ("load", line, col, slot)
            # aug_assign: for an array, in place (NumPy), else x = x op value
            return ("aug_assign", line, col, slot, ("binary", line, col, op, cur, value))
        if isinstance(t, ast.Attribute) or self.field_name(t) is not None:
            f = self.field(t)  # r.x += v
            return ("store", line, col, f, [], ("binary", line, col, op, f, value))
        if isinstance(t, ast.Subscript) and self.slice_items(t) is not None:
            view = self.subscript(t)  # a[1:3] += b: in place into the view
            return ("array_assign", line, col, view, ("binary", line, col, op, view, value), True)
        if isinstance(t, ast.Subscript):
            arr, idx = self.subscript_parts(t)
            cur = ("index", line, col, arr, idx)
            return ("store", line, col, arr, idx, ("binary", line, col, op, cur, value))
        raise self.unsupported(t, f"cannot use augmented assignment on {type(t).__name__}")

    def for_stmt(self, s):
        line, col = self.loc(s)
        if s.orelse:
            raise self.unsupported(s, "'for ... else' is not supported",
                                   "use a flag variable set before 'break'")
        it = s.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                self.builtin_name(it.func) in ("enumerate", "zip"):
            return self.for_items(s, it)
        np_iter = self.numpy_iterator(it)
        if np_iter is not None:
            return self.for_numpy_iterator(s, it, np_iter)
        range_fn = self.range_static(it)
        is_range = range_fn is not None
        if not is_range:
            loop = self.tuple_loop(s)
            if loop is not None:
                return loop
            return self.for_items(s, it)
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.typing(it, "range() takes 1 to 3 positional arguments")
        args = [self.expr(a) for a in it.args]
        il, ic = self.loc(it)
        zero = ("const", il, ic, "weak_int", 0)
        one = ("const", il, ic, "weak_int", 1)
        if len(args) == 1:
            start, stop, step = zero, args[0], one
        elif len(args) == 2:
            start, stop, step = args[0], args[1], one
        else:
            start, stop, step = args
            if step[0] == "const" and step[4] == 0:
                raise self.typing(it.args[2], "range() step must not be zero")
        if not isinstance(s.target, ast.Name):
            raise self.unsupported(s.target, "the loop variable of a range loop must be a name")
        slot = self.slots[s.target.id]
        self.record_arity(slot, zero)
        # prange in the root of a parallel=True function, outside another
        # prange: a parallel loop (9th item); everywhere else it is range
        is_prange = range_fn.value is not range
        parallel = is_prange and self.graph.parallel and self.fn is self.graph.root and \
            not self.prange_depth
        self.loop_depth += 1
        self.prange_depth += is_prange
        body = self.block(s.body, s)
        self.prange_depth -= is_prange
        self.loop_depth -= 1
        if parallel:
            return ("for_range", line, col, slot, start, stop, step, body, 1)
        return ("for_range", line, col, slot, start, stop, step, body)

    def range_static(self, it):
        """The _Static of `range`/`prange` a for loop iterates over (a call of
        a name, or of a module attribute such as numba.prange), else None."""
        if not isinstance(it, ast.Call):
            return None
        if isinstance(it.func, ast.Name):
            st = self.name_value(it.func)
        elif isinstance(it.func, ast.Attribute) and isinstance(it.func.value, ast.Name):
            try:
                st = self.value(it.func)
            except (TypingError, UnsupportedError):
                return None
        else:
            return None
        return st if isinstance(st, _Static) and st.kind == "range" else None

    def builtin_name(self, node):
        """The name of the builtin a Name refers to (not shadowed by a local,
        parameter, closure variable or global), else None."""
        name = node.id
        if name in self.slots or name in self.params:
            return None
        if name in self.closure:
            try:
                value = self.closure[name].cell_contents
            except ValueError:
                return None
        else:
            value = self.fn.__globals__.get(name, getattr(builtins, name, None))
        return name if value is not None and value is getattr(builtins, name, None) else None

    def name_value(self, node):
        """A Name: a tree node (param, load, constant) or a _Static."""
        name = node.id
        line, col = self.loc(node)
        lists = self.list_vars()
        if name in lists:  # a list: its items, a view of its buffer
            buf, n = lists[name][1:3]
            return ("slice", line, col, ("load", line, col, self.slots[buf]),
                    [("slice_part", line, col, None, ("load", line, col, self.slots[n]), None)])
        if name in self.grid_groups:  # g = cuda.cg.this_grid()
            return self.grid_groups[name]
        if name in self.slots:
            return ("load", line, col, self.slots[name])
        if name in self.static_params:  # a type or function passed by the caller (device_call)
            st = self.static_params[name]
            return _Static(st.kind, st.value, name)
        if name in self.params:
            i = self.params.index(name)
            d = self.argtypes[i] if self.argtypes is not None else None
            if isinstance(d, tuple) and d and d[0] == "record":  # passed as a[0] (its array)
                return ("index", line, col, ("param", line, col, i),
                        [("const", line, col, "weak_int", 0)])
            return ("param", line, col, i)
        return self.lookup_global(node, name)

    def value(self, node):
        """An expression that may be a _Static (for attribute chains and calls)."""
        if isinstance(node, ast.Name):
            return self.name_value(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):  # cuda.cg.this_grid().sync()
            return self.expr_or_static(node)
        return self.expr(node)

    def expand_starred(self, node):
        """``f(*t)`` with t a tuple of known length n: the call with t's
        items as n arguments (numba accepts it for tuples). The items read t
        again each, so t must be free of side effects: a variable, a
        constant, or math on them such as ``complex(*cmath.polar(z))``."""
        args = []
        for a in node.args:
            if not isinstance(a, ast.Starred):
                args.append(a)
                continue
            t = self.expr(a.value)
            n = self.arity(t)
            if n is None or n < 0:
                raise self.unsupported(a, "*args in calls takes a tuple of known length in "
                                       "kernels")
            if not self.side_effect_free(t):
                raise self.unsupported(a, "*args of an expression that may have side effects "
                                       "(a call of a function) is not supported",
                                       "assign the tuple to a variable first: t = f(...); g(*t)")
            line, col = self.loc(a)
            for i in range(n):
                item = _Prebuilt(self.tuple_item(t, i, line, col))
                args.append(ast.copy_location(item, a))
        new = ast.Call(func=node.func, args=args, keywords=node.keywords)
        return ast.copy_location(new, node)

    @staticmethod
    def side_effect_free(t):
        """True when evaluating t again changes nothing: pure values, array
        reads, and math functions and operators of them."""
        if _Builder.pure(t):
            return True
        k = t[0]
        if k == "math":
            return all(_Builder.side_effect_free(a) for a in t[4])
        if k == "binary":
            return _Builder.side_effect_free(t[4]) and _Builder.side_effect_free(t[5])
        if k == "unary":
            return _Builder.side_effect_free(t[4])
        if k == "tuple_get":
            return _Builder.side_effect_free(t[3])
        if k == "tuple":
            return all(_Builder.side_effect_free(x) for x in t[3])
        if k == "index":    # a read a[i, j] (an element or a view)
            return _Builder.side_effect_free(t[3]) and \
                all(_Builder.side_effect_free(x) for x in t[4])
        return False

    def expr(self, node):
        r = self.expr_or_static(node)
        if isinstance(r, _Static):
            raise self.static_as_value(node, r)
        return r

    def static_as_value(self, node, st):
        if st.kind in ("math", "cmath", "numpy", "cuda", "pymodule"):
            return self.typing(node, f"the module '{st.name}' cannot be used as a value")
        if st.kind == "dispatcher":
            return self.unsupported(node, f"launching the kernel '{st.name}' from a kernel is "
                                    "not supported", "launch kernels from the host")
        if st.kind == "dim3":
            return self.typing(node, f"cuda.{st.value} is not a value: use cuda.{st.value}.x, "
                               ".y or .z")
        if st.kind in ("gridgroup", "cg"):
            return self.unsupported(node, f"{st.name} cannot be used as a value (stored in "
                                    "an array or tuple, passed to a function)",
                                    "use g.sync(), g.size and g.rank of "
                                    "g = cuda.cg.this_grid() in the kernel itself")
        return self.typing(node, f"'{st.name}' is a function and cannot be used as a value",
                           f"call it: {st.name}(...)")

    def expr_or_static(self, node):
        if isinstance(node, _Prebuilt):
            return node.ir
        line, col = self.loc(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None:
                raise self.unsupported(node, "None cannot be used as a value in kernels")
            if isinstance(v, (str, bytes)):
                raise self.unsupported(node, "strings cannot be used as data in kernels",
                                       "kernels work on numbers and arrays of numbers")
            if v is Ellipsis:
                raise self.unsupported(node, "'...' cannot be used in kernels")
            return self.const(node, v)
        if isinstance(node, ast.Name):
            return self.name_value(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.BinOp):
            # `a + b + c + ...` nests to the left: built bottom-up in a loop,
            # so that a sum of thousands of terms needs no deep recursion
            spine = []
            while isinstance(node, ast.BinOp):
                if type(node.op) not in _BINOPS and not (
                        self.graph.jit and isinstance(node.op, ast.MatMult)):
                    raise self.unsupported(node, "the '@' operator is not supported in kernels")
                spine.append(node)
                node = node.left
            tree = self.expr(node)
            for b in reversed(spine):
                line, col = self.loc(b)
                if isinstance(b.op, ast.MatMult):  # x @ y: np.dot (core/lower_dot.c)
                    tree = ("attr", line, col, "dot", tree, self.expr(b.right))
                else:
                    tree = ("binary", line, col, _BINOPS[type(b.op)], tree, self.expr(b.right))
            return tree
        if isinstance(node, ast.UnaryOp):
            return ("unary", line, col, _UNOPS[type(node.op)], self.expr(node.operand))
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            vals = [self.expr(v) for v in node.values]
            r = vals[0]
            for v in vals[1:]:
                r = (kind, line, col, r, v)
            return r
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            return ("ifexp", line, col, self.expr(node.test), self.expr(node.body),
                    self.expr(node.orelse))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Tuple):
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    raise self.unsupported(e, "starred expressions are not supported")
            return ("tuple", line, col, [self.expr(e) for e in node.elts])
        msgs = {
            ast.Dict: ("dict literals are not supported in kernels",
                       "kernels work on numbers, tuples and arrays; pass an array argument"),
            ast.List: ("list literals are not supported in kernels",
                       "use a tuple (a, b) or pass an array argument"),
            ast.Set: ("set literals are not supported in kernels", None),
            ast.ListComp: ("list comprehensions are not supported in kernels",
                           "write a for loop that stores into an array"),
            ast.SetComp: ("set comprehensions are not supported in kernels", None),
            ast.DictComp: ("dict comprehensions are not supported in kernels", None),
            ast.GeneratorExp: ("generator expressions are not supported in kernels",
                               "write a for loop"),
            ast.Lambda: ("lambda is not supported in kernels",
                         "define a function at module level and decorate it with "
                         "@cuda.jit(device=True)"),
            ast.JoinedStr: ("f-strings are not supported in kernels",
                            "strings cannot be used as data in kernels"),
            ast.NamedExpr: ("the walrus operator ':=' is not supported in kernels", None),
            ast.Yield: ("'yield' is not supported in kernels", None),
            ast.YieldFrom: ("'yield' is not supported in kernels", None),
            ast.Await: ("'await' is not supported in kernels", None),
            ast.Starred: ("starred expressions are not supported in kernels", None),
            ast.Slice: ("a slice can only be used to index an array", None),
        }
        for cls, (msg, hint) in msgs.items():
            if isinstance(node, cls):
                if self.graph.jit and cls in (ast.Dict, ast.Set, ast.DictComp, ast.SetComp):
                    raise self.typing(node, msg, "ember.jit functions work on numbers, tuples, "
                                      "arrays and lists (numba's typed.Dict is not there)")
                raise self.unsupported(node, msg, hint)
        raise self.unsupported(node, f"'{type(node).__name__}' expressions are not supported "
                               "in kernels")

    def compare(self, node):
        line, col = self.loc(node)
        for op in node.ops:
            if type(op) not in _CMPOPS:
                what = {ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
                        ast.NotIn: "not in"}[type(op)]
                raise self.unsupported(node, f"the '{what}' operator is not supported in kernels",
                                       "compare numbers with ==, !=, <, <=, >, >=")
        operands = [node.left] + list(node.comparators)
        trees = [self.expr(o) for o in operands]
        result = None
        for i, op in enumerate(node.ops):
            name = _CMPOPS[type(op)]
            # a < b < c: (a < b) and (b < c); b is evaluated twice
            c = ("compare", line, col, name, trees[i], trees[i + 1])
            if isinstance(op, (ast.Is, ast.IsNot)) and self.never_identical(
                    operands[i], trees[i], operands[i + 1], trees[i + 1]):
                c = self.const(node, isinstance(op, ast.IsNot))
            result = c if result is None else ("and", line, col, result, c)
        return result

    def attribute(self, node):
        line, col = self.loc(node)
        attr = node.attr
        member = self.enum_member(node.value)
        if member is not None and attr in ("value", "name"):
            if attr == "name":
                raise self.unsupported(node, "strings cannot be used as data in kernels")
            return self.const(node, member.value, f"{member!r}.value")
        base = self.value(node.value)
        if isinstance(base, _Static):
            return self.static_attr(node, base, attr)
        fields = self.namedtuple_fields(base)
        if fields is not None:  # p.x of a namedtuple argument
            if attr not in fields:
                raise self.typing(node, f"unknown attribute '{attr}' of a namedtuple with "
                                  f"fields {', '.join(fields)}")
            return ("tuple_get", line, col, base, fields.index(attr))
        if attr in _ARRAY_ATTRS:
            return ("attr", line, col, attr, base)
        if attr == "$nditer":  # for x in np.nditer(a) (for_numpy_iterator)
            return ("attr", line, col, "nditer", base)
        if attr == "conjugate":
            raise self.typing(node, "conjugate is a method: call it as x.conjugate()")
        n = self.arity(base)
        if attr in _VECTOR_ATTRS and n is not None and n >= 0:  # v.x ... v.w of a vector
            k = _VECTOR_ATTRS.index(attr)
            if n <= k:
                raise self.typing(node, f"a vector of {n} element{'s' if n != 1 else ''} has "
                                  f"no attribute '{attr}'")
            return ("tuple_get", line, col, base, k)
        # a record's field (r.x; core/infer.c also reads v.x of a vector passed
        # to a device function, and says which attributes other values have)
        return ("attr", line, col, "field:" + attr, base)

    def static_attr(self, node, st, attr):
        line, col = self.loc(node)
        k = st.kind
        full = f"{st.name}.{attr}"
        if k == "libdevice":  # cuda.libdevice.sinf: _libdevice.py
            return _Static("libdevicefn", attr, full)
        if k == "enumclass":
            if attr not in st.value.__members__:
                raise self.typing(node, f"'{st.name}' has no member '{attr}'")
            return self.const(node, st.value.__members__[attr])
        if k == "math":
            if attr in _MATH_MODULE_FNS:
                return _Static("mathfn", _MATH_MODULE_FNS[attr], full)
            if attr in _MATH_CONSTS:
                return self.const(node, _MATH_CONSTS[attr])
            if callable(getattr(math, attr, None)):
                raise self.unsupported_fn(node, full, st)
        elif k == "cmath":
            if attr in _CMATH_FNS:
                return _Static("mathfn", _CMATH_FNS[attr], full)
            if attr in ("pi", "e", "tau", "inf", "nan", "infj", "nanj"):
                return self.const(node, getattr(cmath, attr))
            if callable(getattr(cmath, attr, None)):
                raise self.unsupported_fn(node, full, st)
        elif k == "numpy" and attr == "random":
            return _Static("nprandom", np.random, full)
        elif k == "nprandom":
            if attr in _RANDOM_FNS:
                return _Static("randomfn", attr, full)
            raise self.unsupported(node, f"{full} is not supported",
                                   "ember.jit functions can call np.random." +
                                   ", np.random.".join(_RANDOM_FNS))
        elif k == "numpy" and attr in _NUMPY_REDUCTIONS and attr not in _NUMPY_FNS:
            return _Static("npreduce", _NUMPY_REDUCTIONS[attr], full)
        elif k == "numpy":
            if attr in _NUMPY_FNS:
                return _Static("mathfn", _NUMPY_FNS[attr], full)
            if attr in _NUMPY_BINOPS:
                return _Static("npbinop", _NUMPY_BINOPS[attr], full)
            if attr == "where":
                return _Static("npwhere", attr, full)
            if attr in ("sort", "argsort") and self.graph.jit:
                return _Static("npsort", attr, full)
            if attr in ("dot", "matmul") and self.graph.jit:
                return _Static("npdot", attr, full)
            if attr == "stack" and self.graph.jit:
                return _Static("npstack", attr, full)
            if attr in ("unique", "searchsorted", "nonzero", "histogram", "concatenate",
                        "hstack", "vstack") and self.graph.jit:
                return _Static("npjitlib", attr, full)
            if attr in _NUMPY_CONSTS and _NUMPY_CONSTS[attr] is not None:
                return self.const(node, float(_NUMPY_CONSTS[attr]))
            if attr in _ARRAY_MAKER_PARAMS and self.graph.jit:
                return _Static("npmaker", attr, full)
            if attr in _NUMPY_MAKERS and self.graph.jit:
                raise self.unsupported(node, f"{full}() is not supported in ember.jit "
                                       "functions yet",
                                       "ember.jit functions can create arrays with np." +
                                       ", np.".join(_ARRAY_MAKER_PARAMS))
            if attr in _NUMPY_MAKERS:  # numba.cuda refuses them in kernels as well
                raise self.unsupported(node, f"creating arrays ({full}) is not supported in "
                                       "kernels",
                                       "use cuda.local.array(shape, dtype) for per-thread "
                                       "scratch, or make the array on the host "
                                       "(cuda.device_array) and pass it in")
            obj = getattr(np, attr, None)
            dn = _dtype_name_of_class(obj)
            if dn is not None:
                return _Static("dtype", dn, full)
            if callable(obj):
                raise self.unsupported_fn(node, full, st)
        elif k == "cuda":
            if attr in _DIM3:
                return _Static("dim3", attr, full)
            if attr in ("grid", "gridsize"):
                return _Static("cudafn", attr, full)
            if attr == "cg":
                return _Static("cg", None, full)
            if attr in ("popc", "brev", "clz", "ffs", "fma", "selp"):
                return _Static("cudabits", attr, full)
            if attr == "cbrt":
                return _Static("mathfn", "cbrt", full)
            if attr == "libdevice":
                return _Static("libdevice", None, full)
            if attr == "atomic":
                return _Static("atomic", None, full)
            if attr == "fp16":
                return _Static("fp16", None, full)
            if attr == "bf16":
                return _Static("bf16", None, full)
            vt = _VECTOR_ALIASES.get(attr, attr)
            if vt in _VECTOR_TYPES:
                return _Static("vectortype", vt, full)
            if attr in ("local", "shared", "const"):
                return _Static("cudans", attr, full)
            if attr == "random":  # cuda.random.xoroshiro128p_uniform_float32(...)
                from ..cuda import random as cuda_random
                return _Static("pymodule", cuda_random, full)
            if attr in _FENCES:
                return _Static("fence", _FENCES[attr], full)
            if attr in _BLOCK_OPS:
                return _Static("blockop", attr, full)
            if attr in _INTRINSICS and _INTRINSICS[attr][3] == "thread":
                if _INTRINSICS[attr][2] == 0:  # a value: cuda.laneid, cuda.warpsize
                    return ("intrinsic", line, col, attr, [])
                return _Static("intrinsic", attr, full)  # a call: cuda.nanosleep(ns)
            if attr in _CUDA_MISSING:
                raise self.unsupported(node, f"cuda.{attr} ({_CUDA_MISSING[attr]}) is not "
                                       "supported by ember; see the README's list of "
                                       "differences from numba.cuda")
        elif k == "cudans":
            if st.value == "local" and attr == "array":
                return _Static("localarray", None, full)
            if st.value == "shared" and attr == "array":
                return _Static("sharedarray", None, full)
            if st.value == "const" and attr == "array_like":
                return _Static("constarray", None, full)
            raise self.typing(node, f"cuda.{st.value} has no attribute '{attr}'",
                              "use cuda.const.array_like(global_array)" if st.value == "const"
                              else f"use cuda.{st.value}.array(shape, dtype)")
        elif k == "cg":
            if attr == "this_grid":
                return _Static("cgfn", attr, full)
            raise self.typing(node, f"cuda.cg has no attribute '{attr}'",
                              "ember's cuda.cg has this_grid()")
        elif k == "gridgroup":
            return self.grid_group_attr(node, st, attr)
        elif k == "dim3":
            axis = {"x": 0, "y": 1, "z": 2}.get(attr)
            if axis is not None:
                return ("intrinsic", line, col, st.value, [("const", line, col, "weak_int", axis)])
            raise self.typing(node, f"cuda.{st.value} has no attribute '{attr}'",
                              f"use cuda.{st.value}.x, .y or .z")
        elif k == "fp16":
            if attr in FP16_FUNCTIONS:
                return _Static("fp16fn", attr, full)
            raise self.typing(node, f"cuda.fp16 has no function '{attr}'",
                              "cuda.fp16 has " + ", ".join(sorted(FP16_FUNCTIONS)))
        elif k == "bf16":
            if attr == "bfloat16":
                return _Static("dtype", "bfloat16", full)
            if attr in _bf16.BF16_FUNCTIONS:
                return _Static("bf16fn", attr, full)
            raise self.typing(node, f"cuda.bf16 has no function '{attr}'",
                              "cuda.bf16 has bfloat16 and " +
                              ", ".join(sorted(_bf16.BF16_FUNCTIONS)))
        elif k == "atomic":
            if attr in _ATOMIC_OPS:
                return _Static("atomicfn", attr, full)
            raise self.typing(node, f"cuda.atomic has no function '{attr}'",
                              "cuda.atomic has " + ", ".join(sorted(_ATOMIC_OPS)))
        elif k == "pymodule":
            if not hasattr(st.value, attr):
                raise self.typing(node, f"module '{st.name}' has no attribute '{attr}'")
            value = getattr(st.value, attr)
            c = _classify(value, full)
            return self.resolve_cudapath(node, c) if c is not None else \
                self.const(node, value, f"'{full}'")
        raise self.unsupported(node, f"unknown attribute '{attr}' of {st.name}",
                               self.static_hint(st))

    def unsupported_fn(self, node, full, st):
        """A math, cmath or NumPy function ember does not compile: an
        UnsupportedError in kernels, a TypingError in ember.jit functions
        (numba's nopython mode reports an unsupported function so)."""
        if self.graph.jit:
            return self.typing(node, f"{full}() is not supported in ember.jit functions "
                               "(nopython mode)", self.static_hint(st))
        return self.unsupported(node, f"{full}() is not supported in kernels",
                                self.static_hint(st))

    @staticmethod
    def static_hint(st):
        return {
            "math": "kernels can call " + ", ".join(f"math.{n}" for n in sorted(
                _MATH_MODULE_FNS)) + " and use math.pi, math.e, math.tau, math.inf, math.nan",
            "cmath": "kernels can call " + ", ".join(f"cmath.{n}" for n in sorted(
                _CMATH_FNS)) + " and use the cmath constants",
            "numpy": "kernels can call " + ", ".join(f"np.{n}" for n in sorted(
                set(_NUMPY_FNS) | set(_NUMPY_BINOPS))) + " on numbers, scalar types "
                     "(np.float32(x)) and use np.pi, np.e, np.inf, np.nan",
            "cuda": "kernels can use cuda.grid, cuda.gridsize, cuda.threadIdx/blockIdx/"
                    "blockDim/gridDim, cuda.laneid, cuda.warpsize, cuda.local.array, "
                    "cuda.atomic.* and cuda.threadfence*",
        }.get(st.kind)

    def call(self, node):
        if any(isinstance(a, ast.Starred) for a in node.args):
            node = self.expand_starred(node)
        line, col = self.loc(node)
        f = node.func
        # methods on values: a.sum() ... (reductions of arrays)
        if isinstance(f, ast.Attribute) and f.attr in _REDUCTIONS:
            base = self.value(f.value)
            if not isinstance(base, _Static):
                return self.reduction_call(node, f.attr, base, node.args, f"{f.attr}()")
        if isinstance(f, ast.Name) and f.id.startswith("$"):  # list comprehensions' helpers
            args = [self.expr(a) for a in node.args]
            if f.id == "$rows0":   # no rows of the item's type (the item is only typed)
                return ("new_array", line, col, "rows0", None, ("const", line, col, "int64", 0),
                        args[0], [])
            if f.id == "$rows":    # n rows shaped as the item (typed as the witness)
                return ("new_array", line, col, "rows", None, args[0], args[1], args[2:])
            if f.id == "$len":
                return ("attr", line, col, "len", args[0])
            if f.id == "$checked":  # buffer[i], bounds-checked (a list's pop)
                return ("index", line, col, args[0], [args[1]], 1)
            if f.id == "$max8":
                return ("math", line, col, "max", [args[0], ("const", line, col, "int64", 4)])
        if isinstance(f, ast.Attribute) and f.attr == "$unravel":  # np.ndenumerate's index
            return ("attr", line, col, "unravel", self.value(f.value), self.expr(node.args[0]))
        # a.sort() (a statement), a.argsort(): along the last axis
        if isinstance(f, ast.Attribute) and f.attr in ("sort", "argsort"):
            base = self.value(f.value)
            if not isinstance(base, _Static):
                if node.args or node.keywords:
                    raise self.typing(node, f"{f.attr}() takes no arguments here (the last "
                                      "axis, NumPy's default order)")
                if f.attr == "sort":
                    self.check_statement_call(node, "a.sort")
                    return ("attr", line, col, "sort_inplace", base)
                return ("attr", line, col, "argsort", base)
        # a.reshape(shape) / a.reshape(d0, d1, ...): a view of a C-contiguous array
        if isinstance(f, ast.Attribute) and f.attr == "reshape":
            base = self.value(f.value)
            if not isinstance(base, _Static):
                if node.keywords or not node.args:
                    raise self.typing(node, "reshape() takes the new shape (no order=)")
                dims = [self.expr(a) for a in node.args]
                shape = dims[0] if len(dims) == 1 else ("tuple", line, col, dims)
                return ("new_array", line, col, "reshape", None, shape, base, [])
        # a.view(dtype): the same memory as another dtype (core/lower_view.c); the
        # run-time check NumPy makes reports a ValueError from this site
        if isinstance(f, ast.Attribute) and f.attr == "view":
            base = self.value(f.value)
            if not isinstance(base, _Static):
                if len(node.args) != 1 or node.keywords:
                    raise self.typing(node, "view() takes the dtype (a.view(np.int32))")
                dn = self.dtype_arg(node.args[0], "view")
                if dn is None:
                    raise self.typing(node, "view() needs a dtype (a.view(np.int32))")
                _raises.register(f"{self.info.filename}:{line}:{col}", ValueError, (
                    "a.view(dtype): to change to a dtype of a different size, the last "
                    "axis must be contiguous and its size in bytes a multiple of the new "
                    "itemsize",))
                return ("new_array", line, col, "view", dn, None, base, [])
        # methods on arrays: a.copy(), a.fill(v) (a statement)
        if isinstance(f, ast.Attribute) and f.attr in ("copy", "fill"):
            base = self.value(f.value)
            if not isinstance(base, _Static):
                nargs = 1 if f.attr == "fill" else 0
                if len(node.args) != nargs or node.keywords:
                    raise self.typing(node, f"{f.attr}() takes {nargs} argument"
                                      f"{'' if nargs == 1 else 's'} here"
                                      + (" (no order=)" if f.attr == "copy" else ""))
                if f.attr == "copy":
                    return ("unary", line, col, "pos", base)
                if self.stmt_call is not node:
                    raise self.typing(node, "a.fill(value) returns None: use it as a statement")
                return ("array_assign", line, col, base, self.expr(node.args[0]), False)
        # methods on values: x.conjugate()
        if isinstance(f, ast.Attribute) and f.attr == "conjugate":
            base = self.value(f.value)
            if not isinstance(base, _Static):
                if node.args or node.keywords:
                    raise self.typing(node, "conjugate() takes no arguments")
                return ("attr", line, col, "conj", base)
        callee = self.value(f)
        if not isinstance(callee, _Static):
            raise self.typing(node, "this value is not callable")
        if callee.kind == "device":
            return self.device_call(node, callee)
        if callee.kind == "structcall":
            raise self.struct_call_elsewhere(node, callee)
        if callee.kind == "foreign":
            return self.foreign_call(node, callee.value)
        if callee.kind == "localarray":
            return self.local_array_call(node)
        if callee.kind == "sharedarray":
            return self.local_array_call(node, "shared")
        if callee.kind == "constarray":
            return self.const_array_call(node)
        if callee.kind == "npmaker":
            return self.array_maker_call(node, callee.value)
        if callee.kind == "npsort":  # np.sort(a), np.argsort(a): along the last axis
            if len(node.args) != 1 or node.keywords:
                raise self.typing(node, f"{callee.name}() takes one array here (the last axis, "
                                  "NumPy's default order)")
            return ("attr", line, col, callee.value, self.expr(node.args[0]))
        if callee.kind == "npjitlib" or (callee.kind == "npwhere" and len(node.args) == 1 and
                                         not node.keywords and self.graph.jit):
            return self.jitlib_call(node, "nonzero" if callee.kind == "npwhere" else
                                    callee.value)
        if callee.kind == "npstack":  # np.stack((a, b, ...)): np.array of the arrays
            if len(node.args) != 1 or node.keywords or \
                    not isinstance(node.args[0], (ast.Tuple, ast.List)):
                raise self.typing(node, "np.stack() takes a sequence of arrays written in the "
                                  "call here: np.stack((a, b, ...)) (axis=0)")
            return ("new_array", line, col, "array", None, self.nested_sequence(node.args[0]),
                    None, [])
        if callee.kind == "npdot":  # np.dot(x, y), np.matmul(x, y): core/lower_dot.c
            if len(node.args) != 2 or node.keywords:
                raise self.typing(node, f"{callee.name}() takes two arrays here (no out=)")
            return ("attr", line, col, "dot", self.expr(node.args[0]), self.expr(node.args[1]))
        if callee.kind == "npwhere":
            if len(node.args) != 3 or node.keywords:
                raise self.typing(node, "np.where(condition, x, y) takes 3 arguments here "
                                  "(the 1-argument form, which gives indices, is not supported)")
            c, x, y = (self.expr(a) for a in node.args)
            return ("where", line, col, c, x, y)
        if callee.kind == "cudabits":
            if node.keywords:
                raise self.unsupported(node, f"keyword arguments are not supported in calls "
                                       f"to cuda.{callee.value}()")
            args = [self.expr(a) for a in node.args]
            if callee.value == "selp":  # selp(pred, a, b): a if pred else b
                if len(args) != 3:
                    raise self.typing(node, "cuda.selp(pred, a, b) takes 3 arguments")
                return ("ifexp", line, col, args[0], args[1], args[2])
            return ("intrinsic", line, col, callee.value, args)
        if callee.kind == "blockop":
            return self.block_op_call(node, callee.value)
        if callee.kind == "cgfn":  # cuda.cg.this_grid()
            if node.args or node.keywords:
                raise self.typing(node, "cuda.cg.this_grid() takes no arguments")
            return _Static("gridgroup", None, "cuda.cg.this_grid()")
        if callee.kind == "gridsync":  # g.sync()
            if node.args or node.keywords:
                raise self.typing(node, "grid.sync() takes no arguments")
            self.check_statement_call(node, "grid.sync")
            return ("sync", line, col, "grid", [])
        if callee.kind == "intrinsic":
            return self.intrinsic_call(node, callee.value)
        if callee.kind == "builtin" and callee.value == "print":
            return self.print_call(node)
        if callee.kind == "fence":
            if node.args or node.keywords:
                raise self.typing(node, f"{callee.name}() takes no arguments")
            self.check_statement_call(node, callee.name)
            return ("fence", line, col, callee.value)
        if callee.kind == "npreduce" or (
                callee.kind == "mathfn" and callee.value in ("np.min", "np.max") and
                callee.name.split(".")[-1] in ("min", "max") and
                (node.keywords or len(node.args) == 2)):
            # np.sum(a), np.argmin(a, axis=1) ...; np.min(x, y) of two numbers is
            # made the elementwise minimum by inference (core/infer.c reduction_type)
            if not node.args:
                raise self.typing(node, f"{callee.name}() takes an array")
            op = callee.value if callee.kind == "npreduce" else callee.value.split(".")[-1]
            return self.reduction_call(node, op, self.expr(node.args[0]), node.args[1:],
                                       f"{callee.name}()")
        if callee.kind in ("mathfn", "npbinop"):
            out_call = self.ufunc_out_call(node, callee)
            if out_call is not None:
                return out_call
        if node.keywords:
            raise self.unsupported(node, f"keyword arguments are not supported in calls to "
                                   f"{callee.name}()")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.unsupported(a, "*args in calls are not supported in kernels")
        k = callee.kind
        name = callee.name
        if k == "mathfn" and callee.value in ("np.min", "np.max") and \
                len(node.args) == 1 and name.split(".")[-1] in ("min", "max", "amin", "amax"):
            # np.min(a) / np.max(a) of one array (two values: minimum)
            return ("attr", line, col, callee.value.split(".")[-1], self.expr(node.args[0]))
        if k == "mathfn":
            return ("math", line, col, callee.value, [self.expr(a) for a in node.args])
        if k == "fp16fn":
            return self.fp16_call(node, callee.value)
        if k == "bf16fn":
            n = _bf16.arity(callee.value)
            if len(node.args) != n:
                raise self.typing(node, f"cuda.bf16.{callee.value}() takes {n} argument"
                                  f"{'' if n == 1 else 's'}, {len(node.args)} given")
            return _bf16.tree(callee.value, line, col, [self.expr(a) for a in node.args])
        if k == "vectortype":
            return self.vector_call(node, callee.value)
        if k == "randomfn":
            return self.random_call(node, callee.value)
        if k == "npbinop":
            if len(node.args) != 2:
                raise self.typing(node, f"{name}() takes 2 arguments in kernels, "
                                  f"{len(node.args)} given")
            return ("binary", line, col, callee.value, self.expr(node.args[0]),
                    self.expr(node.args[1]))
        if k == "overloaded":
            return self.overload_call(node, callee)
        if k == "libdevicefn":
            return _libdevice.build(self, node, callee.value, [self.expr(a) for a in node.args])
        if k == "opfn":  # operator.add(a, b) is a + b ...
            kind, op, nargs = callee.value
            if len(node.args) != nargs:
                raise self.typing(node, f"{name}() takes {nargs} argument"
                                  f"{'s' if nargs > 1 else ''}, {len(node.args)} given")
            args = [self.expr(a) for a in node.args]
            if kind in ("binary", "compare"):
                return (kind, line, col, op, args[0], args[1])
            if kind == "unary":
                return ("unary", line, col, op, args[0])
            if kind == "truth":
                return ("unary", line, col, "not", ("unary", line, col, "not", args[0]))
            return ("math", line, col, "abs", args)  # operator.abs
        if k == "dtype":
            if len(node.args) != 1:
                raise self.typing(node, f"{name}() takes one argument in kernels")
            return ("cast", line, col, callee.value, self.expr(node.args[0]))
        if k == "cudafn":
            if len(node.args) != 1:
                raise self.typing(node, f"cuda.{callee.value}(ndim) takes one argument")
            n = self.const_int(node.args[0])
            if n not in (1, 2, 3):
                raise self.typing(node.args[0], f"cuda.{callee.value}(ndim) takes a constant "
                                  "1, 2 or 3")
            al, ac = self.loc(node.args[0])
            return ("intrinsic", line, col, callee.value, [("const", al, ac, "weak_int", n)])
        if k == "builtin":
            return self.builtin_call(node, callee.value)
        if k == "atomicfn":
            return self.atomic_call(node, callee.value)
        if k == "range":
            raise self.unsupported(node, "range() can only be used in a for loop header")
        if k == "device":
            return self.device_call(node, callee)
        if k == "dispatcher":
            kname = getattr(callee.value, "__name__", name)
            raise self.unsupported(node, f"calling the kernel '{kname}' from a kernel is not "
                                   "supported", "make it a device function: "
                                   "@cuda.jit(device=True)")
        if k == "pyfunc":
            fname = getattr(callee.value, "__name__", name)
            if getattr(builtins, fname, None) is callee.value:
                raise self.unsupported(node, f"the builtin {fname}() is not supported in "
                                       "kernels", "kernels can call abs, min, max, round, len, "
                                       "int, float, bool, complex and math/NumPy functions")
            if self.graph.jit:
                raise self.typing(node, f"cannot call the Python function '{fname}' from an "
                                  "ember.jit function (nopython mode)",
                                  f"decorate `{fname}` with @ember.jit")
            raise self.unsupported(node, f"cannot call the Python function '{fname}' from a "
                                   "kernel", f"decorate `{fname}` with @cuda.jit(device=True)")
        if k in ("math", "cmath", "numpy", "cuda", "pymodule"):
            raise self.typing(node, f"the module '{name}' is not callable")
        if k == "dim3":
            raise self.typing(node, f"cuda.{callee.value} is not callable; use "
                              f"cuda.{callee.value}.x")
        raise self.unsupported(node, f"'{name}' cannot be called from a kernel")

    def random_call(self, node, fname):
        """np.random.<fname>(...) with NumPy's defaults filled in: seed(s),
        random(), uniform(low=0, high=1), normal(loc=0, scale=1),
        randint(low, high) or randint(high) (low 0). One value per call
        (no size=)."""
        line, col = self.loc(node)
        lo, hi = _RANDOM_FNS[fname]
        n = len(node.args)
        if not lo <= n <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise self.typing(node, f"np.random.{fname}() takes {want} arguments here, "
                              f"{n} given", "ember.jit draws one number per call (no size=)")
        args = [self.expr(a) for a in node.args]
        if fname == "seed":
            self.check_statement_call(node, "np.random.seed")
        elif fname in ("uniform", "normal"):
            args += [("const", line, col, "weak_float", v) for v in (0.0, 1.0)[n:]]
        elif fname == "randint" and n == 1:
            args = [("const", line, col, "weak_int", 0)] + args
        return ("intrinsic", line, col, "random_" + fname, args)

    def check_statement_call(self, node, name):
        if node is not self.stmt_call:
            raise self.typing(node, f"{name}() returns nothing, so its result cannot be used",
                              f"call {name}() as a statement on its own line")

    def print_call(self, node):
        """print(a, "text", b, sep=" ", end="\\n"): one line printed by each
        thread that runs it (numba.cuda formats: %d, %f)."""
        line, col = self.loc(node)
        self.check_statement_call(node, "print")
        opts = {"sep": " ", "end": "\n"}
        for kw in node.keywords:
            if kw.arg not in opts or not (isinstance(kw.value, ast.Constant) and
                                          isinstance(kw.value.value, str)):
                raise self.unsupported(kw.value if kw.arg else node,
                                       "print() in a kernel takes only sep= and end= with "
                                       "string constants")
            opts[kw.arg] = kw.value.value
        pieces, values = [], []
        for a in node.args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                pieces.append(a.value.replace("\x01", "?"))
            elif isinstance(a, ast.Starred):
                raise self.unsupported(a, "*args in calls are not supported in kernels")
            else:
                pieces.append("\x01")
                values.append(self.expr(a))
        text = opts["sep"].replace("\x01", "?").join(pieces) + opts["end"].replace("\x01", "?")
        return ("print", line, col, text, values)

    def const_array_call(self, node):
        """cuda.const.array_like(ary): a global or closure NumPy array frozen
        into the kernel as constant memory (its values at compile time)."""
        line, col = self.loc(node)
        if len(node.args) != 1 or node.keywords:
            raise self.typing(node, "cuda.const.array_like(ary) takes one argument")
        arg = node.args[0]
        value = None
        if isinstance(arg, ast.Name) and arg.id not in self.slots and arg.id not in self.params:
            if arg.id in self.closure:
                try:
                    value = self.closure[arg.id].cell_contents
                except ValueError:
                    value = None
            else:
                value = self.fn.__globals__.get(arg.id)
        if not isinstance(value, np.ndarray):
            raise self.typing(arg, "cuda.const.array_like needs a global or closure NumPy array "
                              "(its values are frozen into the kernel when it compiles)",
                              "pass arrays that change as kernel arguments")
        return self.frozen_array(arg, value, "cuda.const.array_like")

    def frozen_array(self, node, value, what):
        """A NumPy array frozen into the compiled code with its values now:
        a read-only array (constant memory on GPUs)."""
        line, col = self.loc(node)
        dn = _dtype_name_of_class(value.dtype.type)
        if value.dtype.fields is not None:  # records: their descriptor (dispatcher.py)
            from .dispatcher import _record_desc, _record_for_c
            try:
                dn = _record_for_c(_record_desc(value.dtype, what))
            except TypeError as exc:
                raise self.typing(node, str(exc)) from None
        if dn is None or not value.dtype.isnative or not 1 <= value.ndim <= 32:
            raise self.typing(node, f"{what}: arrays of {value.dtype} with {value.ndim} "
                              "dimensions cannot be frozen into compiled code (1 to 32 "
                              "dimensions of bool, integers, float32/64, complex)",
                              "pass the array as an argument instead")
        data = np.ascontiguousarray(value).tobytes()
        return ("const_array", line, col, dn, [int(d) for d in value.shape], data)

    def grid_group_attr(self, node, st, attr):
        """g.sync (called: a barrier for every thread of the grid; on a GPU
        the kernel is launched cooperatively), g.size (threads in the grid)
        and g.rank (this thread's rank in it: the linear block index times
        the threads per block plus the linear thread index, x fastest), both
        int64."""
        line, col = self.loc(node)
        if attr == "sync":
            return _Static("gridsync", None, f"{st.name}.sync")
        if attr not in _GRID_GROUP_ATTRS:
            raise self.typing(node, f"a grid group (cuda.cg.this_grid()) has no attribute "
                              f"'{attr}'", "it has " + ", ".join(_GRID_GROUP_ATTRS))

        def dim(name, axis):
            v = ("intrinsic", line, col, name, [("const", line, col, "weak_int", axis)])
            return ("cast", line, col, "int64", v)

        def mul(a, b):
            return ("binary", line, col, "mul", a, b)

        def add(a, b):
            return ("binary", line, col, "add", a, b)

        per_block = mul(mul(dim("blockDim", 0), dim("blockDim", 1)), dim("blockDim", 2))
        if attr == "size":
            blocks = mul(mul(dim("gridDim", 0), dim("gridDim", 1)), dim("gridDim", 2))
            return mul(blocks, per_block)
        block = add(mul(add(mul(dim("blockIdx", 2), dim("gridDim", 1)), dim("blockIdx", 1)),
                        dim("gridDim", 0)), dim("blockIdx", 0))
        thread = add(mul(add(mul(dim("threadIdx", 2), dim("blockDim", 1)),
                             dim("threadIdx", 1)), dim("blockDim", 0)), dim("threadIdx", 0))
        return add(mul(block, per_block), thread)

    def block_op_call(self, node, op):
        """syncthreads(), syncwarp(mask), syncthreads_count/and/or(pred), the
        warp shuffles, votes and matches: IR for every target (the CPU device
        gives them block semantics by barrier fission)."""
        line, col = self.loc(node)
        if node.keywords:
            raise self.unsupported(node, f"keyword arguments are not supported in calls to "
                                   f"cuda.{op}()")
        nargs = _BLOCK_OPS[op]
        args = node.args
        if op == "syncwarp" and not args:
            args = [ast.Constant(0xFFFFFFFF)]
            ast.copy_location(args[0], node)
        if isinstance(nargs, tuple):  # a shuffle: (mask, value, lane[, width])
            if len(args) not in nargs:
                lane = {"shfl_sync": "src_lane", "shfl_xor_sync": "lane_mask"}.get(op, "delta")
                raise self.typing(node, f"cuda.{op}() takes 3 or 4 arguments (mask, value, "
                                  f"{lane}[, width]), {len(node.args)} given")
        elif len(args) != nargs:
            raise self.typing(node, f"cuda.{op}() takes {nargs} argument"
                              f"{'' if nargs == 1 else 's'}, {len(node.args)} given")
        values = [self.expr(a) for a in args]
        if op in ("syncthreads", "syncwarp"):
            self.check_statement_call(node, f"cuda.{op}")
            return ("sync", line, col, "threads" if op == "syncthreads" else "warp", values)
        return ("intrinsic", line, col, op, values)

    def vector_call(self, node, name):
        """cuda.float32x4(...) and the other vector types: a tuple of the
        base type. Each argument is a number (one element) or a vector
        (its elements), as numba-cuda: float32x4(v2, 1.0, 2.0)."""
        line, col = self.loc(node)
        base, count = _VECTOR_TYPES[name].base, _VECTOR_TYPES[name].num_elements
        items = []
        for a in node.args:
            t = self.expr(a)
            n = self.arity(t)
            if n is None:
                items.append(("cast", line, col, base, t))
            elif t[0] == "tuple":
                items += [("cast", line, col, base, f) for f in t[3]]
            elif n < 0 or (not self.pure(t) and n > 1):
                raise self.unsupported(a, f"cuda.{name}(): a vector argument must be a "
                                       "variable or a vector made in place")
            else:
                al, ac = self.loc(a)
                items += [("cast", line, col, base, ("tuple_get", al, ac, t, k))
                          for k in range(n)]
        if len(items) != count:
            raise self.typing(node, f"cuda.{name}() needs {count} element"
                              f"{'s' if count != 1 else ''} (numbers, or vectors that add "
                              f"up to {count}), {len(items)} given")
        return ("tuple", line, col, items)

    def fp16_call(self, node, fn):
        """cuda.fp16.<fn>(...): numba's float16 intrinsics, as tree nodes on
        operands converted to float16 (hfma: one rounding of a*b + c,
        computed exactly enough in float64)."""
        line, col = self.loc(node)
        nargs = 3 if fn == "hfma" else 2 if fn in _FP16_BINARY or fn in _FP16_COMPARE or \
            fn in ("hmax", "hmin") else 1
        if len(node.args) != nargs:
            raise self.typing(node, f"cuda.fp16.{fn}() takes {nargs} argument"
                              f"{'' if nargs == 1 else 's'}, {len(node.args)} given")
        args = [("cast", line, col, "float16", self.expr(a)) for a in node.args]
        if fn in _FP16_BINARY:
            return ("binary", line, col, _FP16_BINARY[fn], args[0], args[1])
        if fn in _FP16_COMPARE:
            return ("compare", line, col, _FP16_COMPARE[fn], args[0], args[1])
        if fn in _FP16_MATH:
            return ("math", line, col, _FP16_MATH[fn], args)
        one = ("const", line, col, "float16", 1.0)
        if fn == "hneg":
            return ("unary", line, col, "neg", args[0])
        if fn == "hrcp":
            return ("binary", line, col, "truediv", one, args[0])
        if fn == "hrsqrt":
            return ("binary", line, col, "truediv", one, ("math", line, col, "np.sqrt", args))
        if fn == "hexp10":
            return ("binary", line, col, "pow", ("const", line, col, "float16", 10.0), args[0])
        wide = [("cast", line, col, "float64", a) for a in args]  # hfma
        return ("cast", line, col, "float16", ("intrinsic", line, col, "fma", wide))

    def intrinsic_call(self, node, name):
        """A call of a per-thread intrinsic of the table (cuda.nanosleep(ns)):
        its arguments counted here, typed by core/infer.c."""
        label, lo, hi, _ = _INTRINSICS[name]
        if node.keywords:
            raise self.unsupported(node, f"keyword arguments are not supported in calls to "
                                   f"{label}()")
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.typing(node, f"{label}() takes {want} argument"
                              f"{'' if want == '1' else 's'}, {len(node.args)} given")
        line, col = self.loc(node)
        return ("intrinsic", line, col, name, [self.expr(a) for a in node.args])

    def local_array_call(self, node, space="local"):
        """cuda.local.array / cuda.shared.array(shape, dtype): shape a
        constant int or tuple of ints (0 for a shared array: the launch's
        dynamic shared memory), dtype a NumPy or ember scalar type (or its
        name)."""
        what = f"cuda.{space}.array"
        line, col = self.loc(node)
        names = ("shape", "dtype")
        given = dict(zip(names, node.args))
        if len(node.args) > 2:
            raise self.typing(node, f"{what}(shape, dtype) takes 2 arguments")
        for kw in node.keywords:
            if kw.arg not in names or kw.arg in given:
                raise self.typing(node, f"{what}() got an unexpected or repeated "
                                  f"argument '{kw.arg}'")
            given[kw.arg] = kw.value
        if len(given) != 2:
            raise self.typing(node, f"{what}(shape, dtype) needs a shape and a dtype")
        shape = self.const_shape(given["shape"])
        if shape is None:
            raise self.typing(given["shape"], f"{what}: the shape must be a constant "
                              "int or tuple of ints (known when the kernel compiles)",
                              "use a literal or a global constant; local arrays cannot have "
                              "a size computed at run time")
        dynamic = space == "shared" and shape == [0]
        if not dynamic and (not 1 <= len(shape) <= 32 or
                            any(not 1 <= d < 2**31 for d in shape)):
            raise self.typing(given["shape"], f"{what}: bad shape {tuple(shape)} "
                              "(1 to 32 extents, each at least 1"
                              + (", or 0 for dynamic shared memory)" if space == "shared"
                                 else ")"))
        dt = given["dtype"]
        if isinstance(dt, ast.Constant) and isinstance(dt.value, str):
            dn = _dtype_name_of_class(getattr(np, dt.value, None)) if dt.value != "bool" \
                else "bool"
        else:
            v = self.value(dt)
            dn = v.value if isinstance(v, _Static) and v.kind in ("dtype", "recdtype") \
                else None
        if dn is None:
            raise self.typing(dt, f"{what}: dtype must be a scalar type such as "
                              "float32, np.float64 or 'int32', or a record type")
        if dn == "bfloat16":
            raise self.typing(dt, f"{what}: there are no arrays of bfloat16 (NumPy has no "
                              "bfloat16 dtype)", _BF16_ARRAY_HINT)
        return ("local_array", line, col, dn, shape, space)

    def array_maker_call(self, node, name):
        """np.empty/zeros/ones/full(shape, ...), np.*_like(a, ...) and
        np.arange(...) in an ember.jit function: a new C-ordered array. The
        shape is an int or a tuple of ints known at run time; the dtype must
        be known when the function compiles (core/infer.c types the result,
        core/lower_arrayexpr.c new_array makes it)."""
        line, col = self.loc(node)
        what = f"np.{name}"
        params = _ARRAY_MAKER_PARAMS[name]
        if len(node.args) > len(params):
            raise self.typing(node, f"{what}() takes at most {len(params)} arguments "
                              f"({', '.join(params)}), {len(node.args)} given")
        given = dict(zip(params, node.args))
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in params or kw.arg in given:
                raise self.typing(node, f"{what}() got an unexpected or repeated argument "
                                  f"'{kw.arg}'", f"its arguments are {', '.join(params)}")
            given[kw.arg] = kw.value
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.unsupported(a, f"*args in a call of {what}() are not supported")
        dtype = self.dtype_arg(given["dtype"], what) if "dtype" in given else None
        if name in ("array", "asarray"):
            # from an array (asarray: itself when the dtype is its own), or from
            # nested lists / tuples of numbers (a tuple tree; core/lower_build.c)
            first = params[0]
            if first not in given:
                raise self.typing(node, f"{what}() needs its '{first}' argument")
            return ("new_array", line, col, name, dtype, self.nested_sequence(given[first]),
                    None, [])
        if name == "copy":  # np.copy(a): a new C-ordered array (as +a)
            if "a" not in given:
                raise self.typing(node, "np.copy() needs its 'a' argument")
            return ("unary", line, col, "pos", self.expr(given["a"]))
        if name == "linspace":
            for p in ("start", "stop"):
                if p not in given:
                    raise self.typing(node, f"np.linspace() needs its '{p}' argument")
            rs = given.get("retstep")
            if rs is not None and not (isinstance(rs, ast.Constant) and rs.value is False):
                raise self.unsupported(rs, "np.linspace(retstep=True) is not supported",
                                       "compute the step: (stop - start) / (num - 1)")
            num = self.expr(given["num"]) if "num" in given else ("const", line, col,
                                                                  "weak_int", 50)
            end = self.expr(given["endpoint"]) if "endpoint" in given else \
                ("const", line, col, "bool", True)
            return ("new_array", line, col, "linspace", dtype, None, None,
                    [self.expr(given["start"]), self.expr(given["stop"]), num, end])
        if name == "eye":
            if "N" not in given:
                raise self.typing(node, "np.eye() needs its 'N' argument")
            m = given.get("M")
            args = [self.expr(given["N"])]
            if m is not None and not (isinstance(m, ast.Constant) and m.value is None):
                args.append(self.expr(m))
            args.append(self.expr(given["k"]) if "k" in given else ("const", line, col,
                                                                    "weak_int", 0))
            return ("new_array", line, col, "eye", dtype, None, None, args)
        if name == "arange":
            if "start" not in given:
                raise self.typing(node, "np.arange() needs at least a stop value")
            bounds = [given.get(p) for p in ("start", "stop", "step")]
            if bounds[1] is None:  # arange(stop) or arange(stop, step=s), as NumPy
                bounds = [None, bounds[0], bounds[2]]
            trees = [self.expr(b) if b is not None else ("const", line, col, "weak_int", d)
                     for b, d in zip(bounds, (0, None, 1))]
            return ("new_array", line, col, "arange", dtype, None, None, trees)
        first = params[0]
        if first not in given:
            raise self.typing(node, f"{what}() needs its '{first}' argument")
        shape = self.expr(given[first])
        fill = None
        kind = name[:-5] if name.endswith("_like") else name
        if kind == "full":
            if "fill_value" not in given:
                raise self.typing(node, f"{what}() needs a fill_value")
            fill = self.expr(given["fill_value"])
        elif kind == "ones":
            kind, fill = "full", ("const", line, col, "weak_int", 1)
            if dtype is None and not name.endswith("_like"):
                dtype = "float64"
        return ("new_array", line, col, kind, dtype, shape, fill, [])

    def dtype_arg(self, node, what):
        """The name of a dtype given as np.float32, 'float32', np.dtype('f4'),
        float or a global dtype object: it must be known when the function
        compiles."""
        dn = None
        spec = None
        if isinstance(node, ast.Constant) and node.value is None:
            return None  # NumPy's default for the maker
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            spec = node.value
        elif isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "dtype" and isinstance(self.value(node.func.value), _Static) \
                and self.value(node.func.value).kind == "numpy":
            spec = node.args[0].value
        if spec is not None:
            try:
                dt = np.dtype(spec)
            except (TypeError, ValueError):
                dt = None
            if dt is not None and dt.isnative and (dt.kind == "b" or dt.name in KERNEL_DTYPES):
                dn = "bool" if dt.kind == "b" else dt.name
        else:
            try:
                v = self.value(node)
            except (TypingError, UnsupportedError):
                v = _Static("other", None, "")  # np.str_, np.datetime64 ...
            if isinstance(v, _Static) and v.kind == "dtype":
                dn = v.value
            elif isinstance(v, _Static) and v.kind == "builtin" and v.value in _BUILTIN_DTYPES:
                dn = _BUILTIN_DTYPES[v.value]
            elif not isinstance(v, _Static):
                raise self.typing(node, f"{what}(): the dtype must be known when the function "
                                  "compiles, not a run-time value",
                                  "write it in place (np.float32, 'float32') or use a global")
        if dn == "bfloat16":
            raise self.typing(node, f"{what}(): there are no arrays of bfloat16 (NumPy has no "
                              "bfloat16 dtype)", _BF16_ARRAY_HINT)
        if dn is None:
            raise self.typing(node, f"{what}(): unsupported dtype "
                              f"{ast.unparse(node) if hasattr(ast, 'unparse') else ''}",
                              "use one of " + ", ".join(sorted(KERNEL_DTYPES)))
        return dn

    def const_local(self, node):
        """The value expression of a local bound once to it at the function's
        top level before `node` (a Name) is read, or None."""
        s = self.const_locals.get(node.id) if isinstance(node, ast.Name) else None
        if s is None or node.id in self.const_visiting or \
                (s.lineno, s.col_offset) >= (node.lineno, node.col_offset):
            return None
        return s.value

    def const_shape(self, node):
        """A constant shape: [n] for an int, [n, m, ...] for a tuple; else None."""
        bound = self.const_local(node)
        if bound is not None and isinstance(bound, ast.Tuple):
            self.const_visiting.add(node.id)
            try:
                return self.const_shape(bound)
            finally:
                self.const_visiting.discard(node.id)
        if isinstance(node, ast.Tuple):
            dims = [self.const_int(e) for e in node.elts]
            return None if any(d is None for d in dims) else dims
        d = self.const_int(node)
        if d is not None:
            return [d]
        if isinstance(node, ast.Name) and isinstance(self.literal_params.get(node.id), tuple):
            lit = self.literal_param(node)
            if lit is not None:
                return list(lit)
        try:
            t = self.expr(node)
        except (UnsupportedError, TypingError):
            return None
        if t[0] == "tuple" and all(f[0] == "const" and f[3].startswith(("weak_int", "int",
                                                                          "uint"))
                                   for f in t[3]):
            return [f[4] for f in t[3]]
        return None

    def atomic_call(self, node, op):
        """cuda.atomic.<op>(ary, idx, val); cas(ary, idx, old, val);
        compare_and_swap(ary, old, val) works on ary[0] (numba). idx: one
        integer or a tuple with one per dimension."""
        line, col = self.loc(node)
        a = node.args
        if op == "compare_and_swap":
            if len(a) != 3:
                raise self.typing(node, "cuda.atomic.compare_and_swap(ary, old, val) takes "
                                  "3 arguments")
            arr = self.expr(a[0])
            return ("atomic", line, col, "cas", arr, [("const", line, col, "weak_int", 0)],
                    [self.expr(a[1]), self.expr(a[2])])
        want = 4 if op == "cas" else 3
        if len(a) != want:
            form = "(ary, idx, old, val)" if op == "cas" else "(ary, idx, val)"
            raise self.typing(node, f"cuda.atomic.{op}{form} takes {want} arguments")
        arr = self.expr(a[0])
        sl = a[1]
        if isinstance(sl, ast.Tuple):
            idx = [self.expr(e) for e in sl.elts]
        else:
            t = self.expr(sl)
            n = self.arity(t)
            if n is None:
                idx = [t]
            elif t[0] == "tuple":
                idx = list(t[3])
            elif n < 0 or not self.pure(t):
                raise self.unsupported(sl, "the index of an atomic operation must be an "
                                       "integer or a tuple of known length")
            else:
                il, ic = self.loc(sl)
                idx = [("tuple_get", il, ic, t, k) for k in range(n)]
        return ("atomic", line, col, op, arr, idx, [self.expr(v) for v in a[2:]])

    def device_call(self, node, callee):
        """A call of a device function: positional and keyword arguments
        matched to its parameters, defaults (frozen as constants) filled in."""
        line, col = self.loc(node)
        df = callee.value
        pyf = inspect.unwrap(df.py_func)
        name = pyf.__name__
        code = pyf.__code__
        params = list(code.co_varnames[:code.co_argcount])
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.unsupported(a, "*args in calls are not supported in kernels")
        if len(node.args) > len(params):
            raise self.typing(node, f"{name}() takes {len(params)} positional argument"
                              f"{'' if len(params) == 1 else 's'} but {len(node.args)} "
                              "were given")
        given = {p: a for p, a in zip(params, node.args)}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.unsupported(kw, "**kwargs in calls are not supported in kernels")
            if kw.arg not in params:
                raise self.typing(node, f"{name}() got an unexpected keyword argument "
                                  f"'{kw.arg}'")
            if kw.arg in given:
                raise self.typing(node, f"{name}() got multiple values for argument "
                                  f"'{kw.arg}'")
            given[kw.arg] = kw.value
        defaults = pyf.__defaults__ or ()
        first_default = len(params) - len(defaults)
        args = []
        # parameters given a type (float32, np.int64) or a function (a device
        # function, math.sin): bound at compile time, one callee per binding
        statics = {}
        for i, p in enumerate(params):
            if p in given:
                v = self.value(given[p])
                if isinstance(v, _Static):
                    # a function, type or module argument (numba types a
                    # dispatcher argument as its Dispatcher type, a
                    # compile-time constant; cuda.atomic.add, float32 ...
                    # likewise): bound in the callee, a tree per binding
                    statics[p] = v
                    v = ("const", line, col, "weak_int", 0)  # unused placeholder
                args.append(v)
            elif i >= first_default:
                args.append(self.const(node, defaults[i - first_default],
                                       f"the default of parameter '{p}' of {name}()"))
            else:
                raise self.typing(node, f"{name}() missing required argument '{p}'")
        literals = {p: lit for p, a in zip(params, args)
                    if p not in statics and (lit := _literal_of(a)) is not None}
        key = self.device_key(node, df, pyf, statics, literals)
        return ("call", line, col, key, args)

    def foreign_call(self, node, decl):
        """A call of a cuda.declare_device function: positional arguments
        only; its tree (built once per kernel) has an empty body, the
        declared signature and ('foreign', symbol, kinds, 0): the cpu
        device's dispatcher puts the implementation's address there."""
        line, col = self.loc(node)
        g = self.graph
        if g.jit:
            raise self.unsupported(node, f"'{decl.name}' is a foreign function "
                                   "(cuda.declare_device): only cuda.jit kernels and device "
                                   "functions can call it")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.typing(node, f"{decl.name}() is a foreign function: pass its "
                              "arguments by position")
        nparams = len(decl.sig.args)
        if len(node.args) != nparams:
            raise self.typing(node, f"{decl.name}() takes {nparams} argument"
                              f"{'' if nparams == 1 else 's'} ({decl.sig}), "
                              f"{len(node.args)} given")
        args = []
        for a in node.args:
            v = self.value(a)
            if isinstance(v, _Static):
                raise self.static_as_value(a, v)
            args.append(v)
        gkey = ("foreign", id(decl))
        key = g.keys.get(gkey)
        if key is None:
            key = len(g.trees)
            g.keys[gkey] = key
            ret, params, kinds = decl._descriptors()
            g.trees.append(("function", decl.name, self.info.filename, False,
                            [f"arg{i}" for i in range(nparams)], [],
                            ("block", line, col, []), (ret, params),
                            ("foreign", decl.name, kinds, 0)))
            g.sigs[key] = (ret, params)
            g.arities[key] = None
            g.foreign[key] = decl
        return ("call", line, col, key, args)

    def device_key(self, node, df, pyf, statics=None, literals=None):
        g = self.graph
        literals = literals or {}
        if statics:  # one tree per binding of the type parameters
            skey = (pyf, tuple(sorted((p, v.kind, _static_key(v.value))
                                      for p, v in statics.items())))
            lkey = self.literal_key(skey, literals)
            key = g.keys.get(lkey)
            if key is not None:
                return key
            if pyf in g.stack:
                raise self.unsupported(node, f"recursive call to '{pyf.__qualname__}' with a "
                                       "type or a function as an argument is not supported")
            return self.build_device(node, df, pyf, lkey, statics, literals)
        if pyf not in g.stack and pyf is not self.fn and \
                not (pyf is g.root and g.self_device is not None):
            lkey = self.literal_key(pyf, literals)
            if lkey is not pyf:  # a callee that needs constants: a tree per their values
                key = g.keys.get(lkey)
                return key if key is not None else \
                    self.build_device(node, df, pyf, lkey, None, literals)
        name = pyf.__qualname__
        root_self = pyf is g.root and g.keys.get(pyf) is None and g.self_device is not None
        if root_self:
            # the @ember.jit root calling itself: it is built again as a
            # callee typed by its explicit signature, which recurses
            df = g.self_device
        elif pyf in g.stack or pyf is self.fn:
            key = g.keys.get(pyf)
            if key is not None and (g.sigs.get(key) is not None or not g.jit):
                # recursion, typed by the explicit signature; a device
                # function without one by its other returns (core/infer.c)
                g.recursive.add(pyf)
                return key
            if g.jit:
                raise self.typing(node, f"recursive call to '{name}' cannot be typed without "
                                  "a signature", f"give '{name}' an explicit signature, e.g. "
                                  "@ember.jit('int64(int64)')")
            raise self.typing(node, f"recursive call to device function '{name}' cannot be "
                              "typed without a signature",
                              f"give '{name}' an explicit signature, e.g. "
                              "@cuda.jit('int64(int64)', device=True)")
        key = g.keys.get(pyf)
        if key is not None:
            return key
        return self.build_device(node, df, pyf, pyf, None, literals)

    def literal_key(self, base, literals):
        """The graph key of a callee (`base`: the function, or it with its
        bound arguments) for a call passing `literals`: `base` itself unless
        an earlier build read some parameters as constants (a shape), then
        `base` with this call's values of those (numba's literal dispatch)."""
        uses = self.graph.literal_uses.get(base)
        if not uses:
            return base
        return (base, "literals", tuple((p, literals.get(p)) for p in uses))

    def build_device(self, node, df, pyf, gkey, statics, literals=None):
        """Build a device function's tree once per graph key: the function,
        or (function, its type arguments), maybe with the constants it
        needs (literal_key)."""
        g = self.graph
        name = pyf.__qualname__
        info, fdef = _parse(pyf)
        b = _Builder(pyf, info, fdef, False, None, g)
        b.static_params = dict(statics or {})
        b.literal_params = dict(literals or {})
        # the key exists before the body is built, so that the body can call itself
        key = len(g.trees)
        g.trees.append(None)
        g.keys[gkey] = key
        g.sigs[key] = self.device_signature(node, df)
        if g.sigs[key] is not None:
            ret = g.sigs[key][0]
            g.arities[key] = len(ret[1]) if isinstance(ret, tuple) and ret[0] == "tuple" \
                else None
        g.stack.append(pyf)
        try:
            tree = b.build()
        except (TypingError, UnsupportedError) as exc:
            if not hasattr(exc, "msg") or getattr(exc, "in_device", False):
                raise
            cl, cc = self.loc(node)
            what = "function" if g.jit else "device function"
            msg = (f"{exc.msg} (in {what} '{name}' called from "
                   f"{self.info.filename}:{cl})")
            new = _error(type(exc), info, exc.line, exc.col, msg, exc.hint)
            new.in_device = True
            raise new from None
        finally:
            g.stack.pop()
        if b.used_literals and pyf in g.recursive:
            # its recursive calls share this tree, built for the outer values
            p = sorted(b.used_literals)[0]
            raise self.unsupported(node, f"the recursive device function '{name}' uses its "
                                   f"parameter '{p}' as a constant (an array shape); "
                                   "recursive functions cannot", "give the shape as a literal "
                                   "or a global constant")
        if b.used_literals and (gkey not in g.literal_uses):
            # first build of a callee that read constants: later calls are
            # keyed by their values (literal_key), this one's included
            uses = tuple(sorted(b.used_literals))
            g.literal_uses[gkey] = uses
            del g.keys[gkey]
            g.keys[(gkey, "literals", tuple((p, b.literal_params.get(p)) for p in uses))] = key
        g.trees[key] = tree if g.sigs[key] is None else tree + (g.sigs[key],)
        if g.sigs[key] is None:
            ar = b.return_arities
            g.arities[key] = ar[0] if ar and all(a == ar[0] for a in ar) else None
        return key

    def device_signature(self, node, df):
        """(return descriptor, [parameter descriptors]) of a device function
        declared with a signature; None without one."""
        sigs = getattr(df, "signatures", None)
        if not sigs:
            return None
        from .. import types as ty
        from .dispatcher import _desc_for_c
        if len(sigs) > 1:
            raise self.unsupported(node, f"device function '{df.__qualname__}' has "
                                   f"{len(sigs)} signatures; give it one (or none, and it is "
                                   "specialised on the argument types at each call)")
        try:
            sig = ty.as_signature(sigs[0])
        except (TypeError, ValueError) as exc:
            raise self.typing(node, f"bad signature for device function "
                              f"'{df.__qualname__}': {exc}") from None
        if sig.return_type is None:
            return None
        params = [_desc_for_c(d) for d in sig.descriptors()]
        if len(params) != df.py_func.__code__.co_argcount:
            raise self.typing(node, f"the signature {sig} of device function "
                              f"'{df.__qualname__}' has {len(params)} parameter types for "
                              f"{df.py_func.__code__.co_argcount} parameters")
        return (_desc_for_c(sig.return_type.descriptor()), params)

    def builtin_call(self, node, b):
        line, col = self.loc(node)
        args = node.args
        if b == "pow":  # pow(x, y) is x ** y (numba); pow(x, y, mod) is not supported
            if len(args) != 2:
                raise self.unsupported(node, "pow() takes 2 arguments in kernels (no modulus)")
            return ("binary", line, col, "pow", self.expr(args[0]), self.expr(args[1]))
        if b in ("abs", "round"):
            if b == "abs" and len(args) != 1:
                raise self.typing(node, "abs() takes exactly one argument")
            if b == "round" and not 1 <= len(args) <= 2:
                raise self.typing(node, "round() takes 1 or 2 arguments")
            return ("math", line, col, b, [self.expr(a) for a in args])
        if b == "sum":
            if len(args) != 1:
                raise self.unsupported(node, "sum() takes one array here (no start)")
            return ("attr", line, col, "sum", self.expr(args[0]))
        if b in ("min", "max"):
            if len(args) == 1 and not node.keywords:  # min(a): of an array's elements
                return ("attr", line, col, b, self.expr(args[0]))
            if len(args) < 2:
                raise self.typing(node, f"{b}() takes two or more numbers, or one array")
            return ("math", line, col, b, [self.expr(a) for a in args])
        if b in ("int", "float", "bool"):
            if len(args) != 1:
                raise self.typing(node, f"{b}() takes one argument in kernels")
            target = {"int": "int64", "float": "float64", "bool": "bool"}[b]
            return ("cast", line, col, target, self.expr(args[0]))
        if b == "complex":
            if not 1 <= len(args) <= 2:
                raise self.typing(node, "complex() takes 1 or 2 arguments")
            if len(args) == 1:
                return ("cast", line, col, "complex128", self.expr(args[0]))
            # exactly (re, im) for real arguments (core/lower_math.c complex_math)
            return ("math", line, col, "cmath.complex", [self.expr(a) for a in args])
        if b == "len":
            if len(args) != 1:
                raise self.typing(node, "len() takes exactly one argument")
            v = self.expr(args[0])
            n = self.arity(v)
            if n is not None and n >= 0 and self.pure(v):
                return ("const", line, col, "weak_int", n)
            if n is not None and n >= 0:  # len(f()): f still runs (core/infer.c counts)
                return ("attr", line, col, "len", v)
            if n == -1:
                return ("attr", line, col, "ndim", v[4]) if v[0] == "attr" else \
                    ("attr", line, col, "len", v)
            return ("attr", line, col, "len", v)
        raise self.unsupported(node, f"{b}() is not supported in kernels")  # pragma: no cover

    def const_int(self, node):
        """The value of a constant integer expression, or None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and \
                not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.const_int(node.operand)
            if v is not None:
                return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _CONST_INT_OPS:
            # 32 + 2, N * 4, BLOCK // 2 ...: folded as Python does
            a, b = self.const_int(node.left), self.const_int(node.right)
            if a is None or b is None or (isinstance(node.op, ast.LShift) and not 0 <= b < 64):
                return None
            try:
                v = _CONST_INT_OPS[type(node.op)](a, b)
            except (ArithmeticError, ValueError):
                return None
            return v if isinstance(v, int) and -(1 << 63) <= v < (1 << 64) else None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
                node.value.id in self.literal_params and node.value.id not in self.slots:
            k = self.const_int(node.slice)  # shape[0] of a tuple the caller passed
            lit = self.literal_params[node.value.id]
            if k is not None and isinstance(lit, tuple) and -len(lit) <= k < len(lit):
                self.used_literals.add(node.value.id)
                return lit[k]
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):
            k = self.const_int(node.slice)  # SHAPE[0] of a global tuple
            try:
                t = self.value(node.value)
            except (UnsupportedError, TypingError):
                return None
            if k is None or not (isinstance(t, tuple) and t[0] == "tuple") or \
                    not -len(t[3]) <= k < len(t[3]):
                return None
            f = t[3][k]
            if f[0] == "const" and f[3].startswith(("weak_int", "int", "uint")):
                return f[4]
            return None
        if isinstance(node, ast.Name) and \
                type(self.literal_params.get(node.id)) is int:  # noqa: E721 (not bool)
            return self.literal_param(node)
        bound = self.const_local(node)
        if bound is not None:  # N = 100 earlier in the function
            self.const_visiting.add(node.id)
            try:
                return self.const_int(bound)
            finally:
                self.const_visiting.discard(node.id)
        if isinstance(node, (ast.Name, ast.Attribute)):
            try:
                t = self.value(node)
            except (UnsupportedError, TypingError):
                return None
            if isinstance(t, tuple) and t[0] == "const" and \
                    t[3].startswith(("weak_int", "int", "uint")):
                return t[4]
        return None

    def literal_param(self, node):
        """The constant (int or tuple of ints) the caller passed for the
        parameter `node` names, when it is one that is never assigned; else
        None. Reading it makes this tree specific to that value."""
        if isinstance(node, ast.Name) and node.id in self.literal_params and \
                node.id not in self.slots:
            self.used_literals.add(node.id)
            return self.literal_params[node.id]
        return None

    def subscript_parts(self, node):
        """(array tree, [index trees]) of an array subscript a[...]."""
        base = self.expr(node.value)
        sl = node.slice
        if isinstance(sl, ast.Slice) or (isinstance(sl, ast.Tuple) and
                                         any(isinstance(e, ast.Slice) for e in sl.elts)):
            raise self.unsupported(sl, "assigning to a slice is not supported in kernels",
                                   "loop over the elements: for i in range(...): a[i] = v")
        if isinstance(sl, ast.Tuple):
            return base, [self.expr(e) for e in sl.elts]
        idx = self.expr(sl)
        n = self.arity(idx)
        if n is None:
            return base, [idx]
        if idx[0] == "tuple":
            return base, list(idx[3])
        if n < 0:
            raise self.unsupported(sl, "indexing with a tuple of unknown length",
                                   "index with the elements: a[i, j]")
        if not self.pure(idx):
            raise self.unsupported(sl, "indexing with a computed tuple",
                                   "assign the tuple to a variable first")
        il, ic = self.loc(sl)
        return base, [("tuple_get", il, ic, idx, k) for k in range(n)]

    def slice_items(self, node):
        """The items of a[...] with at least one slice: integer trees and
        ('slice_part', ...) nodes; None when there is no slice."""
        sl = node.slice
        elts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        if not any(isinstance(e, ast.Slice) for e in elts):
            return None
        items = []
        for e in elts:
            if isinstance(e, ast.Slice):
                el, ec = self.loc(e)
                parts = [None if p is None else self.expr(p) for p in (e.lower, e.upper, e.step)]
                if e.step is not None and self.const_int(e.step) == 0:
                    raise self.typing(e.step, "slice step cannot be zero")
                items.append(("slice_part", el, ec, *parts))
            elif isinstance(e, ast.Constant) and e.value in (None, Ellipsis):
                raise self.unsupported(e, "None and ... in array indices are not supported in "
                                       "kernels", "index with integers and start:stop:step")
            else:
                items.append(self.expr(e))
        return items

    @staticmethod
    def field_name(node):
        """'x' for r['x'] (a record field by name), else None."""
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and \
                isinstance(node.slice.value, str):
            return node.slice.value
        return None

    def field(self, node):
        """The tree of r.x or r['x'] (a record field; r must be pure, since a
        field's augmented assignment reads it twice)."""
        line, col = self.loc(node)
        name = node.attr if isinstance(node, ast.Attribute) else self.field_name(node)
        base = self.expr(node.value)
        if not self.pure(base) and base[0] != "index":
            raise self.unsupported(node, "assigning to an attribute of this value is not "
                                   "supported", "record fields: r.x = v or a[i].x = v")
        return ("attr", line, col, "field:" + name, base)

    def subscript(self, node):
        line, col = self.loc(node)
        member = self.enum_member(node)  # Color['red']
        if member is not None:
            return self.const(node, member)
        if self.field_name(node) is not None:  # r['x']: a record field
            return self.field(node)
        items = self.slice_items(node)
        if items is not None:
            return ("slice", line, col, self.expr(node.value), items)
        base = self.expr(node.value)
        n = self.arity(base)
        if n is not None:  # a tuple: constant index only
            k = self.const_int(node.slice)
            if k is None:  # t[i]: inference allows it when the items have one type
                return ("index", line, col, base, [self.expr(node.slice)])
            if n >= 0 and not -n <= k < n:
                raise self.typing(node.slice, f"tuple index {k} is out of range for a tuple "
                                  f"of {n} items")
            # (f(), g())[0] still calls g(): the other items are dropped only when pure
            if base[0] == "tuple" and all(self.pure(e) for j, e in enumerate(base[3])
                                          if j != k % n):
                return base[3][k]
            return ("tuple_get", line, col, base, k)
        arr, idx = self.subscript_parts(node)
        return ("index", line, col, arr, idx)

    # -- the function --

    def build(self):
        try:
            body = self.block(self.fdef.body, self.fdef)
        except RecursionError:
            # nesting the loops above do not flatten (`- - - x`, nested
            # calls, conditional expressions ...): located at its deepest node
            depth, deepest = _deepest_node(self.fdef)
            raise self.typing(deepest, f"expressions and statements nested {depth} levels "
                              "deep, more than ember's front end can follow",
                              "split the expression with intermediate variables") from None
        # parameters that are assigned live in a slot initialised from the parameter
        pro = []
        line, col = self.loc(self.fdef)
        for i, p in enumerate(self.params):
            if p in self.slots:
                pro.append(("assign", line, col, self.slots[p], ("param", line, col, i)))
        if pro:
            body = ("block", body[1], body[2], pro + body[3])
        return ("function", self.fn.__qualname__, self.info.filename, self.is_kernel,
                list(self.params), list(self.slot_names), body)


def _deepest_node(fdef):
    """(depth, node) of the most deeply nested node under fdef (with a
    location), found without recursion."""
    best = (0, fdef)
    todo = [(fdef, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > best[0] and hasattr(node, "lineno"):
            best = (depth, node)
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return best


def _parse(fn):
    """(SourceInfo, ast.FunctionDef) of a Python function."""
    fn = inspect.unwrap(fn)
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"cuda.jit: expected a Python function, got {type(fn).__name__}")
    try:
        info, src = source_info(fn)
    except UnsupportedError:
        # exec'd text, python -c, stdin, the interpreter: from the bytecode
        from .bytecode import function_def
        info, fdef = function_def(fn)
        split_variables(fdef)
        return info, fdef
    try:
        mod = ast.parse(src)
    except SyntaxError as exc:
        raise UnsupportedError(f"cannot parse the source of {fn.__qualname__}: {exc}") from None
    fdef = _find_def(fn, info, mod)
    split_variables(fdef)   # a name reused for values that never meet: v, v.1 (_webs.py)
    return info, fdef


def _find_def(fn, info, mod):
    """The ast.FunctionDef of ``fn`` in its parsed source; a lambda becomes
    a FunctionDef that returns its expression."""
    for node in mod.body:
        if isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
            return node
    if mod.body and isinstance(mod.body[0], ast.FunctionDef):
        return mod.body[0]
    if fn.__name__ == "<lambda>":
        code = fn.__code__
        line = code.co_firstlineno - info.firstlineno + 1
        params = list(code.co_varnames[:code.co_argcount])
        found = [n for n in ast.walk(mod) if isinstance(n, ast.Lambda)
                 and n.lineno == line and [a.arg for a in n.args.args] == params]
        if len(found) == 1:
            lam = found[0]
            fdef = ast.FunctionDef(name=fn.__name__, args=lam.args,
                                   body=[ast.copy_location(ast.Return(value=lam.body), lam.body)],
                                   decorator_list=[], returns=None, type_comment=None)
            return ast.fix_missing_locations(ast.copy_location(fdef, lam))
        if len(found) > 1:
            raise UnsupportedError(
                f"{info.filename}:{code.co_firstlineno}: {len(found)} lambdas with the same "
                f"parameters on one line; ember cannot tell which one to compile "
                f"(give it a name with def)")
    raise UnsupportedError(
        f"{info.filename}:{info.firstlineno}: cannot find the definition of "
        f"{fn.__qualname__} (async functions cannot be compiled)")


def build_tree(fn, is_kernel=True, argtypes=None, jit=False, self_signature=None,
               parallel=False):
    """The tree of ``fn`` and its SourceInfo.

    ``argtypes`` (optional) are the type descriptors of the specialisation;
    they tell the lengths of tuple arguments and the dimensions of array
    arguments, which indexing with a tuple needs. Raises UnsupportedError or
    TypingError with file:line:col, the source line, a caret and a hint.
    ``jit``: the root is an @ember.jit function (not a kernel; errors name
    ember.jit). ``self_signature``: the explicit signature of that
    function, which lets it call itself."""
    fn = inspect.unwrap(fn)
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"cuda.jit: expected a Python function, got {type(fn).__name__}")
    info, fdef = _parse(fn)
    if argtypes is not None and len(argtypes) != len(fdef.args.posonlyargs + fdef.args.args):
        argtypes = None
    graph = _CallGraph()
    graph.jit = bool(jit)
    graph.root = fn
    graph.parallel = bool(parallel)
    if self_signature is not None:
        from .dispatcher import DeviceFunction
        graph.self_device = DeviceFunction(fn, self_signature)
    b = _Builder(fn, info, fdef, is_kernel, argtypes, graph)
    for p, d in zip(b.params, argtypes or ()):
        if isinstance(d, tuple) and d[0] == "function":  # a function argument: bound here
            b.static_params[p] = _Static("device", d[1], p)
    tree = b.build()
    # an ember.jit function whose every return gives a member of one Enum
    # class: Python gets the member back, not its code (_jit.py)
    classes = set(b.return_enums)
    info.returns_enum = classes.pop() if len(classes) == 1 and None not in classes and \
        b.return_enums else None
    if b.graph.trees:  # device functions: the 8th item (python/ext/compile.c)
        tree = tree + (list(b.graph.trees),)
    info.foreign = dict(b.graph.foreign)  # cuda.declare_device functions, by tree index
    return tree, info
