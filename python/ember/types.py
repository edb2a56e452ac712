"""``ember.types`` — numba-compatible type objects and signatures.

Scalar types (``float32``, ``int64``, …) make array types by slicing
(``float32[::1]`` is a C-contiguous 1-d array, ``float32[:, ::1]`` C,
``float32[::1, :]`` F, ``float32[:, :]`` any layout) and signatures by
calling (``void(float32[::1], float32)``). Every type converts to the type
descriptor the dispatcher computes from argument values (``descriptor()``):
``'float32'``, ``('array', 'float32', ndim, layout, readonly)``,
``('tuple', (...))``.

``parse_signature`` reads the same signatures from strings with a small
recursive-descent parser (never ``eval``).
"""

import numpy as np

__all__ = [
    "Type", "Scalar", "Number", "Integer", "Float", "Complex", "Boolean", "Record", "Array", "UniTuple", "Tuple", "Dispatcher", "Signature",
    "NoneType",
    "void", "none", "boolean", "bool_", "b1",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "bfloat16", "BFloat16", "complex64", "complex128",
    "intp", "uintp",
    "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
    "byte", "char", "short", "intc", "long_", "longlong", "float_", "double",
    "uchar", "ushort", "uintc", "ulong", "ulonglong", "int_", "uint", "ssize_t", "size_t",
    "CPointer", "voidptr", "from_descriptor", "parse_signature", "typeof", "from_dtype", "as_dtype",
]


class Type:
    """Base class of ember types; calling one with types makes a Signature
    (``float32(float32, int32)``); a number type called with one value on
    the host converts it, as numba's (``float32(1.1)`` is ``np.float32(1.1)``).

    A user's subclass names itself as numba's do (``super().__init__(name=
    "Point")``); with a struct model registered for it (ember.extending
    ``register_model``) it is a record type in kernels (_structmodel.py)."""

    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def __str__(self):
        return getattr(self, "name", type(self).__name__)

    def __getitem__(self, dims):  # Point[::1]: an array of a struct-model type
        from ._structmodel import struct_dtype
        struct_dtype(self)  # a TypeError unless it has a struct model
        return Scalar.__getitem__(self, dims)

    def descriptor(self):
        from ._structmodel import has_struct_model, struct_record
        if has_struct_model(self):
            return struct_record(self).descriptor()
        raise TypeError(f"{self} has no kernel argument descriptor")

    def __call__(self, *args):
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and \
                not isinstance(args[0], Type):
            args = tuple(args[0])
        elif len(args) == 1 and isinstance(self, Scalar) and not isinstance(args[0], Type):
            return self.dtype.type(args[0])
        return Signature(self, args)

    def __eq__(self, other):
        return isinstance(other, Type) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return (type(self).__name__, str(self))

    def __repr__(self):
        return str(self)


class NoneType(Type):
    """``void`` / ``none``: the return type of kernels."""

    def __str__(self):
        return "none"

    def descriptor(self):
        return "none"


class Scalar(Type):
    """A number type; ``t[:]`` etc. make array types."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(name)
        self.bitwidth = self.dtype.itemsize * 8

    def __str__(self):
        return self.name

    def descriptor(self):
        return self.name

    @property
    def underlying_float(self):
        """A complex type's part type (numba's ``Complex.underlying_float``):
        float32 for complex64, float64 for complex128."""
        if self.dtype.kind != "c":
            raise AttributeError(f"{self} is not a complex type: it has no underlying_float")
        return float32 if self.name == "complex64" else float64

    def _key(self):
        return ("scalar", self.name)

    def __getitem__(self, dims):
        if not isinstance(dims, tuple):
            dims = (dims,)
        for d in dims:
            if not isinstance(d, slice) or d.start is not None or d.stop is not None or \
                    d.step not in (None, 1):
                raise TypeError(f"{self}[...]: each dimension must be ':' or '::1', "
                                f"not {d!r}")
        steps = [d.step for d in dims]
        return Array(self, len(dims), _layout_of(steps, str(self)))


class Number(Scalar):
    """A number type (numba's ``types.Number``)."""


class Integer(Number):
    """int8 ... uint64 (numba's ``types.Integer``): ``signed``, ``bitwidth``."""

    @property
    def signed(self):
        return self.dtype.kind == "i"


class Float(Number):
    """float16, float32, float64 (numba's ``types.Float``)."""


class Complex(Number):
    """complex64, complex128 (numba's ``types.Complex``)."""


class Boolean(Scalar):
    """bool (numba's ``types.Boolean``)."""


class BFloat16(Type):
    """bfloat16 (numba-cuda's ``cuda.bf16.bfloat16``): a type of kernel
    values only. ``bfloat16(x)`` in a kernel rounds x to it (nearest, ties to
    even); its arithmetic rounds each result to bfloat16. NumPy has no
    bfloat16 dtype, so there are no arrays of it: kernels read and write
    int16 / uint16 arrays through ``cuda.bf16.int16_as_bfloat16`` and
    ``bfloat16_as_int16`` (the same 16 bits)."""

    name = "bfloat16"
    bitwidth = 16

    def descriptor(self):
        return "bfloat16"

    def _key(self):
        return ("scalar", "bfloat16")

    def __getitem__(self, dims):
        raise TypeError("there are no arrays of bfloat16 (NumPy has no bfloat16 dtype): use "
                        "an int16 or uint16 array with cuda.bf16.int16_as_bfloat16 / "
                        "bfloat16_as_int16")

    def __call__(self, *args):
        if all(isinstance(a, Type) for a in args) or \
                (len(args) == 1 and isinstance(args[0], (list, tuple))):
            return super().__call__(*args)  # a signature: bfloat16(bfloat16, bfloat16)
        raise TypeError("bfloat16(x) converts values only in kernels and device functions: "
                        "NumPy has no bfloat16 type on the host")


class Record(Type):
    """A NumPy structured dtype's element (numba's ``types.Record``):
    ``from_dtype(np.dtype([('x', 'f8'), ('n', 'i4')]))``; ``rec[:]`` makes
    an array type. In kernels a record is a reference into its array."""

    def __init__(self, dtype, _desc=None):
        from ._compiler.dispatcher import _record_desc
        self.dtype = np.dtype(dtype)
        self._desc = _desc or _record_desc(self.dtype, "Record")
        self.name = str(self)

    @property
    def fields(self):
        units = {"unichr": uint32, "char": uint8}  # a string: its code units
        return {name: (_SCALARS[t] if not shape else
                       Array(units.get(t) or _SCALARS[t], len(shape), "C"), off)
                for name, t, off, shape in self._desc[1]}

    @property
    def size(self):
        return self.dtype.itemsize

    def __str__(self):
        from ._compiler.dispatcher import _desc_str
        return _desc_str(self._desc)

    def descriptor(self):
        return self._desc

    def _key(self):
        return self._desc

    __getitem__ = Scalar.__getitem__


class _Bool(Boolean):
    def __init__(self):
        self.name = "bool"
        self.dtype = np.dtype(np.bool_)
        self.bitwidth = 8

    def __str__(self):
        return "bool"


def _layout_of(steps, what):
    """Layout from the per-dimension steps (1 for '::1', None for ':')."""
    n = len(steps)
    ones = [i for i, s in enumerate(steps) if s == 1]
    if not ones:
        return "A"
    if ones == [n - 1]:
        return "C"
    if ones == [0]:
        return "F"
    raise TypeError(f"{what}[...]: '::1' may mark only the last dimension (C layout) or "
                    f"the first (F layout)")


class Array(Type):
    """``Array(dtype, ndim, layout, readonly=False)``, as numba's types.Array."""

    def __init__(self, dtype, ndim, layout="A", readonly=False):
        if isinstance(dtype, str):
            dtype = _SCALARS[dtype]
        if not isinstance(dtype, (Scalar, Record)):
            from ._structmodel import has_struct_model
            if not has_struct_model(dtype):
                raise TypeError(f"Array: dtype must be a scalar or record type, or a type "
                                f"with a struct model, not {dtype!r}")
        if not isinstance(ndim, int) or ndim < 1:
            raise TypeError(f"Array: ndim must be an int >= 1, not {ndim!r}")
        if layout not in ("C", "F", "A"):
            raise TypeError(f"Array: layout must be 'C', 'F' or 'A', not {layout!r}")
        self.dtype, self.ndim, self.layout = dtype, ndim, layout
        self.readonly = bool(readonly)
        self.mutable = not self.readonly

    def descriptor(self):
        return ("array", self.dtype.descriptor(), self.ndim, self.layout, self.readonly)

    def _key(self):
        return self.descriptor()

    def copy(self, dtype=None, ndim=None, layout=None, readonly=None):
        return Array(self.dtype if dtype is None else dtype,
                     self.ndim if ndim is None else ndim,
                     self.layout if layout is None else layout,
                     self.readonly if readonly is None else readonly)

    def __str__(self):
        dims = ", ".join("::1" if (self.layout == "C" and i == self.ndim - 1) or
                         (self.layout == "F" and i == 0 and self.ndim > 1) or
                         (self.layout == "F" and self.ndim == 1) else ":"
                         for i in range(self.ndim))
        return ("readonly " if self.readonly else "") + f"{self.dtype}[{dims}]"


class Tuple(Type):
    """A heterogeneous tuple type, ``Tuple([int64, float32])``."""

    def __init__(self, types):
        self.types = tuple(types)
        for t in self.types:
            if not isinstance(t, Type) or isinstance(t, NoneType):
                raise TypeError(f"Tuple: items must be ember types, not {t!r}")

    def descriptor(self):
        return ("tuple", tuple(t.descriptor() for t in self.types))

    def _key(self):
        return self.descriptor()

    def __len__(self):
        return len(self.types)

    def __iter__(self):
        return iter(self.types)

    def __getitem__(self, i):
        return self.types[i]

    def __str__(self):
        inner = ", ".join(str(t) for t in self.types)
        return f"Tuple({inner})"


class UniTuple(Tuple):
    """``UniTuple(dtype, count)``: a tuple of ``count`` items of one type."""

    def __init__(self, dtype, count):
        if not isinstance(count, int) or count < 0:
            raise TypeError(f"UniTuple: count must be an int >= 0, not {count!r}")
        super().__init__((dtype,) * count)
        self.dtype, self.count = dtype, count

    def __str__(self):
        return f"UniTuple({self.dtype} x {self.count})"


class CPointer(Type):
    """``CPointer(float32)``: a C pointer, for the parameters of foreign
    functions (cuda.declare_device). A kernel passes an array of that
    element type there, and the foreign code gets its data pointer."""

    def __init__(self, dtype):
        if not isinstance(dtype, Scalar):
            raise TypeError(f"CPointer: the pointee must be a number type, not {dtype!r}")
        self.dtype = dtype

    def __str__(self):
        return f"CPointer({self.dtype})"


class VoidPointer(Type):
    """``voidptr``: an untyped C pointer (any array's data) for foreign functions."""

    def __str__(self):
        return "voidptr"


class Dispatcher(Type):
    """The type of a device function or @ember.jit function passed as an
    argument (numba's ``types.Dispatcher``): the function itself, a
    compile-time constant; each function is a type of its own."""

    def __init__(self, function):
        self.function = function  # the DeviceFunction the argument stands for

    def descriptor(self):
        return ("function", self.function)

    def _key(self):
        return ("function", id(self.function))

    def __str__(self):
        return f"Dispatcher({self.function.__qualname__})"


class Signature:
    """A function signature: return type and argument types, as numba's."""

    def __init__(self, return_type, args):
        if return_type is not None and not isinstance(return_type, Type):
            raise TypeError(f"signature: return type must be an ember type, "
                            f"not {return_type!r}")
        args = tuple(args)
        for i, a in enumerate(args):
            if not isinstance(a, Type) or isinstance(a, NoneType):
                raise TypeError(f"signature: argument {i + 1} must be an ember type, "
                                f"not {a!r}")
        self.return_type, self.args = return_type, args

    def descriptors(self):
        """The argument descriptors: the dispatcher's specialisation key."""
        return tuple(a.descriptor() for a in self.args)

    def __eq__(self, other):
        return isinstance(other, Signature) and \
            (self.return_type, self.args) == (other.return_type, other.args)

    def __hash__(self):
        return hash((self.return_type, self.args))

    def __str__(self):
        inner = ", ".join(str(a) for a in self.args)
        if self.return_type is None:
            return f"({inner})"
        return f"{self.return_type}({inner})"

    __repr__ = __str__


# ---------------------------------------------------------------------------
# The type objects
# ---------------------------------------------------------------------------

void = none = NoneType()
boolean = bool_ = b1 = _Bool()
int8, int16, int32, int64 = (Integer(f"int{n}") for n in (8, 16, 32, 64))
uint8, uint16, uint32, uint64 = (Integer(f"uint{n}") for n in (8, 16, 32, 64))
float16, float32, float64 = Float("float16"), Float("float32"), Float("float64")
f2 = float16
bfloat16 = BFloat16()
complex64, complex128 = Complex("complex64"), Complex("complex128")
intp, uintp = int64, uint64
i1, i2, i4, i8 = int8, int16, int32, int64
u1, u2, u4, u8 = uint8, uint16, uint32, uint64
f4, f8, c8, c16 = float32, float64, complex64, complex128
# C's names, with the sizes numba gives them (LP64)
byte, char, short, intc, long_, longlong = uint8, int8, int16, int32, int64, int64
uchar, ushort, uintc, ulong, ulonglong = uint8, uint16, uint32, uint64, uint64
int_, uint, ssize_t, size_t = int64, uint64, int64, uint64
float_, double = float32, float64
voidptr = VoidPointer()

_SCALARS = {
    "bool": boolean, "boolean": boolean, "bool_": boolean, "b1": boolean,
    "int8": int8, "int16": int16, "int32": int32, "int64": int64,
    "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
    "float16": float16, "float32": float32, "float64": float64, "complex64": complex64,
    "complex128": complex128, "intp": intp, "uintp": uintp,
    "i1": i1, "i2": i2, "i4": i4, "i8": i8, "u1": u1, "u2": u2, "u4": u4, "u8": u8,
    "f2": f2, "f4": f4, "f8": f8, "c8": c8, "c16": c16,
    "byte": byte, "char": char, "short": short, "intc": intc, "long_": long_,
    "longlong": longlong, "float_": float_, "double": double,
}
_NAMED = dict(_SCALARS, void=void, none=none, bfloat16=bfloat16)


def from_descriptor(d):
    """The type object of a dispatcher type descriptor."""
    if isinstance(d, str):
        return none if d == "none" else bfloat16 if d == "bfloat16" else _SCALARS[d]
    if d[0] == "enum":  # an Enum member: its int64 code
        return _SCALARS[d[2]]
    if d[0] == "record":
        return Record(np.dtype({"names": [f[0] for f in d[1]],
                                "formats": [(np.dtype(f[1]), f[3]) if f[3] else f[1]
                                            for f in d[1]],
                                "offsets": [f[2] for f in d[1]], "itemsize": d[2]}), d)
    if d[0] == "array":
        _, dt, ndim, layout, ro = d
        return Array(from_descriptor(dt), ndim, layout, ro)
    if d[0] == "tuple":
        return Tuple([from_descriptor(x) for x in d[1]])
    if d[0] == "function":
        return Dispatcher(d[1])
    raise TypeError(f"not a type descriptor: {d!r}")


def from_dtype(dtype):
    """The ember type of a NumPy dtype (or scalar class), as numba's
    ``numpy_support.from_dtype``: ``from_dtype(np.float32)`` is ``float32``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"from_dtype: {dtype!r} is not a NumPy dtype") from None
    if dt.fields is not None:
        return Record(dt)
    if dt.kind in "US":  # a NumPy string: numba's [unichr x n], [char x n]
        from ._compiler.dispatcher import _chars_desc
        return Record(dt, _chars_desc(dt, "from_dtype"))
    name = "bool" if dt.kind == "b" else dt.name
    if not dt.isnative or name not in _SCALARS:
        raise TypeError(f"from_dtype: ember has no type for the dtype {dt!r} "
                        "(native bool, integer, float and complex dtypes are supported)")
    return _SCALARS[name]


def as_dtype(ty):
    """The NumPy dtype of an ember type, as numba's ``numpy_support.as_dtype``:
    ``as_dtype(float32)`` is ``np.dtype('float32')``."""
    if isinstance(ty, Scalar):
        return ty.dtype
    if isinstance(ty, Array):
        return ty.dtype.dtype
    raise TypeError(f"as_dtype: {ty!r} has no NumPy dtype (number types and arrays have one)")


def typeof(value):
    """The ember type of a value, as ``numba.typeof``."""
    from ._compiler.dispatcher import typeof as _typeof
    return from_descriptor(_typeof(value, "typeof"))


# ---------------------------------------------------------------------------
# Signature strings: a recursive-descent parser
#
#   signature := [type] '(' [type {',' type} [',']] ')'
#   type      := NAME ['[' dim {',' dim} ']']
#              | ('UniTuple') '(' type ',' INT ')'
#              | ('Tuple') '(' [type {',' type}] ')'
#              | '(' [type {',' type} [',']] ')'          (a tuple type)
#   dim       := ':' | '::' '1'
# ---------------------------------------------------------------------------

class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = self._lex(text)
        self.i = 0

    def _lex(self, s):
        toks = []
        i = 0
        while i < len(s):
            c = s[i]
            if c.isspace():
                i += 1
            elif c.isalpha() or c == "_":
                j = i
                while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                    j += 1
                toks.append(("name", s[i:j], i))
                i = j
            elif c.isdigit():
                j = i
                while j < len(s) and s[j].isdigit():
                    j += 1
                toks.append(("int", s[i:j], i))
                i = j
            elif s.startswith("::", i):
                toks.append(("op", "::", i))
                i += 2
            elif c in "()[],:":
                toks.append(("op", c, i))
                i += 1
            else:
                self.fail(i, f"unexpected character {c!r}")
        toks.append(("end", "", len(s)))
        return toks

    def fail(self, pos, msg):
        raise TypeError(f"bad signature {self.text!r}: at position {pos}: {msg}\n"
                        f"    {self.text}\n    {' ' * pos}^")

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, value, what=None):
        t = self.take()
        if t[1] != value or t[0] == "end":
            self.fail(t[2], f"expected {what or repr(value)}, found "
                      f"{_tokdesc(t)}")
        return t

    def signature(self):
        ret = None
        if self.peek()[1] != "(":
            ret = self.type(allow_void=True)
        if self.peek()[1] != "(":
            t = self.peek()
            self.fail(t[2], f"expected '(' starting the argument types, found {_tokdesc(t)}")
        args = self.type_list()
        t = self.peek()
        if t[0] != "end":
            self.fail(t[2], f"expected the end of the signature, found {_tokdesc(t)}")
        return Signature(ret, args)

    def type_list(self):
        self.expect("(")
        items = []
        while self.peek()[1] != ")":
            items.append(self.type())
            t = self.peek()
            if t[1] == ",":
                self.take()
            elif t[1] != ")":
                self.fail(t[2], f"expected ',' or ')', found {_tokdesc(t)}")
        self.take()
        return items

    def type(self, allow_void=False):
        t = self.peek()
        if t[1] == "(" and t[0] == "op":
            items = self.type_list()
            if not items:
                self.fail(t[2], "expected a type, found an empty tuple '()'")
            return Tuple(items)
        if t[0] != "name":
            self.fail(t[2], f"expected a type name, found {_tokdesc(t)}")
        self.take()
        name = t[1]
        if name == "UniTuple":
            self.expect("(")
            item = self.type()
            self.expect(",")
            n = self.take()
            if n[0] != "int":
                self.fail(n[2], f"expected the tuple length (an integer), found {_tokdesc(n)}")
            self.expect(")")
            return UniTuple(item, int(n[1]))
        if name == "Tuple":
            items = self.type_list()
            return Tuple(items)
        if name == "CPointer":
            self.expect("(")
            inner = self.type()
            self.expect(")")
            if not isinstance(inner, Scalar):
                self.fail(t[2], f"CPointer takes a number type, not {inner}")
            return CPointer(inner)
        if name == "voidptr":
            return voidptr
        if name not in _NAMED:
            self.fail(t[2], f"expected a type name (float32, int64, f4, ...), found "
                      f"unknown name {name!r}")
        ty = _NAMED[name]
        if isinstance(ty, NoneType):
            if not allow_void:
                self.fail(t[2], f"expected an argument type, found {name!r} (only a return "
                          "type may be void)")
            return ty
        if self.peek()[1] == "[":
            open_tok = self.take()
            steps = []
            while True:
                d = self.take()
                if d[1] == ":":
                    steps.append(None)
                elif d[1] == "::":
                    one = self.take()
                    if one[1] != "1":
                        self.fail(one[2], f"expected '1' after '::', found {_tokdesc(one)}")
                    steps.append(1)
                else:
                    self.fail(d[2], f"expected ':' or '::1', found {_tokdesc(d)}")
                sep = self.take()
                if sep[1] == "]":
                    break
                if sep[1] != ",":
                    self.fail(sep[2], f"expected ',' or ']', found {_tokdesc(sep)}")
            try:
                layout = _layout_of(steps, name)
            except TypeError as exc:
                self.fail(open_tok[2], str(exc))
            ty = Array(ty, len(steps), layout)
        return ty


def _tokdesc(t):
    return "the end of the text" if t[0] == "end" else repr(t[1])


def parse_signature(text):
    """A Signature from a string such as ``"void(float32[::1], float32)"``."""
    if not isinstance(text, str):
        raise TypeError(f"parse_signature: expected a str, not {type(text).__name__}")
    return _Parser(text).signature()


def as_signature(sig):
    """A Signature from a string, a Signature, or a tuple of argument types."""
    if isinstance(sig, Signature):
        return sig
    if isinstance(sig, str):
        return parse_signature(sig)
    if isinstance(sig, (tuple, list)) and all(isinstance(a, Type) for a in sig):
        return Signature(None, tuple(sig))  # argument types (compile_ptx(f, [float16]))
    raise TypeError(f"cuda.jit: a signature must be a string such as "
                    f"'void(float32[::1], float32)', a signature object such as "
                    f"void(float32[::1], float32), or a tuple of types; not {sig!r}")
